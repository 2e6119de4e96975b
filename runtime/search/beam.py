"""Batched beam search, as a policy of the one loop (search/loop.py).

Rows are (sentence, beam) pairs, sentence-major: row i*K + k is beam k of live sentence i.
After each step the loop reorders the state and memory by gathering the parent rows the
policy chose, and a sentence whose n-best can no longer improve leaves the batch. The
step's per-row candidates (the decoder step's top C) are ranked by `rank_rows`; with
per-row n-gram bans the full logits are.
"""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, log_softmax
from s2s_batch.runtime.search.loop import CANDIDATES, LOGITS, StepRead, decode
from s2s_batch.runtime.search.options import (
    DecodingOptions,
    Hypothesis,
    forbid,
    forced_tokens,
    penalize_repeats,
    row_caps,
)

# The decoder step returns k + MASKED_AT_MOST candidates per row: the mask may forbid
# <eos> (before the minimum length) and the banned id, and k allowed ones remain.
MASKED_AT_MOST = 2


def _candidates(total: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2K best (flat index, score) of each sentence's (K * V) scores, best first.

    More candidates than the beam size, so that beams that end in <eos> can be replaced.
    """
    n = min(2 * k, total.shape[1])
    part = np.argpartition(-total, n - 1, axis=1)[:, :n]
    scores = np.take_along_axis(total, part, 1)
    order = np.lexsort((part, -scores), axis=1)  # by score, then by index for exact ties
    return np.take_along_axis(part, order, 1), np.take_along_axis(scores, order, 1)


def _can_stop(done: list[Hypothesis], live_best: float, opts: DecodingOptions, max_len: int) -> bool:
    """True when no live beam can enter the n-best: its score only falls, its length
    normalizer is at most that of the longest allowed length, and the coverage penalty
    (beta >= 0) can only lower it."""
    if len(done) < opts.num_hypotheses:
        return False
    worst_kept = sorted(h.rank_score for h in done)[-opts.num_hypotheses]
    return live_best / opts.length_normalizer(max_len) <= worst_kept


class Beam:
    """K beams per sentence. Rows are (sentence, beam) pairs, sentence-major: row i*K + k
    is beam k of live sentence i; each step keeps each live sentence's K best
    continuations as the next rows (their parents gathered by the loop), and a sentence
    whose n-best can no longer improve leaves the batch."""

    def __init__(self, graphs: Graphs, rows: int, bos: int, eos: int, caps: np.ndarray, opts: DecodingOptions,
                 banned: int | None = None, prefixes: list[list[int]] | None = None):
        self.k, self.bos, self.eos, self.caps, self.opts, self.banned = opts.beam_size, bos, eos, caps, opts, banned
        self.vocab = graphs.vocab_size
        self.prefixes = prefixes  # each batch row's target prefix (ids), its first tokens
        # Without per-row rules, the decoder step can keep its logits and return each row's
        # best continuations (enough of them to drop the masked ids), ranked here in numpy.
        row_candidates = graphs.takes_row_candidates and not opts.needs_histories and prefixes is None
        weighted = opts.return_attention or opts.coverage_penalty > 0
        self.read = (StepRead(CANDIDATES, weighted, count=self.k + MASKED_AT_MOST) if row_candidates
                     else StepRead(LOGITS, weighted))
        self.beam_scores = np.full((rows, self.k), -np.inf, dtype=np.float32)
        self.beam_scores[:, 0] = 0.0  # one start beam per sentence, so the first step has no duplicates
        self.histories: list[list[int]] = [[] for _ in range(rows * self.k)]
        self.token_scores: list[list[float]] = [[] for _ in range(rows * self.k)]
        self.attention: list[list] | None = [[] for _ in range(rows * self.k)] if opts.return_attention else None
        # with the coverage penalty: per row, the attention each source position received
        # so far (the weights of the tokens it holds), [rows, T] once the first step is read
        self.coverage: np.ndarray | None = None
        self.sentences = np.arange(rows)  # batch rows of the live sentences
        self.finished: list[list[Hypothesis]] = [[] for _ in range(rows)]

    def start(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """K rows per sentence, from <bos>."""
        return np.repeat(np.arange(rows), self.k), np.full(rows * self.k, self.bos, dtype=np.int64)

    def choose(self, t: int, output, weights) -> tuple[np.ndarray, np.ndarray]:
        """The next rows: each live sentence's K best continuations, their parents as an
        index into this step's rows."""
        k, vocab, opts = self.k, self.vocab, self.opts
        if self.read.output == CANDIDATES:
            row_logp, row_ids = output
            flat, cand_scores, cand_logp = rank_rows(row_logp, row_ids, _mask(vocab, t, self.eos, self.banned, opts),
                                                     self.beam_scores, 2 * k, vocab)
        else:  # per-row rules, or a bundle exported before per-row candidates
            owners = self.sentences[np.arange(len(self.histories)) // k]
            flat, cand_scores, cand_logp = _rank_numpy(output, self.beam_scores, t, self.eos, self.banned, opts,
                                                       self.histories, k, forced_tokens(self.prefixes, owners, t))
        if opts.coverage_penalty and self.coverage is None:
            self.coverage = np.zeros_like(weights)
        keep_sentence, next_rows, next_tokens, next_scores, next_logp = [], [], [], [], []
        for i, sentence in enumerate(self.sentences):
            cap = int(self.caps[sentence])
            live = _advance(i, flat[i], cand_scores[i], cand_logp[i], vocab, k, self.eos, t, cap,
                            self.histories, self.token_scores, self.finished[sentence], opts, self.attention,
                            weights, self.coverage)
            if live and not _can_stop(self.finished[sentence], live[0][2], opts, cap):
                keep_sentence.append(i)
                live += [live[-1][:2] + (-np.inf, 0.0)] * (k - len(live))  # pad a short beam
                for row, tok, score, tok_logp in live:
                    next_rows.append(row)
                    next_tokens.append(tok)
                    next_scores.append(score)
                    next_logp.append(tok_logp)
        rows = np.array(next_rows, dtype=np.int64)
        if not keep_sentence:
            return rows, rows
        self.sentences = self.sentences[keep_sentence]
        self.histories = [self.histories[r] + [tok] for r, tok in zip(next_rows, next_tokens)]
        self.token_scores = [self.token_scores[r] + [lp] for r, lp in zip(next_rows, next_logp)]
        if self.attention is not None:
            self.attention = [self.attention[r] + [weights[r]] for r in next_rows]
        if self.coverage is not None:
            self.coverage = self.coverage[rows] + weights[rows]
        self.beam_scores = np.array(next_scores, dtype=np.float32).reshape(len(self.sentences), k)
        return np.array(next_tokens, dtype=np.int64), rows

    def hypotheses(self) -> list[list[Hypothesis]]:
        """The num_hypotheses best finished hypotheses of each sentence, best first."""
        return [sorted(done, key=lambda h: -h.rank_score)[: self.opts.num_hypotheses] for done in self.finished]


def beam_search(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, bos: int, eos: int,
                max_len: int | np.ndarray, opts: DecodingOptions, banned: int | None = None,
                prefixes: list[list[int]] | None = None) -> list[list[Hypothesis]]:
    """The num_hypotheses best hypotheses of each source row, best first, through the one
    loop; `max_len` caps the tokens of every row, or of each row (an array); `prefixes`:
    each row's target prefix (ids), its first tokens."""
    caps = row_caps(max_len, src.shape[0])
    policy = Beam(graphs, src.shape[0], bos, eos, caps, opts, banned, prefixes)
    return decode(graphs, src, src_len, policy, int(caps.max()))


def _attention_of(attention, weights, row: int) -> list:
    return [] if attention is None else attention[row] + [weights[row]]


def _mask(vocab: int, t: int, eos: int, banned: int | None, opts: DecodingOptions) -> np.ndarray:
    """0, or -inf for the ids step t may not produce (forbid's rules as an additive mask)."""
    mask = np.zeros((1, vocab), dtype=np.float32)
    forbid(mask, t, eos, banned, opts.min_decoding_length)
    return mask[0]


def _rank_numpy(logits, beam_scores, t, eos, banned, opts: DecodingOptions, histories, k, forced=None):
    """rank_rows's result from the full logits, with each row's rules: its n-gram bans,
    its repetition penalty, its forced prefix token."""
    penalize_repeats(logits, histories, opts.repetition_penalty)
    logp = log_softmax(logits)  # (n*K, V)
    forbid(logp, t, eos, banned, opts.min_decoding_length, opts.no_repeat_ngram_size, histories, forced=forced)
    sentences, vocab = beam_scores.shape[0], logp.shape[1]
    total = (beam_scores.reshape(-1, 1) + logp).reshape(sentences, k * vocab)
    flat, scores = _candidates(total, k)
    return flat, scores, np.take_along_axis(logp.reshape(sentences, k * vocab), flat, 1)


def _advance(i, flat, scores, logps, vocab, k, eos, t, max_len, histories, token_scores,
             done: list[Hypothesis], opts: DecodingOptions, attention=None,
             weights=None, coverage=None) -> list[tuple[int, int, float, float]]:
    """Walk sentence i's candidates: a top-K candidate ending in <eos> finishes a
    hypothesis; the best K others become the live beams (row, token, score, the token's
    log-probability). At the last step the live beams finish too, cut at max_len. A
    finished hypothesis ranks by its score over the length normalizer, plus the coverage
    penalty's term of what its tokens (not <eos>) attended to (`coverage` per row before
    this step, `weights` this step's)."""
    def finished(row: int, ids: list[int], steps: list[float], score: float, received) -> Hypothesis:
        covered = opts.coverage_term(received) if received is not None else 0.0
        return Hypothesis(ids, steps, score / opts.length_normalizer(len(steps)) + covered,
                          _attention_of(attention, weights, row))

    live: list[tuple[int, int, float, float]] = []
    for rank, (index, score, tok_logp) in enumerate(zip(flat.tolist(), scores.tolist(), logps.tolist())):
        if score == -np.inf:
            break
        row, tok = i * k + index // vocab, index % vocab
        if tok == eos:
            if rank < k:
                done.append(finished(row, list(histories[row]), token_scores[row] + [tok_logp], score,
                                     None if coverage is None else coverage[row]))
        elif len(live) < k:
            live.append((row, tok, score, tok_logp))
    if t == max_len - 1:
        for row, tok, score, tok_logp in live:
            done.append(finished(row, histories[row] + [tok], token_scores[row] + [tok_logp], score,
                                 None if coverage is None else coverage[row] + weights[row]))
        return []
    return live




def rank_rows(row_logp: np.ndarray, row_ids: np.ndarray, mask: np.ndarray, beam_scores: np.ndarray,
              k: int, vocab: int):
    """The k best continuations of each sentence → (flat indices [n, k] into K x V, scores
    [n, k], token log-probabilities [n, k]), best first, ties in index order.

    `row_logp`, `row_ids` [N, C] are each row's C best log-probabilities and their ids,
    best first (the decoder step's per-row candidates, C = the beam size +
    MASKED_AT_MOST); `mask` [V] is 0, or -inf for at most MASKED_AT_MOST forbidden ids;
    `beam_scores` [n, K] the live beams' totals. The same float32 sums as the full
    ranking in runtime/search/beam.py, on C instead of V columns.
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
