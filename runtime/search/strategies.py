"""Search strategies behind one interface: greedy search, beam search and sampling.

As CTranslate2's `SearchStrategy` (include/ctranslate2/decoding.h), each strategy takes
the decoder-step graphs and a batch of sources and returns each row's hypotheses, best
first. `choose_strategy` picks one from the decoding options; greedy search has three
backends: the host loop (runtime/search/loop.py), and on CUDA the fixed-shape loop step
(fixed_loop.py) or the loop whose state stays bound on the device (device_loop.py). Beam
search and sampling are policies of the host loop (beam.py, sampling.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from s2s_batch.runtime.bundle.graphs import Graphs
from s2s_batch.runtime.bundle.shortlist import Shortlist
from s2s_batch.runtime.search.beam import beam_search
from s2s_batch.runtime.search.device_loop import can_decode_on_device, greedy_decode_on_device
from s2s_batch.runtime.search.fixed_loop import FixedShapeLoop
from s2s_batch.runtime.search.loop import greedy_decode
from s2s_batch.runtime.search.options import DecodingOptions, Hypothesis
from s2s_batch.runtime.search.sampling import sample_decode


@dataclass(frozen=True)
class SourceBatch:
    """Padded source ids [B, T], their lengths [B], each row's unpadded ids, each row's
    cap on generated tokens [B], and each row's target prefix (ids; None: no row has one)."""

    src: np.ndarray
    src_len: np.ndarray
    rows: list[list[int]]
    caps: np.ndarray
    prefixes: list[list[int]] | None = None


@dataclass(frozen=True)
class Targets:
    """The target side's special ids, and the id never generated (None: none)."""

    bos: int
    eos: int
    banned: int | None = None


class SearchStrategy(Protocol):
    """One search (greedy, beam or sampling) over the bundle's graphs: `search` takes a
    source batch and returns each row's hypotheses, best first."""
    def search(self, graphs: Graphs, batch: SourceBatch, targets: Targets) -> list[list[Hypothesis]]:
        """The hypotheses of each source row, best first."""
        ...


@dataclass(frozen=True)
class GreedySearch:
    """The argmax at every step; `shortlist` limits each batch's choices; `on_device`
    keeps the state bound on the sessions' device between steps."""

    opts: DecodingOptions
    shortlist: Shortlist | None = None
    on_device: bool = False
    fixed_loop: FixedShapeLoop | None = None  # the decoder loop step in fixed shapes

    def search(self, graphs: Graphs, batch: SourceBatch, targets: Targets) -> list[list[Hypothesis]]:
        """One hypothesis per row."""
        if self.fixed_loop is not None:
            found = self.fixed_loop.decode(graphs.encoder, graphs.encoder_inputs, batch.src, batch.src_len,
                                           targets.bos, targets.eos, batch.caps, targets.banned,
                                           self.opts.min_decoding_length)
        elif self.on_device:
            found = greedy_decode_on_device(graphs, batch.src, batch.src_len, targets.bos, targets.eos,
                                            batch.caps, targets.banned)
        else:
            candidates = (None if self.shortlist is None
                          else self.shortlist.candidates(batch.src, graphs.vocab_size))
            found = greedy_decode(graphs, batch.src, batch.src_len, targets.bos, targets.eos, batch.caps,
                                  with_scores=self.opts.return_scores, banned=targets.banned,
                                  with_attention=self.opts.return_attention, shortlist=candidates,
                                  min_len=self.opts.min_decoding_length,
                                  no_repeat_ngram=self.opts.no_repeat_ngram_size,
                                  repetition_penalty=self.opts.repetition_penalty, prefixes=batch.prefixes)
        return [[h] for h in found]


@dataclass(frozen=True)
class BeamSearch:
    """Beam search with `opts.beam_size` beams per sentence."""

    opts: DecodingOptions

    def search(self, graphs: Graphs, batch: SourceBatch, targets: Targets) -> list[list[Hypothesis]]:
        """The `opts.num_hypotheses` best hypotheses of each row."""
        return beam_search(graphs, batch.src, batch.src_len, targets.bos, targets.eos, batch.caps,
                           self.opts, targets.banned, batch.prefixes)


@dataclass(frozen=True)
class Sampling:
    """Random sampling (top-k, top-p, temperature), seeded per sentence."""

    opts: DecodingOptions

    def search(self, graphs: Graphs, batch: SourceBatch, targets: Targets) -> list[list[Hypothesis]]:
        """One sampled hypothesis per row."""
        return [[h] for h in sample_decode(graphs, batch.src, batch.src_len, batch.rows, targets.bos,
                                           targets.eos, batch.caps, self.opts, targets.banned,
                                           batch.prefixes)]


def choose_strategy(opts: DecodingOptions, graphs: Graphs, device: str, shortlist: Shortlist | None,
                    banned: int | None, fixed_loop: FixedShapeLoop | None = None,
                    prefixed: bool = False) -> SearchStrategy:
    """Sampling when opts.sampling_topk != 1; greedy search when beam_size is 1 (as
    CTranslate2 treats it): with the decoder loop step in fixed shapes where the graphs
    have one (CUDA) and nothing needs the logits on the host, else on the device when
    nothing needs them; beam search otherwise. `prefixed`: some row has a target prefix
    (read on the host)."""
    if opts.sampling:
        return Sampling(opts)
    if opts.beam_size > 1:
        return BeamSearch(opts)
    on_host = opts.return_scores or opts.return_attention or opts.needs_histories or prefixed
    if fixed_loop is not None and shortlist is None and not on_host:
        return GreedySearch(opts, fixed_loop=fixed_loop)
    on_device = (device == "cuda" and shortlist is None and not on_host and not opts.min_decoding_length
                 and can_decode_on_device(graphs, banned))
    return GreedySearch(opts, shortlist, on_device)
