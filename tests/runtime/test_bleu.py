"""The seed's BLEU against hand computation, and corpus BLEU through sacreBLEU."""

import math

import pytest

from s2s_batch.runtime.bleu import corpus_bleu, mean_seed_bleu, references_to_streams, seed_bleu


def test_seed_bleu_perfect_match_is_one():
    assert seed_bleu("il est calme .", "il est calme .", 2) == pytest.approx(1.0)


def test_seed_bleu_hand_computed():
    # pred: "a b c d", label: "a b e d e"
    # brevity: exp(1 - 5/4); p1 = 3/4 (a, b, d); p2 = 1/3 (ab; bc, cd unmatched)
    expected = math.exp(1 - 5 / 4) * (3 / 4) ** 0.5 * (1 / 3) ** 0.25
    assert seed_bleu("a b c d", "a b e d e", 2) == pytest.approx(expected)


def test_seed_bleu_clips_repeated_ngrams_and_longer_prediction_has_no_penalty():
    # pred "a a a", label "a b": p1 = 1/3 (clipped), p2 = 0/2 → 0
    assert seed_bleu("a a a", "a b", 1) == pytest.approx((1 / 3) ** 0.5)
    assert seed_bleu("a a a", "a b", 2) == 0.0


def test_seed_bleu_is_undefined_for_too_short_predictions_as_in_the_seed():
    with pytest.raises(ZeroDivisionError):
        seed_bleu("a", "a b", 2)


def test_mean_seed_bleu_takes_best_reference_and_scores_undefined_as_zero():
    hyps = ["a b c", "x"]
    refs = references_to_streams([["z z z", "a b c"], ["x y"]])
    assert mean_seed_bleu(hyps, refs, k=2) == pytest.approx((1.0 + 0.0) / 2)


def test_corpus_bleu_multi_reference():
    hyps = ["the cat sat on the mat", "hello there general kenobi"]
    perfect = corpus_bleu(hyps, references_to_streams([["a dog", hyps[0]], [hyps[1]]]))
    assert perfect.score == pytest.approx(100.0)
    worse = corpus_bleu(hyps, references_to_streams([["a dog"], [hyps[1]]]))
    assert worse.score < 100.0
