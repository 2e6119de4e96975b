"""Vocabulary shortlists: the target words a batch may produce, from a lexical table.

The output layer is most of a decoder step's arithmetic (about 70% at hidden 256 and
9k target words). A shortlist restricts it, per batch, to the target words that the
batch's source words translate to (the lexical table that s2s-train learns from the
training split) plus the most frequent target words. Target vocabularies are ordered by
frequency, so "the F most frequent words" is simply ids 0..F-1 (the reserved tokens first).

File format (`shortlist.npz`, numpy only): `offsets` [S+1] and `targets` [N] int32, a
compressed row per source id: its candidate target ids, best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2s_batch.runtime.bundle.manifest import SHORTLIST_FILE, Manifest
from s2s_batch.runtime.errors import BundleError, UsageError

# The smallest sizes that kept >= 99% of the default model's greedy translations unchanged
# at the default batch size (dev 99.2%, test 99.1%; bench/shortlist.py, bench/RESULTS.md).
DEFAULT_FREQUENT = 200
DEFAULT_PER_SOURCE = 100


@dataclass(frozen=True)
class LexicalTable:
    """Candidate target ids per source id, best first (CSR rows)."""

    offsets: np.ndarray  # int32 [S + 1]
    targets: np.ndarray  # int32 [N]

    @property
    def source_size(self) -> int:
        """The source vocabulary size the table was learned for."""
        return len(self.offsets) - 1

    def save(self, path: Path) -> None:
        """Write the table as an uncompressed .npz (read with allow_pickle=False)."""
        with Path(path).open("wb") as f:
            np.savez(f, offsets=self.offsets.astype(np.int32), targets=self.targets.astype(np.int32))

    @classmethod
    def load(cls, path: Path, source_size: int, target_size: int) -> LexicalTable:
        """Read and check a table written by `save`; a bad file is a BundleError."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                table = cls(data["offsets"], data["targets"])
        except (OSError, KeyError, ValueError) as exc:
            raise BundleError(f"{path}: unreadable shortlist table ({exc}); re-export the bundle") from None
        offsets, targets = table.offsets, table.targets
        if (table.source_size != source_size or offsets[0] != 0 or offsets[-1] != len(targets)
                or np.any(np.diff(offsets) < 0)
                or (len(targets) and (targets.min() < 0 or targets.max() >= target_size))):
            raise BundleError(f"{path}: the shortlist table does not fit the vocabularies "
                              f"({source_size} source, {target_size} target ids); re-export the bundle")
        return table


class Shortlist:
    """Per-batch candidate target ids: the `frequent` most frequent target ids, and the
    first `per_source` candidates of every source id in the batch."""

    def __init__(self, table: LexicalTable, frequent: int = DEFAULT_FREQUENT,
                 per_source: int = DEFAULT_PER_SOURCE):
        if frequent < 4 or per_source < 0:
            raise ValueError("a shortlist keeps at least the 4 reserved tokens and >= 0 per source word")
        self.table, self.frequent, self.per_source = table, frequent, per_source
        starts = table.offsets[:-1]
        ends = np.minimum(table.offsets[1:], starts + per_source)
        self._rows = [table.targets[s:e] for s, e in zip(starts.tolist(), ends.tolist())]

    def candidates(self, src: np.ndarray, target_size: int) -> np.ndarray:
        """Sorted int64 target ids for a batch of source ids [B, T] (padding included:
        it adds nothing that <eos> does not)."""
        chosen = np.zeros(target_size, dtype=bool)
        chosen[: self.frequent] = True
        for source_id in np.unique(src).tolist():
            chosen[self._rows[source_id]] = True
        return np.flatnonzero(chosen).astype(np.int64)


def load_shortlist(manifest: Manifest, takes_shortlist: bool) -> Shortlist:
    """The bundle's vocabulary shortlist; UsageError when the bundle has no table, or its
    decoder step (`takes_shortlist`) takes none."""
    if SHORTLIST_FILE in manifest.files and not takes_shortlist and manifest.precision == "int8":
        raise UsageError("--shortlist with compute type int8: the int8 decoder step has no shortlist "
                         "input; drop --shortlist, or use compute type float32")
    if SHORTLIST_FILE not in manifest.files or not takes_shortlist:
        raise UsageError(f"{manifest.root}: this bundle has no shortlist table; re-export "
                         "it with s2s-export (add --data CORPUS for an older checkpoint), or "
                         "translate without --shortlist")
    cfg = manifest.config
    return Shortlist(LexicalTable.load(manifest.path(SHORTLIST_FILE), cfg.src_vocab_size, cfg.tgt_vocab_size))
