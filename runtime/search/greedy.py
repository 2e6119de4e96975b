"""Greedy decoding as an explicit state loop over the decoder-step graph."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, select_rows
from s2s_batch.runtime.search.options import Hypothesis, banned_by_ngrams, log_softmax, row_caps


def greedy_decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, bos: int, eos: int,
                  max_len: int | np.ndarray, with_scores: bool = False, banned: int | None = None,
                  with_attention: bool = False, shortlist: np.ndarray | None = None, min_len: int = 0,
                  no_repeat_ngram: int = 0) -> list[Hypothesis]:
    """Greedy hypothesis (ids without <eos>) for each row of a source batch.

    A row leaves the batch at the step it emits <eos>, so later steps compute only live
    rows; `rows` maps live positions back to batch rows. Without scores the argmax is taken
    inside the graph and the logits never leave the session; so is a `banned` token id
    skipped, where the graph takes banned ids (else the logits are read).
    With a shortlist (sorted target ids, <eos> among them) only those ids can be chosen,
    and scores are normalised over them. `max_len` caps the tokens of every row, or of
    each row (an array): a row stops there without <eos>. <eos> is not taken before
    `min_len` tokens, nor a token that would repeat an n-gram of `no_repeat_ngram` tokens
    (both read the logits).
    """
    use_logits = (with_scores or (banned is not None and not graphs.takes_banned) or min_len > 0
                  or no_repeat_ngram > 0)
    banned_ids = None if banned is None else np.array([banned], dtype=np.int64)
    banned_column = None if banned is None else _column(banned, shortlist)
    states, memory = graphs.encode(src, src_len)
    batch = src.shape[0]
    caps = row_caps(max_len, batch)
    steps = int(caps.max())
    out = np.empty((batch, steps), dtype=np.int64)
    token_scores = np.zeros((batch, steps), dtype=np.float32)
    attention = np.zeros((batch, steps, src.shape[1]), dtype=np.float32) if with_attention else None
    lengths = caps.copy()
    emitted_eos = np.zeros(batch, dtype=bool)
    rows = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    for t in range(steps):
        if use_logits:
            logits, states, weights = graphs.step_logits(tokens, states, memory, with_attention,
                                                         shortlist)
            scores = log_softmax(logits)  # the model's, as beam search scores: not renormalised
            if banned_column is not None:
                logits[:, banned_column] = -np.inf
            if t < min_len:
                logits[:, _column(eos, shortlist)] = -np.inf
            if no_repeat_ngram:
                for j, row in enumerate(rows):
                    for token in banned_by_ngrams(out[row, :t].tolist(), no_repeat_ngram):
                        column = _column(token, shortlist)
                        if column is not None:
                            logits[j, column] = -np.inf
            columns = logits.argmax(axis=-1)
            token_scores[rows, t] = np.take_along_axis(scores, columns[:, None], 1)[:, 0]
            tokens = columns if shortlist is None else shortlist[columns]
        else:
            tokens, states, weights = graphs.step(tokens, states, memory, with_attention, shortlist,
                                                  banned_ids)
        if attention is not None:
            attention[rows, t] = weights
        out[rows, t] = tokens
        ended = tokens == eos
        lengths[rows[ended]] = t
        emitted_eos[rows[ended]] = True
        finished = ended | (caps[rows] <= t + 1)
        if finished.any():
            live = ~finished
            rows, tokens, memory = rows[live], tokens[live], select_rows(memory, live)
            states = {name: s[:, live] for name, s in states.items()}  # (L, B, H)
            if rows.size == 0:
                break
    return [Hypothesis(out[i, : lengths[i]].tolist(),
                       token_scores[i, : lengths[i] + emitted_eos[i]].tolist() if with_scores else [],
                       attention=list(attention[i, : lengths[i] + emitted_eos[i]]) if attention is not None else [])
            for i in range(batch)]


def _column(token: int, shortlist: np.ndarray | None) -> int | None:
    """The logits column of target id `token`: itself, or its place in the shortlist (None
    if the shortlist lacks it)."""
    if shortlist is None:
        return token
    at = int(np.searchsorted(shortlist, token))
    return at if at < len(shortlist) and shortlist[at] == token else None
