"""Greedy search: the argmax at every step, as a policy of the one loop (search/loop.py)."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs
from s2s_batch.runtime.search.loop import LOGITS, NEXT_TOKEN, StepRead, decode
from s2s_batch.runtime.search.options import Hypothesis, banned_by_ngrams, log_softmax, row_caps


class Greedy:
    """The argmax of each live row; a row leaves the batch at the step it emits <eos> or
    reaches its cap, so later steps compute only live rows (`rows` maps live positions
    back to batch rows).

    Without scores the argmax is taken inside the graph and the logits never leave the
    session; so is a `banned` token id skipped, where the graph takes banned ids (else the
    logits are read). With a shortlist (sorted target ids, <eos> among them) only those ids
    can be chosen, and scores are normalised over them. <eos> is not taken before `min_len`
    tokens, nor a token that would repeat an n-gram of `no_repeat_ngram` tokens (both read
    the logits).
    """

    def __init__(self, graphs: Graphs, rows: int, bos: int, eos: int, caps: np.ndarray, width: int,
                 with_scores: bool = False, banned: int | None = None, with_attention: bool = False,
                 shortlist: np.ndarray | None = None, min_len: int = 0, no_repeat_ngram: int = 0):
        use_logits = (with_scores or (banned is not None and not graphs.takes_banned) or min_len > 0
                      or no_repeat_ngram > 0)
        banned_ids = None if banned is None or use_logits else np.array([banned], dtype=np.int64)
        self.read = StepRead(LOGITS if use_logits else NEXT_TOKEN, with_attention, shortlist, banned_ids)
        self.bos, self.eos, self.caps = bos, eos, caps
        self.with_scores, self.min_len, self.no_repeat_ngram = with_scores, min_len, no_repeat_ngram
        self.shortlist = shortlist
        self.banned_column = None if banned is None else column_of(banned, shortlist)
        self.eos_column = column_of(eos, shortlist)
        steps = int(caps.max())
        self.out = np.empty((rows, steps), dtype=np.int64)
        self.token_scores = np.zeros((rows, steps), dtype=np.float32)
        self.attention = np.zeros((rows, steps, width), dtype=np.float32) if with_attention else None
        self.lengths = caps.copy()
        self.emitted_eos = np.zeros(rows, dtype=bool)
        self.rows = np.arange(rows)

    def start(self, rows: int) -> tuple[None, np.ndarray]:
        """Every row, from <bos>."""
        return None, np.full(rows, self.bos, dtype=np.int64)

    def choose(self, t: int, output: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray | None]:
        """The argmax of each live row (taken in the graph, or here from the logits); the
        rows that emitted <eos> or reached their cap leave."""
        rows = self.rows
        if self.read.output == LOGITS:
            logits = output
            scores = log_softmax(logits)  # the model's, as beam search scores: not renormalised
            if self.banned_column is not None:
                logits[:, self.banned_column] = -np.inf
            if t < self.min_len and self.eos_column is not None:
                logits[:, self.eos_column] = -np.inf
            if self.no_repeat_ngram:
                for j, row in enumerate(rows):
                    for token in banned_by_ngrams(self.out[row, :t].tolist(), self.no_repeat_ngram):
                        column = column_of(token, self.shortlist)
                        if column is not None:
                            logits[j, column] = -np.inf
            columns = logits.argmax(axis=-1)
            self.token_scores[rows, t] = np.take_along_axis(scores, columns[:, None], 1)[:, 0]
            tokens = columns if self.shortlist is None else self.shortlist[columns]
        else:
            tokens = output
        if self.attention is not None:
            self.attention[rows, t] = weights
        self.out[rows, t] = tokens
        ended = tokens == self.eos
        self.lengths[rows[ended]] = t
        self.emitted_eos[rows[ended]] = True
        finished = ended | (self.caps[rows] <= t + 1)
        if not finished.any():
            return tokens, None
        live = np.flatnonzero(~finished)
        self.rows = rows[live]
        return tokens[live], live

    def hypotheses(self) -> list[list[Hypothesis]]:
        """Each row's one hypothesis: ids without <eos>, with scores and attention if read."""
        ends = self.lengths + self.emitted_eos
        return [[Hypothesis(self.out[i, : self.lengths[i]].tolist(),
                            self.token_scores[i, : ends[i]].tolist() if self.with_scores else [],
                            attention=list(self.attention[i, : ends[i]]) if self.attention is not None else [])]
                for i in range(len(self.lengths))]


def greedy_decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, bos: int, eos: int,
                  max_len: int | np.ndarray, with_scores: bool = False, banned: int | None = None,
                  with_attention: bool = False, shortlist: np.ndarray | None = None, min_len: int = 0,
                  no_repeat_ngram: int = 0) -> list[Hypothesis]:
    """Greedy hypothesis (ids without <eos>) for each row of a source batch; `max_len`
    caps the tokens of every row, or of each row (an array): a row stops there without
    <eos>. The other arguments are Greedy's."""
    caps = row_caps(max_len, src.shape[0])
    policy = Greedy(graphs, src.shape[0], bos, eos, caps, src.shape[1], with_scores, banned, with_attention,
                    shortlist, min_len, no_repeat_ngram)
    return [h for (h,) in decode(graphs, src, src_len, policy, int(caps.max()))]


def column_of(token: int, shortlist: np.ndarray | None) -> int | None:
    """The logits column of target id `token`: itself, or its place in the shortlist (None
    if the shortlist lacks it)."""
    if shortlist is None:
        return token
    at = int(np.searchsorted(shortlist, token))
    return at if at < len(shortlist) and shortlist[at] == token else None
