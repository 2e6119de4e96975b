"""Greedy decoding as an explicit state loop over the decoder-step graph, with in-flight refill."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from s2s_batch.runtime.batching import pad_batch
from s2s_batch.runtime.decoding import Hypothesis, log_softmax
from s2s_batch.runtime.session import Graphs


class _Live:
    """The rows being decoded: which sentence each is, its last token, state and context."""

    def __init__(self, state_names):
        self.rows = np.empty(0, dtype=np.int64)
        self.steps = np.empty(0, dtype=np.int64)
        self.tokens = np.empty(0, dtype=np.int64)
        self.context = None
        self.states = {name: None for name in state_names}

    def add(self, rows: np.ndarray, states: dict, context: np.ndarray, bos: int) -> None:
        def cat(old, new, axis):
            return new if old is None else np.concatenate([old, new], axis=axis)

        self.rows = np.concatenate([self.rows, rows])
        self.steps = np.concatenate([self.steps, np.zeros(len(rows), dtype=np.int64)])
        self.tokens = np.concatenate([self.tokens, np.full(len(rows), bos, dtype=np.int64)])
        self.context = cat(self.context, context, 0)
        self.states = {name: cat(self.states[name], s, 1) for name, s in states.items()}  # (L, B, H)

    def keep(self, mask: np.ndarray) -> None:
        self.rows, self.steps, self.tokens = self.rows[mask], self.steps[mask], self.tokens[mask]
        self.context = self.context[mask]
        self.states = {name: s[:, mask] for name, s in self.states.items()}


def greedy_decode(graphs: Graphs, sources: Sequence[Sequence[int]], pad: int, width: int | None,
                  bos: int, eos: int, max_len: int, slots: int, with_scores: bool = False,
                  banned: int | None = None) -> list[Hypothesis]:
    """Greedy hypotheses (ids without <eos>) for non-empty source id lists, in their order.

    Up to `slots` sentences decode at once, longest first. A row leaves at <eos> or
    max_len, and once a quarter of the slots are free the next sentences are encoded into
    them (in-flight refill), so the decoder step stays near full. Rows never interact, so
    a sentence's output does not depend on which others share its steps. Without scores
    or a banned token the argmax is taken inside the graph and the logits stay there.
    `width` fixes the padded source length (seed semantics); None pads to the longest.
    """
    order = sorted(range(len(sources)), key=lambda i: -len(sources[i]))
    hyps = [Hypothesis([]) for _ in sources]
    live = _Live(graphs.state_names)
    queue = 0
    use_logits = with_scores or banned is not None
    while queue < len(order) or live.rows.size:
        free = slots - live.rows.size
        if queue < len(order) and (free >= max(1, slots // 4) or live.rows.size == 0):
            admit = np.array(order[queue : queue + free])
            queue += len(admit)
            src, src_len = pad_batch([sources[i] for i in admit], pad, width)
            states, context = graphs.encode(src, src_len)
            live.add(admit, states, context, bos)
        if use_logits:
            logits, live.states = graphs.step_logits(live.tokens, live.states, live.context)
            if banned is not None:
                logits[:, banned] = -np.inf
            tokens = logits.argmax(axis=-1)
            if with_scores:
                scores = np.take_along_axis(log_softmax(logits), tokens[:, None], 1)[:, 0]
                for row, score in zip(live.rows.tolist(), scores.tolist()):
                    hyps[row].token_scores.append(score)
        else:
            tokens, live.states = graphs.step(live.tokens, live.states, live.context)
        finished = tokens == eos
        for row, tok in zip(live.rows[~finished].tolist(), tokens[~finished].tolist()):
            hyps[row].ids.append(tok)
        live.tokens = tokens
        live.steps += 1
        done = finished | (live.steps >= max_len)
        if done.any():
            live.keep(~done)
    return hyps
