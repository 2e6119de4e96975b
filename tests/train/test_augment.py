"""train/augment.py: names and numbers swapped identically on both sides, joined lines,
and each epoch's draw fixed by the seed."""

import random
import re

import pytest

from s2s_batch.train.augment import (
    Augmenter,
    AugmentRates,
    corpus_names,
    latin_name,
    name_pool,
    random_number,
)

PAIRS = [
    ("Tom is here.", "Tom est ici."),
    ("I saw Tom and Mary.", "J'ai vu Tom et Mary."),
    ("Mary likes Tom.", "Mary aime Tom."),
    ("Ask Tom.", "Demande à Tom."),
    ("Mary left.", "Mary est partie."),
    ("I live in Boston.", "Je vis à Boston."),
    ("Boston is big.", "Boston est grande."),
    ("We went to Boston.", "Nous sommes allés à Boston."),
    ("It is English.", "C'est anglais."),
    ("I have two cats.", "J'ai deux chats."),
    ("I'm 19.", "J'ai 19 ans."),
    ("It's 8:30.", "Il est 8 h 30."),
    ("the cat.", "le chat."),
]


def test_corpus_names_are_capitalised_words_the_french_repeats():
    # Counted away from the sentence's first word: Tom 3 times, Boston 2, Mary once.
    assert corpus_names(PAIRS, min_count=2) == ["Tom", "Boston"]
    assert corpus_names(PAIRS, min_count=1) == ["Tom", "Boston", "Mary"]  # not English, nor It


def test_name_pool_is_latin_and_filtered():
    pool = name_pool(size=200, allowed=lambda name: "a" in name)
    assert len(pool) == 200 and len(set(pool)) == 200
    assert all(latin_name(n) and "a" in n for n in pool)
    assert not latin_name("Ivan Иванов") and not latin_name("Dr. Smith") and latin_name("Zoë d'Arc")


def test_names_are_swapped_the_same_on_both_sides():
    augmenter = Augmenter(["Tom", "Mary"], ["Elizabeth Warren"], AugmentRates(names=1.0))
    en, fr = augmenter.swap_names("I saw Tom and Mary.", "J'ai vu Tom et Mary.", random.Random(0))
    assert (en, fr) == ("I saw Elizabeth Warren and Elizabeth Warren.",
                        "J'ai vu Elizabeth Warren et Elizabeth Warren.")
    # A name the French does not hold as often is left alone.
    assert augmenter.swap_names("Tom's dog.", "Le chien.", random.Random(0)) == ("Tom's dog.", "Le chien.")
    assert augmenter.swap_names("Tomorrow.", "Demain.", random.Random(0)) == ("Tomorrow.", "Demain.")


@pytest.mark.parametrize("seed", range(40))
def test_random_numbers_are_written_as_each_language_writes_them(seed):
    en, fr = random_number(random.Random(seed))
    if ":" in en:
        hour, minute = en.split(":")
        assert fr == f"{hour} h {minute}"
    elif "," in en:  # thousands
        assert fr == en.replace(",", " ") and re.fullmatch(r"\d{1,3}(,\d{3})+", en)
    elif "." in en:  # a decimal
        assert fr == en.replace(".", ",")
    else:
        assert fr == en and en.isdigit()


def test_numbers_are_swapped_in_digits_and_words():
    augmenter = Augmenter([], [], AugmentRates(numbers=1.0))
    rng = random.Random(3)
    en, fr = augmenter.swap_numbers("I'm 19.", "J'ai 19 ans.", rng)
    assert "19" not in en and re.search(r"\d", en)
    assert fr.startswith("J'ai ") and fr.endswith(" ans.")
    en, fr = augmenter.swap_numbers("I have two cats.", "J'ai deux chats.", rng)
    assert "two" not in en and "deux" not in fr and re.search(r"\d", en) and re.search(r"\d", fr)
    en, fr = augmenter.swap_numbers("It's 8:30.", "Il est 8 h 30.", rng)
    hour, minute = re.search(r"(\d+):(\d+)", en).groups()
    assert fr == f"Il est {hour} h {minute}."
    assert augmenter.swap_numbers("the cat.", "le chat.", rng) == ("the cat.", "le chat.")


def test_epoch_pairs_are_fixed_by_seed_and_epoch_and_join_lines():
    augmenter = Augmenter(corpus_names(PAIRS, min_count=2), name_pool(size=50),
                          AugmentRates(names=1.0, numbers=1.0, concat=0.5))
    first = augmenter.epoch_pairs(PAIRS, seed=0, epoch=0)
    assert first == augmenter.epoch_pairs(PAIRS, seed=0, epoch=0)
    assert first != augmenter.epoch_pairs(PAIRS, seed=0, epoch=1)
    assert len(first) == len(PAIRS) + round(len(PAIRS) * 0.5)
    assert first[len(PAIRS) - 1] == PAIRS[-1]  # nothing to change
    assert "Tom" not in first[0][0] and first[0][0].split()[-2:] == ["is", "here."]
    for en, fr in first[len(PAIRS):]:  # joined: 2-3 sentences on each side
        assert 2 <= en.count(".") + en.count("?") <= 6 and len(en) > 10 and len(fr) > 10


def test_no_augmentation_when_every_rate_is_zero():
    assert not AugmentRates().any
    augmenter = Augmenter(["Tom"], ["Zed"], AugmentRates())
    assert augmenter.epoch_pairs(PAIRS, 0, 0) == PAIRS


def test_the_name_pool_does_not_depend_on_the_hash_seed():
    import os
    import subprocess
    import sys

    code = "from s2s_batch.train.augment import name_pool; print('|'.join(name_pool(size=3000)))"
    pools = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(pools) == 1 and pools.pop().count("|") == 2999


def test_augmentation_needs_subwords_and_no_curriculum():
    from s2s_batch.train.trainer import augmenter_for
    from tests.toy import tiny_config

    with pytest.raises(ValueError, match="sentencepiece"):
        augmenter_for(tiny_config(tokenizer="word", augment_names=0.5), None)
    with pytest.raises(ValueError, match="curriculum"):
        augmenter_for(tiny_config(tokenizer="sentencepiece", augment_concat=0.1, curriculum="length"), None)
    assert augmenter_for(tiny_config(tokenizer="word"), None) is None
