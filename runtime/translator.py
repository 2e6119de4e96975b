"""The library API: Translator(bundle).translate_batch(lines)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from s2s_batch.runtime.batching import pad_batch, sorted_batches
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.manifest import SRC_VOCAB_FILE, TGT_VOCAB_FILE, load_manifest
from s2s_batch.runtime.search import greedy_decode
from s2s_batch.runtime.session import Graphs, providers_for
from s2s_batch.runtime.textio import translate_stream_file
from s2s_batch.runtime.tokenize import detokenize, tokenize
from s2s_batch.runtime.vocab import Vocab, with_eos

DEFAULT_BATCH_SIZE = 256


def default_bundle_dir() -> Path:
    """The bundle shipped with the package (models/fra-eng)."""
    return Path(str(resources.files("s2s_batch.models") / "fra-eng"))


@dataclass
class Stats:
    """Counts accumulated over a Translator's calls."""

    lines: int = 0
    source_tokens: int = 0
    unknown_tokens: int = 0
    truncated_lines: int = 0


class Translator:
    """A loaded bundle with its two onnxruntime sessions.

    Translator(bundle_dir=None, device="cpu") loads the shipped default bundle when
    bundle_dir is None; device is "cpu", "cuda" or "auto".
    """

    def __init__(self, bundle_dir: str | Path | None = None, *, device: str = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE, max_len: int | None = None,
                 threads: int | None = None):
        self.manifest = load_manifest(Path(bundle_dir) if bundle_dir else default_bundle_dir())
        self.config = self.manifest.config
        self.src_vocab = self._load_vocab(SRC_VOCAB_FILE, self.config.src_vocab_size)
        self.tgt_vocab = self._load_vocab(TGT_VOCAB_FILE, self.config.tgt_vocab_size)
        self.graphs = Graphs(self.manifest, providers_for(device), threads)
        self.batch_size = batch_size
        self.max_len = max_len or self.config.max_decode_len
        self.stats = Stats()

    def _load_vocab(self, name: str, expected_size: int) -> Vocab:
        path = self.manifest.path(name)
        try:
            vocab = Vocab.load(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"{path}: unreadable vocabulary ({exc}); re-export the bundle") from None
        if len(vocab) != expected_size:
            raise BundleError(f"{path}: {len(vocab)} tokens but the model expects {expected_size}; "
                              "the vocabulary does not belong to these graphs, re-export the bundle")
        return vocab

    def source_ids(self, line: str) -> list[int]:
        """Token ids the encoder sees for a line (with <eos>, cut to num_steps); [] if blank."""
        tokens = tokenize(line)
        if not tokens:
            return []
        ids = self.src_vocab.encode(tokens)
        self.stats.source_tokens += len(ids)
        self.stats.unknown_tokens += sum(i == self.src_vocab.unk for i in ids)
        if len(ids) + 1 > self.config.num_steps:
            self.stats.truncated_lines += 1
        return with_eos(ids, self.src_vocab.eos, self.config.num_steps, self.config.pad_source)

    def translate_ids(self, lines: Sequence[str], *, batch_size: int | None = None,
                      max_len: int | None = None) -> list[list[int]]:
        """Greedy target ids (without <eos>) for each line, in input order."""
        sources = [self.source_ids(line) for line in lines]
        self.stats.lines += len(lines)
        results: list[list[int]] = [[] for _ in lines]
        todo = [i for i, ids in enumerate(sources) if ids]
        width = self.config.num_steps if self.config.pad_source else None
        tgt = self.tgt_vocab
        for batch in sorted_batches([len(sources[i]) for i in todo], batch_size or self.batch_size):
            index = [todo[j] for j in batch]
            src, src_len = pad_batch([sources[i] for i in index], self.src_vocab.pad, width)
            decoded = greedy_decode(self.graphs, src, src_len, tgt.bos, tgt.eos,
                                    max_len or self.max_len)
            for i, ids in zip(index, decoded):
                results[i] = ids.tolist()
        return results

    def translate_batch(self, lines: Sequence[str], *, batch_size: int | None = None,
                        max_len: int | None = None) -> list[str]:
        """One translation per line, in input order; a blank line gives an empty string."""
        decoded = self.translate_ids(lines, batch_size=batch_size, max_len=max_len)
        return [detokenize(self.tgt_vocab.decode(ids)) for ids in decoded]

    def translate_file(self, src, dst, **options) -> Stats:
        """Translate a text file (or '-') line for line; options: errors, chunk_lines, progress."""
        return translate_stream_file(self, src, dst, **options)
