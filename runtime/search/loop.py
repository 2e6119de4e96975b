"""The one decoding loop on the host: encode, step, choose, drop the rows that finished.

Every host search (greedy, beam, sampling, and the forced decoding that scores a given
target) runs through `decode`. The loop owns the graphs and what they carry between
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

from s2s_batch.runtime.bundle.graphs import Graphs, select_rows
from s2s_batch.runtime.search.options import Hypothesis, log_softmax

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
