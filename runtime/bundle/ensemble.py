"""Ensemble decoding: several bundles' decoder steps read as one.

As Marian's and OpenNMT-py's ensembles: each member encodes the source and takes its own
decoder step, and at every step the members' log-probabilities are averaged (with equal
weights) into the scores the search reads. `EnsembleGraphs` offers what the search
strategies call on a bundle's `Graphs` (encode, step, step_logits), so greedy search,
beam search, sampling and forced decoding all work unchanged. Members must read and
write the same tokens: the same SentencePiece models and vocabularies on both sides.
"""

from __future__ import annotations

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs, log_softmax
from s2s_batch.runtime.bundle.manifest import SRC_SPM_FILE, SRC_VOCAB_FILE, TGT_SPM_FILE, TGT_VOCAB_FILE, Manifest
from s2s_batch.runtime.errors import UsageError

ENSEMBLE_ON_RAY = ("--ray ships one bundle to its workers; translate an ensemble (several --bundle) "
                   "without --ray")
# The files whose checksums must agree across members: the tokens read and written.
SHARED_FILES = (SRC_VOCAB_FILE, TGT_VOCAB_FILE, SRC_SPM_FILE, TGT_SPM_FILE)


def check_members(manifests: list[Manifest], option: str = "--bundle") -> None:
    """UsageError naming the first bundle whose tokens differ from the first bundle's
    (`option`: the command-line option that named the bundles)."""
    first = manifests[0]
    for other in manifests[1:]:
        differ = [name for name in SHARED_FILES if first.files.get(name) != other.files.get(name)]
        if other.config.tokenizer != first.config.tokenizer:
            differ.insert(0, "tokenizer")
        if other.config.pad_source != first.config.pad_source:
            differ.append("seed-semantics padding")
        if differ:
            raise UsageError(f"{option} {other.root}: its {', '.join(differ)} differ from {first.root}'s; "
                             "an ensemble's bundles must share their tokenizers and vocabularies")


def _member_key(index: int, name: str) -> str:
    return f"{index}/{name}"


class EnsembleGraphs:
    """The members' graphs behind Graphs' interface; states and memory hold every
    member's tensors under "INDEX/NAME", batch axes as in Graphs (states [L, B, H],
    memory [B, ...]), so the searches drop and reorder rows as they do for one bundle."""

    takes_shortlist = False
    takes_prescore = False
    prescores = False
    takes_row_candidates = False
    takes_banned = True  # step() bans on the host

    def __init__(self, members: list[Graphs]):
        self.members = members
        self.device = members[0].device
        self.vocab_size = members[0].vocab_size
        self.has_attention = all(g.has_attention for g in members)

    def _split(self, values: dict) -> list[dict]:
        parts: list[dict] = [{} for _ in self.members]
        for key, value in values.items():
            index, name = key.split("/", 1)
            parts[int(index)][name] = value
        return parts

    def _join(self, parts: list[dict]) -> dict:
        return {_member_key(i, name): value for i, part in enumerate(parts) for name, value in part.items()}

    def encode(self, src: np.ndarray, src_len: np.ndarray) -> tuple[dict, dict]:
        """Every member's encode(), joined."""
        encoded = [g.encode(src, src_len) for g in self.members]
        return self._join([s for s, _ in encoded]), self._join([m for _, m in encoded])

    def step_logits(self, tokens: np.ndarray, states: dict, memory: dict, with_attention: bool = False,
                    shortlist: np.ndarray | None = None):
        """One step of every member → (the mean of their log-probabilities [B, V], new
        states, the mean of their attention weights or None)."""
        if shortlist is not None:
            raise UsageError("the vocabulary shortlist serves one bundle; drop --shortlist for an ensemble")
        log_probs, new_states, weights = [], [], []
        for graphs, state, mem in zip(self.members, self._split(states), self._split(memory)):
            logits, state, attention = graphs.step_logits(tokens, state, mem, with_attention)
            log_probs.append(log_softmax(logits))
            new_states.append(state)
            weights.append(attention)
        mean_weights = np.mean(weights, axis=0) if with_attention else None
        return np.mean(log_probs, axis=0, dtype=np.float32), self._join(new_states), mean_weights

    def step(self, tokens: np.ndarray, states: dict, memory: dict, with_attention: bool = False,
             shortlist: np.ndarray | None = None, banned: np.ndarray | None = None):
        """One step → (the argmax of the mean log-probabilities [B], new states, attention);
        `banned` ids are never taken."""
        scores, states, weights = self.step_logits(tokens, states, memory, with_attention, shortlist)
        if banned is not None and len(banned):
            scores[:, banned] = -np.inf
        return scores.argmax(axis=-1).astype(np.int64), states, weights
