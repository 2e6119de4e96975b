"""The library API beyond translate_batch: scoring, lazy iteration, and closing."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli import main
from s2s_batch.runtime.translator import Translator


@pytest.mark.parametrize("attention", ["none", "general+after"])
def test_the_score_of_a_greedy_translation_is_its_own_greedy_score(bundle, toy_sentences, attention):
    translator = Translator(bundle("gru", False, attention), threads=1, split_sentences=False)
    lines = toy_sentences[:40]
    greedy = translator.translate(lines, return_scores=True)
    scored = translator.score_batch(lines, [r.best for r in greedy])
    for result, score in zip(greedy, scored):
        assert score.score == pytest.approx(result.scores[0], abs=1e-4)
        assert score.log_probs == pytest.approx(result.token_scores[0], abs=1e-4)
        assert score.tokens[-1] == "<eos>" and len(score.tokens) == len(result.ids[0]) + 1


def test_a_worse_translation_scores_lower_and_blank_pairs_score_zero(bundle):
    translator = Translator(bundle(), threads=1)
    best = translator.translate_batch(["I see the dog."])[0]
    good, shuffled, blank = translator.score_batch(["I see the dog."] * 2 + [""],
                                                   [best, " ".join(reversed(best.split())), "x"])
    assert good.score > shuffled.score and blank.score == 0.0 and blank.tokens == []
    with pytest.raises(ValueError, match="one target per source"):
        translator.score_batch(["a", "b"], ["a"])


def test_translate_iterable_yields_in_order_from_an_endless_stream(bundle, toy_sentences):
    translator = Translator(bundle(), threads=1)
    endless = itertools.cycle(toy_sentences[:7])
    got = [r.best for r in itertools.islice(translator.translate_iterable(endless, chunk_lines=5), 23)]
    assert got == translator.translate_batch([toy_sentences[i % 7] for i in range(23)])
    with pytest.raises(TypeError, match="not one string"):
        next(translator.translate_iterable("I see the dog."))


def test_a_translator_closes_as_a_context_manager(bundle):
    with Translator(bundle(), threads=2, inter_threads=2) as translator:
        translator.translate_batch(["I see the dog.", "We eat a big cat.", "He has a car."])
        assert translator._executor is not None
    assert translator._executor is None


def test_score_command_writes_a_score_per_line(bundle, tmp_path):
    src, tgt = tmp_path / "src.txt", tmp_path / "tgt.txt"
    src.write_text("I see the dog.\n\nWe eat a big cat.\n")
    tgt.write_text("je vois le chien .\n\nnous mangeons un grand chat .\n")
    result = CliRunner().invoke(main, ["score", str(src), str(tgt), "--bundle", str(bundle()),
                                       "--output-format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[1] == {"score": 0.0, "tokens": [], "log_probs": []}
    assert rows[0]["score"] < 0 and rows[0]["tokens"][-1] == "<eos>"
    tgt.write_text("one line only\n")
    short = CliRunner().invoke(main, ["score", str(src), str(tgt), "--bundle", str(bundle())])
    assert short.exit_code == 3 and "give one target line per source line" in short.stderr
