"""Ranking a beam-search step's continuations on onnxruntime (runtime/beam_topk.onnx)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

RANK_FILE = "beam_topk.onnx"
# The graph keeps k + MASKED_AT_MOST candidates per row (export/beam_graph.py): <eos>
# before the minimum length and the banned id.
MASKED_AT_MOST = 2


def rank_graph_path() -> Path:
    """The ranking graph shipped with the runtime (built by s2s_batch.export.beam_graph)."""
    return Path(str(resources.files("s2s_batch.runtime") / RANK_FILE))


class BeamRanker:
    """The k best continuations of each sentence: log-softmax, mask, beam scores, top-k.

    The numpy path of runtime/beam.py (used with per-row n-gram bans) ranks the same way;
    this one skips its two [rows, V] passes and its argpartition, the larger part of a
    beam step.
    """

    def __init__(self, session):
        self.session = session

    def __call__(self, logits: np.ndarray, mask: np.ndarray, beam_scores: np.ndarray, k: int):
        """→ (flat indices [n, k] into K x V, scores [n, k], token log-probabilities [n, k]);
        `mask` may forbid at most MASKED_AT_MOST ids."""
        if np.count_nonzero(mask) > MASKED_AT_MOST:
            raise ValueError(f"the ranking graph takes masks of at most {MASKED_AT_MOST} ids")
        scores, indices, token_logp = self.session.run(
            None, {"logits": logits, "mask": mask, "beam_scores": beam_scores,
                   "k": np.array([k], np.int64)})
        return indices, scores, token_logp
