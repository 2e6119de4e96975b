"""Ranking a beam-search step's continuations from the decoder step's per-row candidates."""

from __future__ import annotations

import numpy as np

# The decoder step returns k + MASKED_AT_MOST candidates per row: the mask may forbid
# <eos> (before the minimum length) and the banned id, and k allowed ones remain.
MASKED_AT_MOST = 2


def rank_rows(row_logp: np.ndarray, row_ids: np.ndarray, mask: np.ndarray, beam_scores: np.ndarray,
              k: int, vocab: int):
    """The k best continuations of each sentence → (flat indices [n, k] into K x V, scores
    [n, k], token log-probabilities [n, k]), best first, ties in index order.

    `row_logp`, `row_ids` [N, C] are each row's C best log-probabilities and their ids,
    best first (the decoder step's per-row candidates, C = the beam size +
    MASKED_AT_MOST); `mask` [V] is 0, or -inf for at most MASKED_AT_MOST forbidden ids;
    `beam_scores` [n, K] the live beams' totals. The same float32 sums as the full
    ranking in runtime/beam.py, on C instead of V columns.
    """
    if np.count_nonzero(mask) > MASKED_AT_MOST:
        raise ValueError(f"per-row candidates take masks of at most {MASKED_AT_MOST} ids")
    sentences, beams = beam_scores.shape
    width = row_logp.shape[1]
    logp = (row_logp + mask[row_ids]).reshape(sentences, beams * width)
    total = (beam_scores[:, :, None] + logp.reshape(sentences, beams, width)).reshape(sentences, -1)
    flat = (row_ids.reshape(sentences, beams, width)
            + (np.arange(beams, dtype=np.int64) * vocab)[None, :, None]).reshape(sentences, -1)
    order = np.lexsort((flat, -total), axis=1)[:, :min(k, total.shape[1])]
    return (np.take_along_axis(flat, order, 1), np.take_along_axis(total, order, 1),
            np.take_along_axis(logp, order, 1))
