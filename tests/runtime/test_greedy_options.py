"""Greedy search honours --min-len and --no-repeat-ngram, as beam search and sampling do
(it used to drop both: issue 30)."""

from __future__ import annotations

from s2s_batch.runtime.translator import Translator, default_bundle_dir

LINES = ["I'm home.", "He's calm.", "It's raining.", "Where is the station?",
         "I think I think I think I think I think I think."]


def _bigrams(ids: list[int]) -> list[tuple[int, int]]:
    return list(zip(ids, ids[1:]))


def test_greedy_min_len_and_no_repeat_ngram():
    translator = Translator(default_bundle_dir(), threads=1, split_sentences=False)
    plain = translator.translate_ids(LINES)
    assert min(map(len, plain)) < 10
    longer = translator.translate_ids(LINES, min_decoding_length=10)
    assert all(len(ids) >= 10 for ids in longer)
    # a row that already writes 10 tokens or more is not changed by it
    assert all(a == b for a, b in zip(plain, longer) if len(a) >= 10)
    repeats = [ids for ids in plain if len(set(_bigrams(ids))) < len(_bigrams(ids))]
    assert repeats  # the repeated clause repeats in plain greedy search
    once = translator.translate_ids(LINES, no_repeat_ngram_size=2)
    assert all(len(set(_bigrams(ids))) == len(_bigrams(ids)) for ids in once)
    assert once != plain
    # with scores (the logits path anyway) the same tokens
    scored = translator.translate_batch(LINES, min_decoding_length=10, return_scores=True)
    assert [r.ids[0] for r in scored] == longer
