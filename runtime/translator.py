"""The library API: Translator(bundle).translate_batch(lines)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np

from s2s_batch.runtime.batching import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_INPUT_LENGTH,
    chunks,
    pad_batch,
    sorted_batches,
    stream_batches,
    token_batches,
)
from s2s_batch.runtime.bundle.ensemble import EnsembleGraphs, check_members
from s2s_batch.runtime.bundle.graphs import (
    CUDA_PROVIDER,
    Graphs,
    check_compute_type,
    providers_for,
    thread_layout,
)
from s2s_batch.runtime.bundle.manifest import (
    load_manifest,
)
from s2s_batch.runtime.bundle.shortlist import Shortlist, load_shortlist
from s2s_batch.runtime.bundle.tokens import EOS as EOS_TOKEN
from s2s_batch.runtime.bundle.tokens import (
    load_tokenizers,
    load_vocab,
    with_eos,
)
from s2s_batch.runtime.errors import UsageError
from s2s_batch.runtime.results import ScoringResult, Stats, TranslationResult
from s2s_batch.runtime.search.fixed_loop import FixedShapeLoop, open_fixed_loop
from s2s_batch.runtime.search.loop import Forced, decode
from s2s_batch.runtime.search.options import DecodingOptions, Hypothesis
from s2s_batch.runtime.search.strategies import SourceBatch, Targets, choose_strategy
from s2s_batch.runtime.text import SentenceSplitter, load_source_text

__all__ = ["Translator", "TranslationResult", "default_bundle_dir"]  # TranslationResult: results.py

LONG_INPUTS = ("crop", "empty")


def default_bundle_dir() -> Path:
    """The bundle shipped with the package (models/fra-eng)."""
    return Path(str(resources.files("s2s_batch.models") / "fra-eng"))


class Translator:
    """A loaded bundle with its two onnxruntime sessions.

    Args:
        bundle_dir: the bundle folder; None loads the shipped default (models/fra-eng).
        device: "cpu", "cuda" or "auto" (CUDA when onnxruntime has its provider).
        batch_size: sentences per batch, or with batch_type="tokens" padded source
            tokens per batch (CTranslate2's names).
        max_decoding_length: a fixed cap on generated tokens, for every call that gives
            none; None caps each sentence by its length (DecodingOptions.length_caps:
            2 x source tokens + 10 by default).
        threads: CPU threads in all (default: this container's CPU quota).
        inter_threads: batches decoded at once (default: `threads` on CPU, 1 on CUDA),
            each on threads // inter_threads onnxruntime threads.
        intra_threads: CTranslate2's name for the threads of each batch stream: when
            given, threads = inter_threads (default 1) x intra_threads.
        compute_type: CTranslate2's argument; here the bundle fixes the precision
            (s2s-export --quantize), so only "default", "auto" or the bundle's own
            ("float32" for fp32, "int8", "float16" for fp16) are taken.
        batch_type: "examples" or "tokens": what batch_size counts.
        shortlist: greedy search chooses each batch's words among a vocabulary shortlist
            (runtime/bundle/shortlist.py): faster with large target vocabularies, and not always
            the full output layer's words.
        truecase: word-level bundles with a truecasing table write cased text; False
            writes the model's lowercase words. SentencePiece bundles with a source
            casing table read ALL CAPS and Title Case sentences in their usual case
            (runtime/text.py); False gives the model the sentence as written.
        prescore: on CPU, in bundles exported with it, each greedy argmax comes through
            int8 scores checked by exact fp32 ones: the same words, faster.
        split_sentences: a line of several sentences is split (runtime/text.py), each
            sentence translated alone, and the translations joined into the line's result.
        max_input_length: source tokens read per sentence (0: no limit); seed-semantics
            models always read num_steps - 1 at most.
        long_inputs: past max_input_length, "crop" the sentence or leave it "empty".
        source_language: the sentence splitter's language.
        target_language: how the translation writes the source's numbers ("fr": 1 250,
            3,5, 2 h 30; any other: as the source writes them).
        ensemble: more bundles, decoded with this one as an ensemble (runtime/bundle/ensemble.py:
            their log-probabilities averaged at each step); they must share its
            tokenizers and vocabularies. This bundle's tables (casing, shortlist) serve.
        fixed_loop: greedy search with the bundle's decoder loop step, in fixed shapes and
            CUDA graphs (runtime/search/fixed_loop.py; `s2s-export --device cuda` adds the step).
            None: on CUDA where the bundle has the step; True: on CPU too (same tokens,
            slower there); False: never.
    """

    def __init__(self, bundle_dir: str | Path | None = None, *, device: str = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE, max_decoding_length: int | None = None,
                 threads: int | None = None, inter_threads: int | None = None,
                 intra_threads: int = 0, compute_type: str = "default", batch_type: str = "examples",
                 shortlist: bool | Shortlist = False,
                 truecase: bool = True, prescore: bool = True, split_sentences: bool = True,
                 max_input_length: int = DEFAULT_MAX_INPUT_LENGTH, long_inputs: str = "crop",
                 source_language: str = "en", target_language: str = "fr",
                 ensemble: Sequence[str | Path] = (), fixed_loop: bool | None = None):
        if batch_type not in ("examples", "tokens"):
            raise ValueError("batch_type must be 'examples' or 'tokens'")
        if max_input_length < 0:
            raise ValueError("max_input_length must be >= 0 (0: no limit)")
        if long_inputs not in LONG_INPUTS:
            raise ValueError(f"long_inputs must be one of {LONG_INPUTS}")
        self.manifest = load_manifest(Path(bundle_dir) if bundle_dir else default_bundle_dir())
        self.ensemble_manifests = [load_manifest(Path(path)) for path in ensemble]
        check_members([self.manifest, *self.ensemble_manifests])
        self.config = self.manifest.config
        check_compute_type(compute_type, self.manifest.precision)
        self.truecase, self.prescore = truecase, prescore
        self.src_tokenizer, self.tgt_tokenizer = load_tokenizers(self.manifest, truecase)
        self.source_text = load_source_text(self.manifest, (self.src_tokenizer, self.tgt_tokenizer), truecase,
                                            target_language)
        self.src_vocab, self.tgt_vocab = load_vocab(self.manifest, "src"), load_vocab(self.manifest, "tgt")
        providers = providers_for(device)
        self.device = "cuda" if providers[0] == CUDA_PROVIDER else "cpu"  # "auto" resolved
        self.threads, self.inter_threads = thread_layout(self.device, threads, inter_threads, intra_threads)
        self._executor: ThreadPoolExecutor | None = None
        self.overlap = self.device == "cuda"  # searches on a worker thread (bench/cuda_greedy.py)
        self.graphs, self.fixed_loop = self._open_graphs(providers, prescore, fixed_loop)
        self.batch_size, self.batch_type = batch_size, batch_type
        self.max_decoding_length = max_decoding_length  # None: each sentence's cap follows its length
        self.max_input_length, self.long_inputs = max_input_length, long_inputs
        # Seed-semantics encoders read exactly num_steps columns: cut there, as trained.
        self.input_limit = (self.config.num_steps - 1 if self.config.pad_source
                            else max_input_length or None)
        self.source_language = source_language
        self.splitter = SentenceSplitter(source_language) if split_sentences else None
        if shortlist is True and self.ensemble_manifests:
            raise UsageError("the vocabulary shortlist serves one bundle; drop --shortlist for an ensemble")
        self.shortlist = (load_shortlist(self.manifest, self.graphs.takes_shortlist) if shortlist is True
                          else (shortlist or None))
        self.stats = Stats()
        self._settings = dict(device=self.device, batch_size=batch_size, batch_type=batch_type,
                              max_decoding_length=max_decoding_length, threads=self.threads,
                              inter_threads=self.inter_threads, shortlist=self.shortlist is not None,
                              truecase=truecase, prescore=prescore, split_sentences=split_sentences,
                              max_input_length=max_input_length, long_inputs=long_inputs,
                              source_language=source_language, target_language=target_language,
                              ensemble=[str(m.root) for m in self.ensemble_manifests], fixed_loop=fixed_loop)

    def _open_graphs(self, providers: list[str], prescore: bool,
                     fixed_loop: bool | None) -> tuple[Graphs | EnsembleGraphs, FixedShapeLoop | None]:
        """The bundle's sessions (with the ensemble's members), and its fixed-shape loop."""
        graph_threads = max(1, self.threads // self.inter_threads)
        graphs = Graphs(self.manifest, providers, graph_threads, prescore)
        loop = open_fixed_loop(self.manifest, providers, graph_threads,
                               fixed_loop if not self.ensemble_manifests else False)
        if not self.ensemble_manifests:
            return graphs, loop
        members = [graphs, *(Graphs(m, providers, graph_threads, prescore) for m in self.ensemble_manifests)]
        return EnsembleGraphs(members), loop

    def settings(self) -> dict:
        """The keyword arguments that build this translator again from the same bundle
        (device resolved, thread counts filled in): what Ray actors are built with."""
        return dict(self._settings)

    def source_ids(self, line: str) -> list[int]:
        """Token ids the encoder sees for a line, as one sentence (with <eos>, cropped at
        the input limit); [] if blank."""
        return self._ids_of(self.src_tokenizer.encode(line))[0]

    def _ids_of(self, tokens: list[str]) -> tuple[list[int], bool]:
        """(encoder ids with <eos>, whether the source was longer than the input limit)."""
        if not tokens:
            return [], False
        ids = self.src_vocab.encode(tokens)
        self.stats.source_tokens += len(ids)
        self.stats.unknown_tokens += sum(i == self.src_vocab.unk for i in ids)
        eos = self.src_vocab.eos
        if self.input_limit is None or len(ids) <= self.input_limit:
            return ids + [eos], False
        if self.config.pad_source:
            return with_eos(ids, eos, self.config.num_steps, True), True
        if self.long_inputs == "empty":
            return [], True
        return ids[: self.input_limit] + [eos], True

    @staticmethod
    def _lines(lines) -> list[str]:
        """The lines as a list (any iterable of strings); one bare string is refused."""
        if isinstance(lines, str):
            raise TypeError("lines must be a sequence of strings, not one string; wrap it in a list")
        lines = list(lines)
        for number, line in enumerate(lines):
            if not isinstance(line, str):
                raise TypeError(f"lines[{number}] is {type(line).__name__}, not a string; decode bytes "
                                "first (line.decode('utf-8')) and pass '' for an empty line")
        return lines

    def _pieces(self, lines: list[str]) -> tuple[list[str], list[int]]:
        """Each line's sentences (the line itself unless it is split), and the line each
        piece belongs to."""
        pieces: list[str] = []
        owners: list[int] = []
        for i, line in enumerate(lines):
            parts = self.splitter.split(line) if self.splitter is not None else [line]
            pieces += parts
            owners += [i] * len(parts)
        return pieces, owners

    def translate_batch(self, source: Sequence[str], *, max_batch_size: int = 0,
                        **options) -> list[TranslationResult]:
        """Translate a batch of lines (CTranslate2's translate_batch, on text).

        Args:
            source: the lines, any sequence or iterable of strings (one bare string is
                refused: it would be read as its characters).
            max_batch_size: sentences (or tokens, by the translator's batch_type) per
                batch; 0: the translator's batch_size.
            **options: DecodingOptions fields: beam_size, num_hypotheses, length_penalty,
                length_penalty_type, max_decoding_length, max_length_a, max_length_b,
                min_decoding_length, no_repeat_ngram_size, sampling_topk, sampling_topp,
                sampling_temperature, seed, return_scores, return_attention, disable_unk,
                replace_unknowns.
        Returns:
            One TranslationResult per line, in input order: its hypotheses best first, as
            text, with their tokens, ids and scores (and attention if asked); a blank line
            gives a result with no hypotheses.
        """
        return self._results(self._lines(source), max_batch_size, self._options(options), True)

    def _results(self, lines: list[str], max_batch_size: int, opts: DecodingOptions,
                 with_text: bool) -> list[TranslationResult]:
        """Each line's result, its sentences' results joined; text only when asked."""
        pieces, owners = self._pieces(lines)
        # Text is prepared for the model and restored after; ids alone are the model's for the
        # line as written (translate_ids: the search measured and compared with PyTorch).
        prepared = [self.source_text.prepare(p) for p in pieces] if self.source_text and with_text else None
        results, placed = self._piece_results(pieces, prepared, max_batch_size, opts, with_text)
        if prepared is not None and with_text:
            # A translation that dropped a number gets a second try (runtime/text.py).
            retry = {i: again for i, ok in enumerate(placed) if not ok
                     if (again := prepared[i].with_number_stand_ins()) is not None}
            second, second_placed = self._piece_results([p.text for p in retry.values()], list(retry.values()),
                                                        max_batch_size,
                                                        opts, with_text)
            for i, result, ok in zip(retry, second, second_placed):
                if ok:
                    results[i] = result
        by_line: list[list[TranslationResult]] = [[] for _ in lines]
        for owner, result in zip(owners, results):
            by_line[owner].append(result)
        merged = [TranslationResult.joined(parts) for parts in by_line]
        self._count_lines(merged)
        return merged

    def _piece_results(self, pieces: list, prepared: list | None, max_batch_size: int, opts: DecodingOptions,
                       with_text: bool) -> tuple[list[TranslationResult], list[bool]]:
        """Each piece's result (restored as its preparation says, when there is one), and
        whether its best translation placed all of its source's numbers."""
        texts = [p.text for p in prepared] if prepared is not None else pieces
        results = [TranslationResult(pieces=0) for _ in texts]
        placed = [True] * len(texts)
        for i, tokens, hyps, cropped, cap in self._search_pieces(texts, max_batch_size, opts):
            shown = tokens[: self.input_limit] if cropped else tokens
            result = TranslationResult.of(hyps, self.tgt_vocab, shown, opts.replace_unknowns,
                                          self.tgt_tokenizer.decode if with_text else None)
            if prepared is not None and with_text:
                placed[i] = not result.hypotheses or prepared[i].places_numbers(result.hypotheses[0])
                result.hypotheses = [prepared[i].restore(h) for h in result.hypotheses]
            if not opts.return_scores:  # beam search and sampling keep them anyway
                result.scores, result.token_scores = [], []
            result.cropped = cropped
            result.capped = bool(hyps) and len(hyps[0].ids) >= cap
            results[i] = result
        return results, placed

    def _count_lines(self, results: list[TranslationResult]) -> None:
        self.stats.lines += len(results)
        for result in results:
            self.stats.split_lines += result.pieces > 1
            self.stats.capped_lines += result.capped
            self.stats.truncated_lines += result.cropped

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

    def _search_pieces(self, pieces: Sequence[str], max_batch_size: int, opts: DecodingOptions):
        """(piece index, source tokens, hypotheses, cropped, length cap) of each non-blank
        piece, as batches finish."""
        tokens = self.src_tokenizer.encode_many(list(pieces), self.threads)
        encoded = [self._ids_of(t) for t in tokens]
        sources = [ids for ids, _ in encoded]
        todo = [i for i, ids in enumerate(sources) if ids]
        caps = opts.length_caps(np.array([len(sources[i]) - 1 for i in todo], dtype=np.int64),
                                self.max_decoding_length)
        cap_of = dict(zip(todo, caps.tolist()))
        size = max_batch_size or self.batch_size
        lengths = [len(sources[i]) for i in todo]
        if self.batch_type == "tokens":  # size is a budget of padded source tokens
            grouped = token_batches(lengths, size)
        else:
            # The output does not depend on the batching.
            grouped = stream_batches(lengths, size, self.inter_threads)
        batches = [[todo[j] for j in batch] for batch in grouped]

        def search(index: list[int]):
            rows = [sources[i] for i in index]
            src, src_len = pad_batch(rows, self.src_vocab.pad, self._pad_width)
            return self._search(SourceBatch(src, src_len, rows, np.array([cap_of[i] for i in index])), opts)

        # On CUDA one worker drives the GPU through the batches while this thread turns the
        # finished ones into results (detokenizing): the host's work overlaps the GPU's.
        pooled = self.inter_threads > 1 or self.overlap
        found = self._pool().map(search, batches) if pooled else map(search, batches)
        for index, hyps_of_batch in zip(batches, found):
            for i, hyps in zip(index, hyps_of_batch):
                self.stats.target_tokens += len(hyps[0].ids) if hyps else 0
                yield i, tokens[i], hyps, encoded[i][1], cap_of[i]
        for i in range(len(pieces)):
            if not sources[i] and encoded[i][1]:  # too long, and long_inputs="empty"
                yield i, tokens[i], [], True, 0

    @property
    def _pad_width(self) -> int | None:
        """Seed-semantics encoders read every source padded to num_steps, as trained;
        the others read each batch padded to its longest row."""
        return self.config.num_steps if self.config.pad_source else None

    def _pool(self) -> ThreadPoolExecutor:
        # onnxruntime releases the GIL while it runs, and one session serves concurrent runs.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.inter_threads, thread_name_prefix="s2s-batch")
        return self._executor

    def _search(self, batch: SourceBatch, opts: DecodingOptions) -> list[list[Hypothesis]]:
        banned = self.tgt_vocab.unk if opts.disable_unk and not opts.replace_unknowns else None
        strategy = choose_strategy(opts, self.graphs, self.device, self.shortlist, banned, self.fixed_loop)
        return strategy.search(self.graphs, batch, Targets(self.tgt_vocab.bos, self.tgt_vocab.eos, banned))

    def translate_iterable(self, source: Iterable[str], *, max_batch_size: int = 0,
                           chunk_lines: int = 1024, **options) -> Iterator[TranslationResult]:
        """Translate lines from any iterable, yielding each line's result in order.

        Args:
            source: the lines; read `chunk_lines` at a time, so memory stays bounded for an
                endless stream.
            max_batch_size: as for translate_batch.
            chunk_lines: lines translated together (batched and sorted by length).
            **options: DecodingOptions fields, as for translate_batch.
        """
        if isinstance(source, str):
            raise TypeError("source must be an iterable of strings, not one string; wrap it in a list")
        for chunk in chunks(source, chunk_lines):
            yield from self.translate_batch(chunk, max_batch_size=max_batch_size, **options)

    def score_batch(self, source: Sequence[str], target: Sequence[str], *,
                    max_batch_size: int = 0) -> list[ScoringResult]:
        """The log-probability of each target given its source, by forced decoding through
        the same decoder step the searches use.

        Args:
            source: source lines (each read whole: no sentence splitting).
            target: their translations, line for line.
            max_batch_size: sentences per batch (0: the translator's batch_size, in
                sentences).
        Returns:
            One ScoringResult per pair: the target's tokens and <eos>, each with its
            log-probability; an empty result where the source or the target is blank.
        """
        sources, targets = self._lines(source), self._lines(target)
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets; give one target per source")
        src_tokens = self.src_tokenizer.encode_many(list(sources), self.threads)
        src_rows = [self._ids_of(tokens)[0] for tokens in src_tokens]
        tgt_tokens = self.tgt_tokenizer.encode_many(list(targets), self.threads)
        todo = [i for i in range(len(sources)) if src_rows[i] and tgt_tokens[i]]
        results = [ScoringResult() for _ in sources]
        size = max_batch_size or (self.batch_size if self.batch_type == "examples" else DEFAULT_BATCH_SIZE)
        for batch in sorted_batches([len(src_rows[i]) for i in todo], size):
            index = [todo[j] for j in batch]
            src, src_len = pad_batch([src_rows[i] for i in index], self.src_vocab.pad, self._pad_width)
            forced = [self.tgt_vocab.encode(tgt_tokens[i]) + [self.tgt_vocab.eos] for i in index]
            log_probs = self._forced_log_probs(src, src_len, forced)
            for i, ids, row in zip(index, forced, log_probs):
                results[i] = ScoringResult(self.tgt_vocab.decode(ids[:-1]) + [EOS_TOKEN], row[: len(ids)])
        return results

    def _forced_log_probs(self, src, src_len, forced: list[list[int]]) -> list[list[float]]:
        """Each row's log-probability of its forced target ids, step by step (the one
        loop, runtime/search/loop.py, with the Forced policy)."""
        policy = Forced(forced, self.tgt_vocab.bos, self.tgt_vocab.eos)
        return [hyps[0].token_scores for hyps in decode(self.graphs, src, src_len, policy, policy.steps)]

    def close(self) -> None:
        """Stop the decoding threads; the translator is not used afterwards."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> Translator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def translate_lines(self, lines: Sequence[str], *, max_batch_size: int = 0, **options) -> list[str]:
        """The best translation of each line, in input order ('' for a blank line); the
        arguments are translate_batch's."""
        return [r.best for r in self.translate_batch(lines, max_batch_size=max_batch_size, **options)]

    def translate_ids(self, lines: Sequence[str], *, max_batch_size: int = 0,
                      **options) -> list[list[int]]:
        """Target ids (without <eos>) of the best hypothesis of each line (its sentences'
        ids one after another); [] for a blank one. The hypotheses are never detokenized,
        and the line is read as written (no runtime/text.py preparation): for
        measuring the search alone."""
        results = self._results(self._lines(lines), max_batch_size, self._options(options), False)
        return [r.ids[0] if r.ids else [] for r in results]

    def translate_file(self, src, dst, **options) -> Stats:
        """Translate a file line for line: output line N answers input line N.

        Args:
            src: the input path, or "-" for stdin; a name ending in .gz is read through gzip.
            dst: the output path, or "-" for stdout; a file is written whole or not at all.
            **options: FileOptions fields (errors, chunk_lines, progress, resume,
                input_format, output_format, target_field, with_scores) and DecodingOptions
                fields (beam_size, length_penalty, ...), or `decoding`, a dict of the latter.
        Returns:
            The translator's Stats (counts over all its calls so far).
        """
        from s2s_batch.runtime.files.job import translate_stream_file  # the file layer sits above
        from s2s_batch.runtime.files.options import FileOptions

        return translate_stream_file(self, src, dst, FileOptions.of(options))
