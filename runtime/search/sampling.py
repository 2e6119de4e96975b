"""Random sampling with temperature, top-k and nucleus (top-p) truncation."""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, log_softmax
from s2s_batch.runtime.search.loop import LOGITS, StepRead, decode
from s2s_batch.runtime.search.options import (
    DecodingOptions,
    Hypothesis,
    forbid,
    forced_tokens,
    penalize_repeats,
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


class Sample:
    """One token drawn per live row from its own generator; a row leaves the batch at
    <eos> or its cap. Token scores are the model's own log-probabilities (before
    temperature and truncation)."""

    def __init__(self, src_ids: list[list[int]], bos: int, eos: int, caps: np.ndarray, opts: DecodingOptions,
                 banned: int | None = None, prefixes: list[list[int]] | None = None):
        # Each sentence draws from its own generator, seeded by (seed, its source ids), so
        # its sample does not depend on the batch size, the batch order or the others.
        self.rngs = [np.random.default_rng([opts.seed, *ids]) for ids in src_ids]
        self.bos, self.eos, self.caps, self.opts, self.banned = bos, eos, caps, opts, banned
        self.hyps = [Hypothesis([]) for _ in src_ids]
        self.rows = np.arange(len(src_ids))
        self.prefixes = prefixes
        self.read = StepRead(LOGITS, opts.return_attention)

    def start(self, rows: int) -> tuple[None, np.ndarray]:
        """Every row, from <bos>."""
        return None, np.full(rows, self.bos, dtype=np.int64)

    def choose(self, t: int, logits: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray | None]:
        """A draw for each live row; the rows that drew <eos> or reached their cap leave."""
        opts, rows = self.opts, self.rows
        histories = [self.hyps[row].ids for row in rows] if opts.needs_histories else None
        if histories is not None:
            penalize_repeats(logits, histories, opts.repetition_penalty)
        logp = log_softmax(logits)
        forbid(logits, t, self.eos, self.banned, opts.min_decoding_length, opts.no_repeat_ngram_size,
               histories, forced=forced_tokens(self.prefixes, rows, t))
        tokens = np.empty(len(rows), dtype=np.int64)
        for j, row in enumerate(rows):
            hyp = self.hyps[row]
            tokens[j] = draw(logits[j], self.rngs[row], opts)
            hyp.token_scores.append(float(logp[j, tokens[j]]))
            if weights is not None:
                hyp.attention.append(weights[j])
            if tokens[j] != self.eos:
                hyp.ids.append(int(tokens[j]))
        live = (tokens != self.eos) & (self.caps[rows] > t + 1)
        if live.all():
            return tokens, None
        keep = np.flatnonzero(live)
        self.rows = rows[keep]
        return tokens[keep], keep

    def hypotheses(self) -> list[list[Hypothesis]]:
        """Each row's one sample, ranked by its total log-probability."""
        for h in self.hyps:
            h.rank_score = h.score
        return [[h] for h in self.hyps]


def sample_decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, src_ids: list[list[int]],
                  bos: int, eos: int, max_len: int | np.ndarray, opts: DecodingOptions,
                  banned: int | None = None, prefixes: list[list[int]] | None = None) -> list[Hypothesis]:
    """One sampled hypothesis per row (Sample's), through the one loop; `prefixes`: each
    row's target prefix (ids), its first tokens."""
    caps = row_caps(max_len, src.shape[0])
    policy = Sample(src_ids, bos, eos, caps, opts, banned, prefixes)
    return [h for (h,) in decode(graphs, src, src_len, policy, int(caps.max()))]
