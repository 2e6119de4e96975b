"""Random sampling with temperature, top-k and nucleus (top-p) truncation."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, select_rows
from s2s_batch.runtime.search.options import (
    DecodingOptions,
    Hypothesis,
    banned_by_ngrams,
    forbid,
    log_softmax,
    row_caps,
)


def truncated_distribution(logits: np.ndarray, temperature: float, topk: int, topp: float):
    """(token ids, probabilities) a row samples from: softmax(logits / T), the topk most
    likely (0: all), then the smallest prefix whose mass reaches topp, renormalised.
    Ids are in decreasing probability, ties by id."""
    scaled = logits.astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.lexsort((np.arange(len(probs)), -probs))
    # Banned tokens (probability 0) must be unreachable even where the cumulative sum
    # falls short of 1 by rounding.
    order = order[probs[order] > 0]
    if topk:
        order = order[:topk]
    kept = probs[order]
    if topp < 1.0:
        cut = int(np.searchsorted(np.cumsum(kept), topp * kept.sum())) + 1
        order, kept = order[:cut], kept[:cut]
    return order, kept / kept.sum()


def draw(logits: np.ndarray, rng: np.random.Generator, opts: DecodingOptions) -> int:
    """One token for one row; temperature 0 is the argmax."""
    if opts.sampling_temperature == 0:
        return int(logits.argmax())
    ids, probs = truncated_distribution(logits, opts.sampling_temperature, opts.sampling_topk,
                                        opts.sampling_topp)
    index = int(np.searchsorted(np.cumsum(probs), rng.random(), side="right"))
    return int(ids[min(index, len(ids) - 1)])


def sample_decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, src_ids: list[list[int]],
                  bos: int, eos: int, max_len: int | np.ndarray, opts: DecodingOptions,
                  banned: int | None = None) -> list[Hypothesis]:
    """One sampled hypothesis per row.

    Each sentence draws from its own generator, seeded by (seed, its source ids), so its
    sample does not depend on the batch size, the batch order or the other sentences.
    Token scores are the model's own log-probabilities (before temperature and truncation).
    """
    rngs = [np.random.default_rng([opts.seed, *ids]) for ids in src_ids]
    states, memory = graphs.encode(src, src_len)
    rows = np.arange(src.shape[0])
    caps = row_caps(max_len, len(rows))
    tokens = np.full(len(rows), bos, dtype=np.int64)
    hyps = [Hypothesis([]) for _ in rows]
    for t in range(int(caps.max())):
        logits, states, weights = graphs.step_logits(tokens, states, memory, opts.return_attention)
        logp = log_softmax(logits)
        forbid(logits, t, eos, banned, opts)
        for j, row in enumerate(rows):
            if opts.no_repeat_ngram_size:
                logits[j, banned_by_ngrams(hyps[row].ids, opts.no_repeat_ngram_size)] = -np.inf
            tokens[j] = draw(logits[j], rngs[row], opts)
            hyps[row].token_scores.append(float(logp[j, tokens[j]]))
            if weights is not None:
                hyps[row].attention.append(weights[j])
            if tokens[j] != eos:
                hyps[row].ids.append(int(tokens[j]))
        live = (tokens != eos) & (caps[rows] > t + 1)
        if not live.all():
            rows, tokens, memory = rows[live], tokens[live], select_rows(memory, live)
            states = {name: s[:, live] for name, s in states.items()}
            if rows.size == 0:
                break
    for h in hyps:
        h.rank_score = h.score
    return hyps
