"""The one decoding loop on the host, and the two policies every translator runs on it.

Every host search (greedy, beam, sampling, and the forced decoding that scores a given
target) runs through `decode`: greedy search (the default) and forced decoding are here,
beam search and sampling in beam.py and sampling.py. The loop owns the graphs and what they carry between
steps: it encodes the batch, runs the decoder step for the rows still decoding, and
gathers the state and the memory for the rows the policy keeps. A `Policy` only
chooses: it says which output of the step it reads (the argmax taken in the graph, the
logits, or each row's best candidates), picks each kept row's next token from it, and
builds the hypotheses from its own records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, log_softmax, select_rows
from s2s_batch.runtime.search.options import Hypothesis, forbid, forced_tokens, penalize_repeats, row_caps

NEXT_TOKEN, LOGITS, CANDIDATES = "next_token", "logits", "candidates"


@dataclass
class StepRead:
    """What a policy reads of each decoder step: `output` (NEXT_TOKEN: the argmax taken in
    the graph, over `shortlist` and skipping `banned` ids; LOGITS: the logits, over
    `shortlist`; CANDIDATES: each row's `count` best log-probabilities and ids), with the
    attention weights or not."""

    output: str = LOGITS
    with_attention: bool = False
    shortlist: np.ndarray | None = None
    banned: np.ndarray | None = None
    count: int = 0


class Policy(Protocol):
    """A search strategy's choice of tokens, step after step."""

    read: StepRead

    def start(self, rows: int) -> tuple[np.ndarray | None, np.ndarray]:
        """(the batch rows the first step decodes, as an index into the batch, or None for
        every row once; the first step's input tokens)."""
        ...

    def choose(self, t: int, output, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Step t's chosen (next input tokens of the rows that go on; the rows that go on,
        as an index into this step's rows, or None when every row does)."""
        ...

    def hypotheses(self) -> list[list[Hypothesis]]:
        """Each batch row's hypotheses, best first."""
        ...


def decode(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, policy: Policy, steps: int) -> list[list[Hypothesis]]:
    """Run `policy` over a source batch for at most `steps` steps; its hypotheses."""
    states, memory = graphs.encode(src, src_len)
    rows, tokens = policy.start(src.shape[0])
    if rows is not None:
        states = {name: s[:, rows] for name, s in states.items()}
        memory = select_rows(memory, rows)
    read = policy.read
    for t in range(steps):
        if read.output == NEXT_TOKEN:
            output, states, weights = graphs.step(tokens, states, memory, read.with_attention, read.shortlist,
                                                  read.banned)
        elif read.output == CANDIDATES:
            output, states, weights = graphs.step_candidates(tokens, states, memory, read.count,
                                                             read.with_attention)
        else:
            output, states, weights = graphs.step_logits(tokens, states, memory, read.with_attention,
                                                         read.shortlist)
        tokens, keep = policy.choose(t, output, weights)
        if keep is not None:
            if keep.size == 0:
                break
            states = {name: s[:, keep] for name, s in states.items()}  # (L, rows, H)
            memory = select_rows(memory, keep)
    return policy.hypotheses()


class Forced:
    """Forced decoding: each row is fed its given target ids, and each id's
    log-probability is recorded (what `Translator.score_batch` returns)."""

    def __init__(self, targets: list[list[int]], bos: int, pad: int):
        self.steps = max(map(len, targets))
        self.ids = np.full((len(targets), self.steps), pad, dtype=np.int64)
        for i, row in enumerate(targets):
            self.ids[i, : len(row)] = row
        self.lengths = [len(row) for row in targets]
        self.bos = bos
        self.log_probs = np.zeros((len(targets), self.steps), dtype=np.float32)
        self.read = StepRead(LOGITS)

    def start(self, rows: int) -> tuple[None, np.ndarray]:
        """Every row, from <bos>."""
        return None, np.full(rows, self.bos, dtype=np.int64)

    def choose(self, t: int, output, weights) -> tuple[np.ndarray, None]:
        """Step t's given ids, their log-probabilities recorded."""
        self.log_probs[:, t] = np.take_along_axis(log_softmax(output), self.ids[:, t : t + 1], 1)[:, 0]
        return self.ids[:, t], None

    def hypotheses(self) -> list[list[Hypothesis]]:
        """Each row's given ids with their log-probabilities."""
        return [[Hypothesis(self.ids[i, :n].tolist(), self.log_probs[i, :n].tolist())]
                for i, n in enumerate(self.lengths)]


class Greedy:
    """The argmax of each live row; a row leaves the batch at the step it emits <eos> or
    reaches its cap, so later steps compute only live rows (`rows` maps live positions
    back to batch rows).

    Without scores the argmax is taken inside the graph and the logits never leave the
    session; so is a `banned` token id skipped, where the graph takes banned ids (else the
    logits are read). With a shortlist (sorted target ids, <eos> among them) only those ids
    can be chosen, and scores are normalised over them. <eos> is not taken before `min_len`
    tokens, nor a token that would repeat an n-gram of `no_repeat_ngram` tokens; a
    `repetition_penalty` lowers the logits of the tokens a row already holds; a row's
    target prefix (`prefixes`, ids per batch row) is its first tokens (all read the logits).
    """

    def __init__(self, graphs: Graphs, rows: int, bos: int, eos: int, caps: np.ndarray, width: int,
                 with_scores: bool = False, banned: int | None = None, with_attention: bool = False,
                 shortlist: np.ndarray | None = None, min_len: int = 0, no_repeat_ngram: int = 0,
                 repetition_penalty: float = 1.0, prefixes: list[list[int]] | None = None):
        use_logits = (with_scores or (banned is not None and not graphs.takes_banned) or min_len > 0
                      or no_repeat_ngram > 0 or repetition_penalty != 1.0 or prefixes is not None)
        banned_ids = None if banned is None or use_logits else np.array([banned], dtype=np.int64)
        self.read = StepRead(LOGITS if use_logits else NEXT_TOKEN, with_attention, shortlist, banned_ids)
        self.bos, self.eos, self.caps = bos, eos, caps
        self.with_scores, self.min_len, self.no_repeat_ngram = with_scores, min_len, no_repeat_ngram
        self.repetition_penalty, self.prefixes = repetition_penalty, prefixes
        self.shortlist = shortlist
        self.banned = banned
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
            histories = ([self.out[row, :t].tolist() for row in rows]
                         if self.no_repeat_ngram or self.repetition_penalty != 1.0 else None)
            if histories is not None:
                penalize_repeats(logits, histories, self.repetition_penalty, self.shortlist)
            scores = log_softmax(logits)  # the model's, as beam search scores: not renormalised
            forbid(logits, t, self.eos, self.banned, self.min_len, self.no_repeat_ngram, histories, self.shortlist,
                   forced_tokens(self.prefixes, rows, t))
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
                  no_repeat_ngram: int = 0, repetition_penalty: float = 1.0,
                  prefixes: list[list[int]] | None = None) -> list[Hypothesis]:
    """Greedy hypothesis (ids without <eos>) for each row of a source batch; `max_len`
    caps the tokens of every row, or of each row (an array): a row stops there without
    <eos>. The other arguments are Greedy's."""
    caps = row_caps(max_len, src.shape[0])
    policy = Greedy(graphs, src.shape[0], bos, eos, caps, src.shape[1], with_scores, banned, with_attention,
                    shortlist, min_len, no_repeat_ngram, repetition_penalty, prefixes)
    return [h for (h,) in decode(graphs, src, src_len, policy, int(caps.max()))]
