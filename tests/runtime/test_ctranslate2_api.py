"""The Python API where a CTranslate2 user expects it: token lists in and out, per-call
settings, scores that rank, asynchronous calls, a closed translator, lazy iteration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s2s_batch.runtime.errors import ClosedError
from s2s_batch.runtime.search.options import DecodingOptions, penalize_repeats
from s2s_batch.runtime.translator import Translator


@pytest.fixture(scope="module")
def translator(bundle):
    return Translator(bundle("gru", False, "additive"), threads=1, split_sentences=False)


def test_token_lists_in_give_token_lists_out(translator, toy_sentences):
    lines = toy_sentences[:8]
    as_text = translator.translate_batch(lines, beam_size=2, num_hypotheses=2)
    tokens = [translator.src_tokenizer.encode(line) for line in lines]
    as_tokens = translator.translate_batch(tokens, beam_size=2, num_hypotheses=2)
    for text, tok in zip(as_text, as_tokens):
        assert tok.hypotheses == tok.tokens == text.tokens  # CTranslate2's layout: pieces
        assert all(isinstance(h, list) for h in tok.hypotheses)
    with pytest.raises(TypeError, match="not a string"):
        translator.translate_batch([tokens[0], lines[1]])
    with pytest.raises(TypeError, match="token list"):
        translator.translate_batch([["a", 3]])


def test_per_call_batch_type_and_input_length(translator, toy_sentences):
    plain = translator.translate_ids(toy_sentences)
    assert translator.translate_ids(toy_sentences, batch_type="tokens", max_batch_size=40) == plain
    long_line = toy_sentences[-2]
    cropped = translator.translate_batch([long_line], max_input_length=3)[0]
    whole = translator.translate_batch([long_line])[0]
    assert cropped.cropped and not whole.cropped
    assert translator.translate_batch([long_line], max_input_length=0)[0].hypotheses == whole.hypotheses
    with pytest.raises(ValueError, match="batch_type"):
        translator.translate_batch(["x"], batch_type="lines")


def test_beam_scores_are_the_ones_that_rank(translator, toy_sentences):
    lines = toy_sentences[:10]
    by_penalty = {alpha: translator.translate_batch(lines, beam_size=3, num_hypotheses=3, return_scores=True,
                                                    length_penalty=alpha) for alpha in (0.0, 2.0)}
    for alpha, results in by_penalty.items():
        for r in results:
            assert r.scores == sorted(r.scores, reverse=True)
            for score, steps in zip(r.scores, r.token_scores):
                assert score == pytest.approx(sum(steps) / len(steps) ** alpha, abs=1e-4)
    assert [r.scores for r in by_penalty[0.0]] != [r.scores for r in by_penalty[2.0]]
    greedy = translator.translate_batch(lines, return_scores=True, length_penalty=2.0)
    assert all(r.scores[0] == pytest.approx(sum(r.token_scores[0]), abs=1e-5) for r in greedy)


def test_score_batch_takes_tokens_and_ends_with_the_end_token(translator, toy_sentences):
    lines = toy_sentences[:4]
    best = translator.translate_batch(lines, return_scores=True)
    by_text = translator.score_batch(lines, [r.best for r in best])
    by_tokens = translator.score_batch([translator.src_tokenizer.encode(x) for x in lines],
                                       [r.tokens[0] for r in best])
    for r, text, tok in zip(best, by_text, by_tokens):
        assert tok.tokens == text.tokens == r.tokens[0] + ["<eos>"]  # CTranslate2: the pieces, then </s>
        assert tok.log_probs == pytest.approx(r.token_scores[0], abs=1e-4)


def test_asynchronous_results_come_as_futures(translator, toy_sentences):
    lines = toy_sentences[:12]
    pending = translator.translate_batch(lines, beam_size=2, asynchronous=True)
    assert len(pending) == len(lines)
    got = [p.result().hypotheses for p in pending]
    assert all(p.done() for p in pending)
    assert got == [r.hypotheses for r in translator.translate_batch(lines, beam_size=2)]
    with pytest.raises(ValueError, match="beam_size"):  # bad options fail at the call, not later
        translator.translate_batch(lines, beam_size=0, asynchronous=True)


def test_an_asynchronous_call_hands_back_its_error(bundle, monkeypatch):
    translator = Translator(bundle(), threads=1)

    def broken(*args):
        raise MemoryError("out of memory in the search")

    monkeypatch.setattr(translator, "_results", broken)
    pending = translator.translate_batch(["a", "b"], asynchronous=True)
    for p in pending:
        with pytest.raises(MemoryError, match="search"):
            p.result()


def test_a_closed_translator_says_so(bundle):
    translator = Translator(bundle(), threads=1)
    translator.close()
    for call in (lambda: translator.translate_batch(["x"]), lambda: translator.score_batch(["x"], ["y"]),
                 lambda: next(translator.translate_iterable(["x"])), lambda: translator.translate_ids(["x"])):
        with pytest.raises(ClosedError, match="closed"):
            call()
    translator.close()  # twice is harmless


def test_translate_iterable_reads_one_batch_ahead(bundle, toy_sentences):
    translator = Translator(bundle(), threads=1, batch_size=4)
    taken = []

    def lines():
        for line in itertools.cycle(toy_sentences[:9]):
            taken.append(line)
            yield line

    first = next(translator.translate_iterable(lines()))
    assert first.best == translator.translate_lines(toy_sentences[:1])[0]
    assert len(taken) <= 4 + 1  # one batch, and the line that showed the batch was full
    prefixed = translator.translate_iterable(iter(toy_sentences[:3]), iter(["la", None, "le"]))
    assert [r.tokens[0][0] for r in prefixed][::2] == ["la", "le"]


def test_the_repetition_penalty_is_ctranslate2s():
    logits = np.array([[2.0, -1.0, 0.5, 3.0]], dtype=np.float32)
    penalize_repeats(logits, [[0, 1, 1]], 2.0)
    assert logits.tolist() == [[1.0, -2.0, 0.5, 3.0]]
    with pytest.raises(ValueError, match="repetition_penalty must be a number > 0"):
        DecodingOptions(repetition_penalty=0.0)
