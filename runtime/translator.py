"""The library API: Translator(bundle).translate_batch(lines)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from s2s_batch.runtime.bundle.compute_type import select_compute_type
from s2s_batch.runtime.bundle.ensemble import EnsembleGraphs, check_members
from s2s_batch.runtime.bundle.graphs import (
    CUDA_PROVIDER,
    Graphs,
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
from s2s_batch.runtime.call import Call, read_source, target_prefix_ids
from s2s_batch.runtime.errors import ClosedError, UsageError
from s2s_batch.runtime.results import AsyncTranslationResult, ScoringResult, Stats, TranslationResult
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


# The beam of the last tries for a translation that dropped a number (_place_numbers):
# its n-best is searched for a hypothesis that places them all.
RESCUE_BEAM = 4


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
        compute_type: CTranslate2's argument (runtime/bundle/compute_type.py): "default"
            (the bundle's own precision: float32, exact, for the shipped default), "float32",
            "int8" (int8_float32: every weight matmul of the encoder and the decoder step in
            int8, on CPU; needs the bundle's int8 graphs), "auto" (int8 where the bundle has it within 0.3 dev
            BLEU of float32, on CPU), "float16" (fp16 bundles); "bfloat16" is refused in one
            line, as onnxruntime has no bfloat16 matmul for CPUs. The type that runs is
            `self.compute_type`.
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
        self.truecase, self.prescore = truecase, prescore
        self.src_tokenizer, self.tgt_tokenizer = load_tokenizers(self.manifest, truecase)
        self.source_text = load_source_text(self.manifest, (self.src_tokenizer, self.tgt_tokenizer), truecase,
                                            target_language)
        self.src_vocab, self.tgt_vocab = load_vocab(self.manifest, "src"), load_vocab(self.manifest, "tgt")
        providers = providers_for(device)
        self.device = "cuda" if providers[0] == CUDA_PROVIDER else "cpu"  # "auto" resolved
        self.threads, self.inter_threads = thread_layout(self.device, threads, inter_threads, intra_threads)
        self.compute_type, self.manifest = select_compute_type(self.manifest, compute_type, self.device)
        self.ensemble_manifests = [select_compute_type(m, self.compute_type, self.device)[1]
                                   for m in self.ensemble_manifests]
        self._executor: ThreadPoolExecutor | None = None
        self._async: ThreadPoolExecutor | None = None
        self._closed = False
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
                              ensemble=[str(m.root) for m in self.ensemble_manifests], fixed_loop=fixed_loop,
                              compute_type=self.compute_type)

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
        return self._ids_of(self.src_tokenizer.encode(line), self.input_limit)[0]

    def _ids_of(self, tokens: list[str], limit: int | None) -> tuple[list[int], bool]:
        """(encoder ids with <eos>, whether the source was longer than `limit` tokens)."""
        if not tokens:
            return [], False
        ids = self.src_vocab.encode(tokens)
        self.stats.source_tokens += len(ids)
        self.stats.unknown_tokens += sum(i == self.src_vocab.unk for i in ids)
        eos = self.src_vocab.eos
        if limit is None or len(ids) <= limit:
            return ids + [eos], False
        if self.config.pad_source:
            return with_eos(ids, eos, self.config.num_steps, True), True
        if self.long_inputs == "empty":
            return [], True
        return ids[:limit] + [eos], True

    def translate_batch(self, source: Sequence[str] | Sequence[Sequence[str]],
                        target_prefix: Sequence[str | Sequence[str] | None] | None = None, *,
                        max_batch_size: int = 0, batch_type: str | None = None,
                        max_input_length: int | None = None, asynchronous: bool = False,
                        progress_callback: Callable[[int, int], None] | None = None,
                        **options) -> list[TranslationResult] | list[AsyncTranslationResult]:
        """Translate a batch of lines (CTranslate2's translate_batch), as text or as tokens.

        Args:
            source: the lines, any sequence or iterable of strings; or of token lists (the
                source tokenizer's pieces, as CTranslate2 takes them: no sentence splitting
                or text preparation, and each result's `hypotheses` are token lists). One
                bare string is refused: it would be read as its characters.
            target_prefix: per line, the start its translation must have (text, or target
                tokens; None: no prefix): the search continues from it. A line with a
                prefix is not split into sentences.
            max_batch_size: sentences (or tokens, by batch_type) per batch; 0: the
                translator's batch_size.
            batch_type: "examples" or "tokens" for this call; None: the translator's.
            max_input_length: source tokens read per sentence for this call (0: no limit);
                None: the translator's.
            asynchronous: return at once, one AsyncTranslationResult per line (its
                result() waits for it).
            progress_callback: called as batches finish, with (sentences done, sentences
                in all); a file job moves its progress bar with it.
            **options: DecodingOptions fields: beam_size, num_hypotheses, length_penalty,
                length_penalty_type, max_decoding_length, max_length_a, max_length_b,
                min_decoding_length, no_repeat_ngram_size, repetition_penalty,
                sampling_topk, sampling_topp, sampling_temperature, seed, return_scores,
                return_attention, disable_unk, replace_unknowns.
        Returns:
            One TranslationResult per line, in input order: its hypotheses best first, with
            their tokens, ids and scores (and attention if asked); a blank line gives a
            result with no hypotheses. Scores are total log-probabilities, divided by the
            length penalty under beam search (what ranks the hypotheses, as CTranslate2).
        """
        self._check_open()
        lines, tokenized = read_source(source)
        call = self._call(options, max_batch_size, batch_type, max_input_length, self._prefixes(target_prefix, lines),
                          progress=progress_callback)
        if asynchronous:
            future = self._async_pool().submit(self._results, lines, call, tokenized)
            return [AsyncTranslationResult(future, i) for i in range(len(lines))]
        return self._results(lines, call, tokenized)

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this Translator is closed (close() was called or its with block ended); "
                              "create a new Translator")

    def _prefixes(self, target_prefix, lines: list) -> list[list[int]] | None:
        prefixes = target_prefix_ids(target_prefix, len(lines), self.tgt_tokenizer, self.tgt_vocab)
        if prefixes is not None and self.shortlist is not None:
            raise UsageError("the vocabulary shortlist cannot hold a target prefix; drop --shortlist")
        return prefixes

    def _call(self, options: dict, max_batch_size: int = 0, batch_type: str | None = None,
              max_input_length: int | None = None, prefixes: list[list[int]] | None = None,
              with_text: bool = True, progress: Callable[[int, int], None] | None = None) -> Call:
        """One call's settings: the decoding options and the translator's settings it overrides."""
        batch_type = batch_type or self.batch_type
        if batch_type not in ("examples", "tokens"):
            raise ValueError("batch_type must be 'examples' or 'tokens'")
        if max_input_length is not None and max_input_length < 0:
            raise ValueError("max_input_length must be >= 0 (0: no limit)")
        limit = (self.input_limit if max_input_length is None or self.config.pad_source
                 else max_input_length or None)
        return Call(self._options(options), max_batch_size or self.batch_size, batch_type, limit, prefixes,
                    with_text, progress)

    def _pieces(self, lines: list, call: Call, tokenized: bool) -> tuple[list, list[int]]:
        """Each line's sentences (the line itself unless it is split: not tokens, nor a
        line with a target prefix), and the line each piece belongs to."""
        pieces: list = []
        owners: list[int] = []
        for i, line in enumerate(lines):
            whole = tokenized or (call.prefixes is not None and call.prefixes[i])
            parts = self.splitter.split(line) if self.splitter is not None and not whole else [line]
            pieces += parts
            owners += [i] * len(parts)
        return pieces, owners

    def _results(self, lines: list, call: Call, tokenized: bool = False) -> list[TranslationResult]:
        """Each line's result, its sentences' results joined; text only when asked."""
        pieces, owners = self._pieces(lines, call, tokenized)
        if call.prefixes is not None:  # a line with a prefix is one piece
            call = dataclasses.replace(call, prefixes=[call.prefixes[o] for o in owners])
        # Text is prepared for the model and restored after; ids alone are the model's for the
        # line as written (translate_ids: the search measured and compared with PyTorch).
        # a line with a target prefix keeps its edges: its translation must start with the prefix
        prepared = ([self.source_text.prepare(p, edges=not (call.prefixes and call.prefixes[i]))
                     for i, p in enumerate(pieces)]
                    if self.source_text and call.with_text and not tokenized else None)
        results, placed = self._piece_results(pieces, prepared, call, tokenized)
        if prepared is not None:
            self._place_numbers(prepared, call, tokenized, results, placed)
            for i, piece in enumerate(prepared):
                if not piece.text and piece.edges.before:  # symbols only ("😀"): written back as they are
                    results[i] = self._as_written(piece.edges.before, call.opts)
        by_line: list[list[TranslationResult]] = [[] for _ in lines]
        for owner, result in zip(owners, results):
            by_line[owner].append(result)
        merged = [TranslationResult.joined(parts) for parts in by_line]
        if tokenized:  # as CTranslate2 returns them for token input
            for result in merged:
                result.hypotheses = [list(tokens) for tokens in result.tokens]
        self._count_lines(merged)
        return merged

    @staticmethod
    def _as_written(text: str, opts: DecodingOptions) -> TranslationResult:
        """A piece's result that is its own text, as many times as hypotheses are asked
        for, with empty token rows and a score of 0 where scores are asked for."""
        n = 1 if opts.sampling else opts.num_hypotheses
        return TranslationResult([text] * n, [0.0] * n if opts.return_scores else [],
                                 [[] for _ in range(n)] if opts.return_scores else [],
                                 [[] for _ in range(n)], [[] for _ in range(n)],
                                 [[] for _ in range(n)] if opts.return_attention else [])

    def _place_numbers(self, prepared: list, call: Call, tokenized: bool, results: list, placed: list) -> None:
        """Translations that dropped a number or a name's stand-in get more tries
        (runtime/text.py), each kept only where it carries them all: the sentence with
        stand-in numbers (where it has numbers); then the n-best of a beam search (at least
        RESCUE_BEAM wide) over the sentence and over its stand-in form, the first
        hypothesis that carries them."""
        stand_in = {i: p.with_number_stand_ins() for i, p in enumerate(prepared)}
        opts = call.opts
        tries = [(lambda i: stand_in[i], opts)]
        if not opts.sampling:  # sampling's hypotheses are draws, not an n-best to choose from
            rescue = dataclasses.replace(opts, beam_size=max(opts.beam_size, RESCUE_BEAM),
                                         num_hypotheses=max(opts.beam_size, RESCUE_BEAM))
            tries += [(lambda i: prepared[i], rescue), (lambda i: stand_in[i], rescue)]
        for form, try_opts in tries:
            retry = {i: again for i, ok in enumerate(placed) if not ok if (again := form(i)) is not None}
            if not retry:
                continue
            again_call = dataclasses.replace(call, opts=try_opts, progress=None, prefixes=None if call.prefixes
                                             is None else [call.prefixes[i] for i in retry])
            more, more_placed = self._piece_results([p.text for p in retry.values()], list(retry.values()),
                                                    again_call, tokenized,
                                                    pick_placing=opts.num_hypotheses if try_opts is not opts else 0,
                                                    ranked=opts.beam_size > 1)
            for i, result, ok in zip(retry, more, more_placed):
                if ok:
                    results[i], placed[i] = result, True

    def _piece_results(self, pieces: list, prepared: list | None, call: Call, tokenized: bool,
                       pick_placing: int = 0, ranked: bool | None = None) -> tuple[list[TranslationResult], list[bool]]:
        """Each piece's result (restored as its preparation says, when there is one), and
        whether its best translation carried all of its source's numbers and names. With
        `pick_placing` N, the result is the first hypothesis of the n-best that carries them,
        then the others, N in all, scored as the caller's search scores (`ranked`: by the
        length-penalised score, else the total)."""
        texts = [p.text for p in prepared] if prepared is not None else pieces
        results = [TranslationResult(pieces=0) for _ in texts]
        placed = [True] * len(texts)
        opts = call.opts
        detok = self.tgt_tokenizer.decode if call.with_text and not tokenized else None
        for i, tokens, hyps, cropped, cap in self._search_pieces(texts, call, tokenized):
            shown = tokens[: call.input_limit] if cropped else tokens
            result = TranslationResult.of(hyps, self.tgt_vocab, shown, opts.replace_unknowns, detok,
                                          ranked=opts.beam_size > 1)
            best = hyps[0] if hyps else None
            if prepared is not None and pick_placing:
                first = next((k for k, h in enumerate(result.hypotheses) if prepared[i].carries(h)), None)
                if first is not None:  # the placing hypothesis first, then the others in rank order
                    chosen = [hyps[first], *(h for k, h in enumerate(hyps) if k != first)][:pick_placing]
                    best = chosen[0]
                    result = TranslationResult.of(chosen, self.tgt_vocab, shown, opts.replace_unknowns, detok,
                                                  ranked=opts.beam_size > 1 if ranked is None else ranked)
                placed[i] = first is not None
            elif prepared is not None:
                placed[i] = not result.hypotheses or prepared[i].carries(result.hypotheses[0])
            if prepared is not None:
                result.hypotheses = [prepared[i].restore(h) for h in result.hypotheses]
            if not opts.return_scores:  # beam search and sampling keep them anyway
                result.scores, result.token_scores = [], []
            result.cropped = cropped
            result.capped = best is not None and len(best.ids) >= cap
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
        if (opts.replace_unknowns or opts.return_attention or opts.coverage_penalty) and not self.graphs.has_attention:
            raise UsageError("attention weights (--return-attention, --replace-unk, --coverage-penalty, explain) "
                             "need a model with attention (this one's decoder reads one context "
                             "vector); use a bundle trained with s2s-train --attention")
        if self.shortlist is not None and (opts.sampling or opts.beam_size > 1):
            raise UsageError("the vocabulary shortlist serves greedy search only; drop --shortlist "
                             "for beam search or sampling")
        if opts.replace_unknowns:  # the weights are needed, even where they are not returned
            opts = dataclasses.replace(opts, return_attention=True)
        return opts

    def _search_pieces(self, pieces: Sequence, call: Call, tokenized: bool):
        """(piece index, source tokens, hypotheses, cropped, length cap) of each non-blank
        piece, as batches finish."""
        opts, prefixes = call.opts, call.prefixes
        tokens = [list(p) for p in pieces] if tokenized else self.src_tokenizer.encode_many(list(pieces), self.threads)
        encoded = [self._ids_of(t, call.input_limit) for t in tokens]
        sources = [ids for ids, _ in encoded]
        todo = [i for i, ids in enumerate(sources) if ids]
        caps = opts.length_caps(np.array([len(sources[i]) - 1 for i in todo], dtype=np.int64),
                                self.max_decoding_length)
        # A target prefix is always kept whole, and the search goes on after it.
        cap_of = {i: max(cap, len(prefixes[i]) + 1) if prefixes else cap for i, cap in zip(todo, caps.tolist())}
        lengths = [len(sources[i]) for i in todo]
        if call.batch_type == "tokens":  # size is a budget of padded source tokens
            grouped = token_batches(lengths, call.batch_size)
        else:
            # The output does not depend on the batching.
            grouped = stream_batches(lengths, call.batch_size, self.inter_threads)
        batches = [[todo[j] for j in batch] for batch in grouped]

        def search(index: list[int]):
            rows = [sources[i] for i in index]
            src, src_len = pad_batch(rows, self.src_vocab.pad, self._pad_width)
            rows_prefixes = [prefixes[i] for i in index] if prefixes else None
            batch = SourceBatch(src, src_len, rows, np.array([cap_of[i] for i in index]),
                                rows_prefixes if rows_prefixes and any(rows_prefixes) else None)
            return self._search(batch, opts)

        # On CUDA one worker drives the GPU through the batches while this thread turns the
        # finished ones into results (detokenizing): the host's work overlaps the GPU's.
        pooled = self.inter_threads > 1 or self.overlap
        found = self._pool().map(search, batches) if pooled else map(search, batches)
        done = 0
        for index, hyps_of_batch in zip(batches, found):
            for i, hyps in zip(index, hyps_of_batch):
                self.stats.target_tokens += len(hyps[0].ids) if hyps else 0
                yield i, tokens[i], hyps, encoded[i][1], cap_of[i]
            done += len(index)
            if call.progress is not None:
                call.progress(done, len(todo))
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

    def _async_pool(self) -> ThreadPoolExecutor:
        # One call at a time, in order, beside the caller's thread (which may go on).
        if self._async is None:
            self._async = ThreadPoolExecutor(1, thread_name_prefix="s2s-batch-async")
        return self._async

    def _search(self, batch: SourceBatch, opts: DecodingOptions) -> list[list[Hypothesis]]:
        banned = self.tgt_vocab.unk if opts.disable_unk and not opts.replace_unknowns else None
        strategy = choose_strategy(opts, self.graphs, self.device, self.shortlist, banned, self.fixed_loop,
                                   batch.prefixes is not None)
        return strategy.search(self.graphs, batch, Targets(self.tgt_vocab.bos, self.tgt_vocab.eos, banned))

    def translate_iterable(self, source: Iterable[str] | Iterable[Sequence[str]],
                           target_prefix: Iterable[str | Sequence[str] | None] | None = None, *,
                           max_batch_size: int = 0, batch_type: str | None = None,
                           chunk_lines: int | None = None, **options) -> Iterator[TranslationResult]:
        """Translate lines (text or token lists) from any iterable, yielding each line's
        result in order.

        Args:
            source: the lines; read one batch at a time (`chunk_lines`, by default the
                batch size in sentences), so memory stays bounded for an endless stream
                and the first result comes after the first batch.
            target_prefix: an iterable of prefixes (or None), one per line, as for
                translate_batch.
            max_batch_size, batch_type: as for translate_batch.
            chunk_lines: lines read and translated together (sorted by length): more
                lines, more parallel batch streams, later first results.
            **options: DecodingOptions fields, as for translate_batch.
        """
        self._check_open()
        if isinstance(source, str):
            raise TypeError("source must be an iterable of strings, not one string; wrap it in a list")
        if chunk_lines is None:
            by_examples = (batch_type or self.batch_type) == "examples"
            chunk_lines = (max_batch_size or self.batch_size) if by_examples else DEFAULT_BATCH_SIZE
        prefixes = iter(target_prefix) if target_prefix is not None else None
        for chunk in chunks(source, chunk_lines):
            chunk_prefix = [next(prefixes, None) for _ in chunk] if prefixes is not None else None
            yield from self.translate_batch(chunk, chunk_prefix, max_batch_size=max_batch_size,
                                            batch_type=batch_type, **options)

    def score_batch(self, source: Sequence[str] | Sequence[Sequence[str]],
                    target: Sequence[str] | Sequence[Sequence[str]], *, max_batch_size: int = 0,
                    max_input_length: int | None = None) -> list[ScoringResult]:
        """The log-probability of each target given its source, by forced decoding through
        the same decoder step the searches use.

        Args:
            source: source lines (each read whole: no sentence splitting), as text or as
                token lists.
            target: their translations, line for line, as text or as target token lists.
            max_batch_size: sentences per batch (0: the translator's batch_size, in
                sentences).
            max_input_length: source tokens read (0: no limit; None: the translator's).
        Returns:
            One ScoringResult per pair: as CTranslate2's, the target's tokens then the end
            token (<eos>), each with its log-probability; an empty result where the source
            or the target is blank.
        """
        self._check_open()
        (sources, src_tokenized), (targets, tgt_tokenized) = read_source(source), read_source(target)
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets; give one target per source")
        limit = self._call({}, max_input_length=max_input_length).input_limit
        src_tokens = ([list(t) for t in sources] if src_tokenized
                      else self.src_tokenizer.encode_many(list(sources), self.threads))
        src_rows = [self._ids_of(tokens, limit)[0] for tokens in src_tokens]
        tgt_tokens = ([list(t) for t in targets] if tgt_tokenized
                      else self.tgt_tokenizer.encode_many(list(targets), self.threads))
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
        """Finish the asynchronous calls under way, stop the decoding threads; any later call
        raises ClosedError."""
        self._closed = True
        if self._async is not None:
            self._async.shutdown()
            self._async = None
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> Translator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def translate_lines(self, lines: Sequence[str], **options) -> list[str]:
        """The best translation of each line, in input order ('' for a blank line); the
        keyword arguments are translate_batch's."""
        return [r.best for r in self.translate_batch(lines, **options)]

    def translate_ids(self, lines: Sequence[str], *, max_batch_size: int = 0, batch_type: str | None = None,
                      max_input_length: int | None = None, **options) -> list[list[int]]:
        """Target ids (without <eos>) of the best hypothesis of each line (its sentences'
        ids one after another); [] for a blank one. The hypotheses are never detokenized,
        and the line is read as written (no runtime/text.py preparation): for
        measuring the search alone."""
        self._check_open()
        rows, tokenized = read_source(lines)
        call = self._call(options, max_batch_size, batch_type, max_input_length, with_text=False)
        results = self._results(rows, call, tokenized)
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

        self._check_open()
        return translate_stream_file(self, src, dst, FileOptions.of(options))

