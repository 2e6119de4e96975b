"""Greedy decoding as an explicit state loop over the decoder-step graph."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.session import Graphs


def greedy_decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, bos: int, eos: int,
                  max_len: int) -> list[np.ndarray]:
    """Greedy ids (without <eos>) for each row of a source batch.

    A row leaves the batch at the step it emits <eos>, so later steps compute
    only live rows; `rows` maps live positions back to batch rows.
    """
    states, context = graphs.encode(src, src_len)
    batch = src.shape[0]
    out = np.empty((batch, max_len), dtype=np.int64)
    lengths = np.full(batch, max_len)
    rows = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    for t in range(max_len):
        tokens, states = graphs.step(tokens, states, context)
        out[rows, t] = tokens
        finished = tokens == eos
        if finished.any():
            lengths[rows[finished]] = t
            live = ~finished
            rows, tokens, context = rows[live], tokens[live], context[live]
            states = {name: s[:, live] for name, s in states.items()}  # (L, B, H)
            if rows.size == 0:
                break
    return [out[i, : lengths[i]] for i in range(batch)]
