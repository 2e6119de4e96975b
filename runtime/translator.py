"""The library API: Translator(bundle).translate_batch(lines)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from s2s_batch.runtime.batching import pad_batch, sorted_batches, token_batches
from s2s_batch.runtime.errors import BundleError, UsageError
from s2s_batch.runtime.manifest import (SHORTLIST_FILE, SRC_SPM_FILE, SRC_VOCAB_FILE, TGT_SPM_FILE,
                                        TGT_VOCAB_FILE, TRUECASE_FILE, load_manifest)
from s2s_batch.runtime.beam import beam_search
from s2s_batch.runtime.decoding import DecodingOptions, Hypothesis
from s2s_batch.runtime.device_loop import can_decode_on_device, greedy_decode_on_device
from s2s_batch.runtime.sampling import sample_decode
from s2s_batch.runtime.search import greedy_decode
from s2s_batch.runtime.session import CUDA_PROVIDER, Graphs, cpu_quota, providers_for
from s2s_batch.runtime.shortlist import LexicalTable, Shortlist
from s2s_batch.runtime.textio import translate_stream_file
from s2s_batch.runtime.tokenize import SentencePieceTokenizer, WordTokenizer, detokenize
from s2s_batch.runtime.truecase import Recaser
from s2s_batch.runtime.vocab import Vocab, with_eos

DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_TOKENS = 4096  # with batch_type="tokens"


def default_bundle_dir() -> Path:
    """The bundle shipped with the package (models/fra-eng)."""
    return Path(str(resources.files("s2s_batch.models") / "fra-eng"))


@dataclass
class TranslationResult:
    """The n-best hypotheses of one line, best first (empty for a blank line)."""

    hypotheses: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # total log-probability, <eos> included
    token_scores: list[list[float]] = field(default_factory=list)
    ids: list[list[int]] = field(default_factory=list)
    # with return_attention: per hypothesis, per target token (<eos> included), the weights
    # over the source tokens the encoder saw (<eos> included)
    attention: list[list[list[float]]] = field(default_factory=list)

    @classmethod
    def of(cls, hyps: list[Hypothesis], vocab: Vocab, source_tokens: list[str],
           replace_unknowns: bool = False, detok=detokenize) -> "TranslationResult":
        """Detokenized hypotheses; with replace_unknowns each <unk> becomes the source word
        with the highest attention weight at that step."""
        texts = []
        for h in hyps:
            words = vocab.decode(h.ids)
            if replace_unknowns:
                words = [source_tokens[int(np.argmax(h.attention[t][: len(source_tokens)]))]
                         if i == vocab.unk else word for t, (i, word) in enumerate(zip(h.ids, words))]
            texts.append(detok(words))
        width = len(source_tokens) + 1  # the encoder's input: the tokens and <eos>
        return cls(texts, [h.score for h in hyps], [h.token_scores for h in hyps],
                   [h.ids for h in hyps],
                   [[[float(x) for x in w[:width]] for w in h.attention] for h in hyps])

    @property
    def best(self) -> str:
        return self.hypotheses[0] if self.hypotheses else ""


@dataclass
class Stats:
    """Counts accumulated over a Translator's calls."""

    lines: int = 0
    source_tokens: int = 0
    unknown_tokens: int = 0
    truncated_lines: int = 0
    target_tokens: int = 0  # of the best hypotheses, <eos> not counted

    def add(self, other: "Stats") -> None:
        """Accumulate another Stats (e.g. a worker's) into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Translator:
    """A loaded bundle with its two onnxruntime sessions.

    Translator(bundle_dir=None, device="cpu") loads the shipped default bundle when
    bundle_dir is None; device is "cpu", "cuda" or "auto". batch_size counts sentences, or
    with batch_type="tokens" padded source tokens per batch (CTranslate2's names). `threads` is the CPU threads in
    all (default: this container's CPU quota); `inter_threads` how many batches are
    decoded at once (default: `threads` on CPU, 1 on CUDA), each run on
    threads // inter_threads onnxruntime threads. With `shortlist`, greedy search
    chooses each batch's words among a vocabulary shortlist (runtime/shortlist.py):
    faster where the shortlist is much smaller than the target vocabulary, and not always
    the same words as the full output layer. A word-level bundle
    with a truecasing table writes cased text ("Tom est à Boston."); truecase=False
    writes the model's lowercase words. `prescore` (on CPU, in bundles exported with it)
    finds each greedy step's argmax with int8 scores checked by exact fp32 ones: the
    same words, faster (export/output_head.py); prescore=False runs the plain layer.
    """

    def __init__(self, bundle_dir: str | Path | None = None, *, device: str = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE, max_len: int | None = None,
                 threads: int | None = None, inter_threads: int | None = None,
                 batch_type: str = "examples", shortlist: bool | Shortlist = False,
                 truecase: bool = True, prescore: bool = True):
        self.manifest = load_manifest(Path(bundle_dir) if bundle_dir else default_bundle_dir())
        self.config = self.manifest.config
        self.truecase, self.prescore = truecase, prescore
        self.src_tokenizer, self.tgt_tokenizer = self._load_tokenizers(truecase)
        self.src_vocab = self._load_vocab(SRC_VOCAB_FILE, self.config.src_vocab_size)
        self.tgt_vocab = self._load_vocab(TGT_VOCAB_FILE, self.config.tgt_vocab_size)
        providers = providers_for(device)
        self.device = "cuda" if providers[0] == CUDA_PROVIDER else "cpu"  # "auto" resolved
        threads = threads or cpu_quota()
        # On CPU, single-thread batch streams side by side beat one multi-thread stream
        # (3,700 against 2,270 sentences/s on 2 cores; bench/RESULTS.md).
        self.inter_threads = inter_threads or (threads if self.device == "cpu" else 1)
        self._executor = None
        self.graphs = Graphs(self.manifest, providers, max(1, threads // self.inter_threads), prescore)
        if batch_type not in ("examples", "tokens"):
            raise ValueError("batch_type must be 'examples' or 'tokens'")
        self.batch_size, self.batch_type = batch_size, batch_type
        self.max_len = max_len or self.config.max_decode_len
        self.shortlist = self._load_shortlist() if shortlist is True else (shortlist or None)
        self.stats = Stats()

    def _load_shortlist(self) -> Shortlist:
        if SHORTLIST_FILE not in self.manifest.data["files"] or not self.graphs.takes_shortlist:
            raise UsageError(f"{self.manifest.root}: this bundle has no shortlist table; re-export "
                             "it with s2s-export (add --data CORPUS for an older checkpoint), or "
                             "translate without --shortlist")
        table = LexicalTable.load(self.manifest.path(SHORTLIST_FILE), self.config.src_vocab_size,
                                  self.config.tgt_vocab_size)
        return Shortlist(table)

    def _load_tokenizers(self, truecase: bool):
        if self.config.tokenizer == "word":
            cased = truecase and TRUECASE_FILE in self.manifest.data["files"]
            return WordTokenizer(), WordTokenizer(Recaser.load(self.manifest.path(TRUECASE_FILE))
                                                  if cased else None)
        tokenizers = []
        for name in (SRC_SPM_FILE, TGT_SPM_FILE):
            path = self.manifest.path(name)
            try:
                tokenizers.append(SentencePieceTokenizer(path.read_bytes(), str(path)))
            except (OSError, RuntimeError) as exc:
                raise BundleError(f"{path}: unreadable SentencePiece model ({exc}); "
                                  "re-export the bundle") from None
        return tuple(tokenizers)

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
        return self._ids_of(self.src_tokenizer.encode(line))

    def _ids_of(self, tokens: list[str]) -> list[int]:
        if not tokens:
            return []
        ids = self.src_vocab.encode(tokens)
        self.stats.source_tokens += len(ids)
        self.stats.unknown_tokens += sum(i == self.src_vocab.unk for i in ids)
        if len(ids) + 1 > self.config.num_steps:
            self.stats.truncated_lines += 1
        return with_eos(ids, self.src_vocab.eos, self.config.num_steps, self.config.pad_source)

    def translate(self, lines: Sequence[str], *, batch_size: int | None = None,
                  **decoding) -> list[TranslationResult]:
        """Hypotheses for each line, in input order; `decoding` are DecodingOptions fields
        (beam_size, num_hypotheses, length_penalty, sampling_topk, ...)."""
        opts = self._options(decoding)
        results = [TranslationResult() for _ in lines]
        for i, tokens, hyps in self._search_lines(lines, batch_size, opts):
            results[i] = TranslationResult.of(hyps, self.tgt_vocab,
                                              tokens[: self.config.num_steps - 1],
                                              opts.replace_unknowns, self.tgt_tokenizer.decode)
        return results

    def _options(self, decoding: dict) -> DecodingOptions:
        opts = DecodingOptions(**decoding)
        if (opts.replace_unknowns or opts.return_attention) and not self.graphs.has_attention:
            raise UsageError("attention weights (--return-attention, --replace-unk, explain) "
                             "need a model with attention (this one's decoder reads one context "
                             "vector); use a bundle trained with s2s-train --attention")
        if self.shortlist is not None and (opts.sampling or opts.beam_size > 1):
            raise UsageError("the vocabulary shortlist serves greedy search only; drop --shortlist "
                             "for beam search or sampling")
        if opts.replace_unknowns:  # the weights are needed, even where they are not returned
            opts = dataclasses.replace(opts, return_attention=True)
        return opts

    def _search_lines(self, lines: Sequence[str], batch_size: int | None, opts: DecodingOptions):
        """(line index, source tokens, hypotheses) of each non-blank line, as batches finish."""
        max_len = opts.max_decoding_length or self.max_len
        tokens = [self.src_tokenizer.encode(line) for line in lines]
        sources = [self._ids_of(t) for t in tokens]
        self.stats.lines += len(lines)
        todo = [i for i, ids in enumerate(sources) if ids]
        width = self.config.num_steps if self.config.pad_source else None
        size = batch_size or self.batch_size
        lengths = [len(sources[i]) for i in todo]
        if self.batch_type == "tokens":  # size is a budget of padded source tokens
            grouped = token_batches(lengths, size)
        else:
            # Enough batches for every stream; the output does not depend on the batching.
            grouped = sorted_batches(lengths, max(1, min(size, -(-len(todo) // self.inter_threads))))
        batches = [[todo[j] for j in batch] for batch in grouped]

        def search(index: list[int]):
            rows = [sources[i] for i in index]
            src, src_len = pad_batch(rows, self.src_vocab.pad, width)
            return self._search(src, src_len, rows, max_len, opts)

        found = map(search, batches) if self.inter_threads == 1 else self._pool().map(search, batches)
        for index, hyps_of_batch in zip(batches, found):
            for i, hyps in zip(index, hyps_of_batch):
                self.stats.target_tokens += len(hyps[0].ids) if hyps else 0
                yield i, tokens[i], hyps

    def _pool(self) -> ThreadPoolExecutor:
        # onnxruntime releases the GIL while it runs, and one session serves concurrent runs.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.inter_threads, thread_name_prefix="s2s-batch")
        return self._executor

    def _search(self, src, src_len, rows, max_len: int, opts: DecodingOptions):
        bos, eos = self.tgt_vocab.bos, self.tgt_vocab.eos
        banned = self.tgt_vocab.unk if opts.disable_unk and not opts.replace_unknowns else None
        if opts.sampling:
            return [[h] for h in sample_decode(self.graphs, src, src_len, rows, bos, eos, max_len,
                                               opts, banned)]
        if opts.beam_size == 1:  # greedy search, as CTranslate2 treats beam_size 1
            shortlist = (None if self.shortlist is None
                         else self.shortlist.candidates(src, self.config.tgt_vocab_size))
            if (self.device == "cuda" and shortlist is None and not opts.return_scores
                    and not opts.return_attention and can_decode_on_device(self.graphs, banned)):
                return [[h] for h in greedy_decode_on_device(self.graphs, src, src_len, bos, eos,
                                                             max_len, banned)]
            return [[h] for h in greedy_decode(self.graphs, src, src_len, bos, eos, max_len,
                                               with_scores=opts.return_scores, banned=banned,
                                               with_attention=opts.return_attention,
                                               shortlist=shortlist)]
        return beam_search(self.graphs, src, src_len, bos, eos, max_len, opts, banned)

    def translate_batch(self, lines: Sequence[str], *, batch_size: int | None = None,
                        **decoding) -> list[str]:
        """The best translation of each line, in input order; a blank line gives ''."""
        return [r.best for r in self.translate(lines, batch_size=batch_size, **decoding)]

    def translate_ids(self, lines: Sequence[str], *, batch_size: int | None = None,
                      **decoding) -> list[list[int]]:
        """Target ids (without <eos>) of the best hypothesis of each line; [] for a blank one.

        Writes no text: the hypotheses are never detokenized."""
        ids: list[list[int]] = [[] for _ in lines]
        for i, _, hyps in self._search_lines(lines, batch_size, self._options(decoding)):
            ids[i] = hyps[0].ids if hyps else []
        return ids

    def translate_file(self, src, dst, **options) -> Stats:
        """Translate a text file (or '-') line for line.

        Options: errors, chunk_lines, progress, resume, input_format (an InputFormat),
        output_format ('text', 'jsonl' or 'tsv'), decoding (a dict of DecodingOptions fields).
        A path ending in .gz is read or written through gzip.
        """
        return translate_stream_file(self, src, dst, **options)
