"""Greedy search in fixed shapes with the decoder loop step: the CUDA-graph path.

A decoder step at 1,024 rows is ~65 kernel launches and a host round trip; the GPU's
arithmetic is a small part of it (bench/RESULTS.md). Here each step is one replay of a
CUDA graph that onnxruntime captured (`enable_cuda_graph`), the host waits for the GPU
only every CHECK_EVERY steps, and only the finished flags and, at the end, the tokens
cross to the host.

A captured graph replays fixed shapes at fixed addresses, so:
- a batch is padded to a shape bucket: rows to a power of two (finished from the start),
  the source to a multiple of WIDTH_STEP columns (masked: the memory there is zero and
  its attention weight 0), the token history to a multiple of WIDTH_STEP steps;
- each bucket owns its buffers: every carried value (tokens, finished flags, step,
  history, state) twice, since a step reads one copy and writes the other (onnxruntime
  never writes an input), plus the memory and the constants; and two captured graphs,
  one per direction (`gpu_graph_id`, unique per session);
- the encoder writes its state and memory straight into the bucket's buffers.

The decoder loop step (export/loop_step.py) takes the argmax, bans ids, holds <eos> back
until min_len, writes the history and marks finished rows in the graph. On the CPU
provider the same loop runs without CUDA graphs: that is how the tests check it, token for
token, against the host loop (runtime/search/loop.py), which stays the faster path on CPU
(it drops finished rows and prescores the argmax in int8).
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from s2s_batch.runtime.bundle.graph_names import (
    CAPS,
    EARLY_BIAS,
    FINISHED,
    HISTORY,
    LOGIT_BIAS,
    MIN_LEN,
    POSITIONS,
    SRC,
    SRC_LEN,
    STEP,
    TOKENS,
    state_output,
)
from s2s_batch.runtime.bundle.manifest import BANNED_LOGIT, Manifest
from s2s_batch.runtime.search.options import Hypothesis, row_caps

WIDTH_STEP = 16  # source columns and history steps are padded to multiples of this
MIN_ROWS = 8  # the smallest row bucket; rows go up in powers of two from here
CHECK_EVERY = 8  # steps between the host's reads of the finished flags
LOOP_ROLE = "decoder_loop"
# "0" turns CUDA graphs off (the loop then launches each step's kernels): for a driver or
# onnxruntime build whose capture fails, which can take the process's CUDA context down.
CUDA_GRAPHS_ENV = "S2S_BATCH_CUDA_GRAPHS"
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


def row_bucket(rows: int) -> int:
    """The padded row count of a batch of `rows`: the next power of two, at least MIN_ROWS."""
    return max(MIN_ROWS, 1 << max(0, math.ceil(math.log2(max(rows, 1)))))


def width_bucket(width: int) -> int:
    """`width` rounded up to a multiple of WIDTH_STEP."""
    return WIDTH_STEP * max(1, math.ceil(width / WIDTH_STEP))


@dataclass
class _Bucket:
    """One shape's buffers, bindings and run options."""

    rows: int
    width: int
    steps: int
    carried: list[dict]  # two copies: name → OrtValue
    fixed: dict  # memory and constants: name → OrtValue
    bindings: list = field(default_factory=list)  # reading copy 0 and reading copy 1
    run_options: list = field(default_factory=list)  # [copy][check] → RunOptions
    bias_key: tuple | None = None  # the (banned, eos, min_len) its bias buffers hold


def open_fixed_loop(manifest: Manifest, providers: list[str], threads: int,
                    wanted: bool | None = None) -> FixedShapeLoop | None:
    """The bundle's decoder loop step, opened where greedy search should run it: `wanted`
    True (also on CPU), None (on CUDA); None when it is False or the bundle has no such
    step."""
    from s2s_batch.runtime.bundle.graphs import CUDA_PROVIDER

    if wanted is None:
        wanted = CUDA_PROVIDER in providers[0]
    if not wanted or LOOP_ROLE not in manifest.graphs:
        return None
    return FixedShapeLoop(manifest, providers, threads)


class FixedShapeLoop:
    """The decoder loop step's session and its shape buckets; `decode` is greedy search."""

    def __init__(self, manifest: Manifest, providers: list[str], threads: int, cuda_graph: bool | None = None):
        """`cuda_graph`: capture each bucket's steps on CUDA (None: unless the environment's
        S2S_BATCH_CUDA_GRAPHS is "0")."""
        from s2s_batch.runtime.bundle.graphs import CUDA_PROVIDER, open_session
        from s2s_batch.runtime.errors import BundleError, DeviceError

        cfg = manifest.config
        self.pad = manifest.special_tokens["src"]["pad"]
        self._lock = threading.Lock()  # one batch at a time: the buckets' buffers are shared
        self.device = "cuda" if CUDA_PROVIDER in providers[0] else "cpu"
        self.state_names, self.memory_names = cfg.state_names, cfg.memory_names
        self.vocab_size = cfg.tgt_vocab_size
        self.pad_source = cfg.pad_source
        self.carried_names = [TOKENS, FINISHED, STEP, HISTORY, *cfg.state_names]
        path = manifest.path(manifest.graphs[LOOP_ROLE].file)
        self.cuda_graph = False
        self.capture_error: str | None = None
        if cuda_graph is None:
            cuda_graph = os.environ.get(CUDA_GRAPHS_ENV, "1") != "0"
        if self.device == "cuda" and cuda_graph:
            try:
                self.session = open_session(path, [(CUDA_PROVIDER, {"enable_cuda_graph": "1"}), providers[-1]],
                                            threads)
                self.cuda_graph = True
            except DeviceError:
                raise
            except BundleError as exc:  # onnxruntime refuses capture at load: plain launches
                self.capture_error = str(exc)[:300]
        if not self.cuda_graph:
            self.session = open_session(path, providers, threads)
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        self._buckets: dict[tuple[int, int, int], _Bucket] = {}
        self._graph_ids = 0

    def _value(self, shape, dtype) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_shape_and_type(list(shape), dtype, self.device, 0)

    def _bucket(self, rows: int, width: int, steps: int) -> _Bucket:
        key = (rows, width, steps)
        if key in self._buckets:
            return self._buckets[key]
        shapes = {TOKENS: ((rows,), np.int64), FINISHED: ((rows,), np.bool_), STEP: ((), np.int64),
                  HISTORY: ((rows, steps), np.int64),
                  **{name: self._fixed_shape(name, rows, width) for name in self.state_names}}
        carried = [{name: self._value(*shape) for name, shape in shapes.items()} for _ in range(2)]
        fixed = {CAPS: self._value((rows,), np.int64), POSITIONS: self._value((steps,), np.int64),
                 MIN_LEN: self._value((), np.int64),
                 LOGIT_BIAS: self._value((self.vocab_size,), np.float32),
                 EARLY_BIAS: self._value((self.vocab_size,), np.float32),
                 **{name: self._value(*self._fixed_shape(name, rows, width)) for name in self.memory_names}}
        fixed[POSITIONS].update_inplace(np.arange(steps, dtype=np.int64))
        bucket = _Bucket(rows, width, steps, carried, fixed)
        for reads in (0, 1):
            binding = self.session.io_binding()
            for name in self.carried_names:
                binding.bind_ortvalue_input(name, carried[reads][name])
                binding.bind_ortvalue_output(state_output(name), carried[1 - reads][name])
            for name, value in fixed.items():
                binding.bind_ortvalue_input(name, value)
            bucket.bindings.append(binding)
            self._graph_ids += 1
            options = []
            for check in (False, True):
                run = ort.RunOptions()
                if self.cuda_graph:
                    run.add_run_config_entry("gpu_graph_id", str(self._graph_ids))  # 0 is onnxruntime's
                    if not check:  # return at once: the next step queues behind this one
                        run.add_run_config_entry("disable_synchronize_execution_providers", "1")
                options.append(run)
            bucket.run_options.append(options)
        self._buckets[key] = bucket
        return bucket

    def _fixed_shape(self, name: str, rows: int, width: int) -> tuple[list[int], type]:
        """The shape and dtype of loop input `name` in a bucket: its named dims fixed."""
        value = self._inputs[name]
        dims = {"batch": rows, "src_len": width}
        shape = [d if isinstance(d, int) else dims[d] for d in value.shape]
        return shape, _NUMPY_TYPES[value.type]

    def _set_bias(self, bucket: _Bucket, banned: int | None, eos: int, min_len: int) -> None:
        key = (banned, eos, min_len)
        if bucket.bias_key == key:
            return
        bias = np.zeros(self.vocab_size, np.float32)
        if banned is not None:
            bias[banned] = BANNED_LOGIT
        early = bias.copy()
        early[eos] = BANNED_LOGIT
        bucket.fixed[LOGIT_BIAS].update_inplace(bias)
        bucket.fixed[EARLY_BIAS].update_inplace(early)
        bucket.fixed[MIN_LEN].update_inplace(np.array(min_len, np.int64))
        bucket.bias_key = key

    def decode(self, encoder: ort.InferenceSession, encoder_inputs: set[str], src: np.ndarray,
               src_len: np.ndarray, bos: int, eos: int, max_len: int | np.ndarray,
               banned: int | None = None, min_len: int = 0) -> list[Hypothesis]:
        """Greedy hypotheses (ids without <eos>) of a source batch: the host loop's tokens.
        `encoder` is the bundle's encoder session, on the same device."""
        with self._lock:
            return self._decode(encoder, encoder_inputs, src, src_len, bos, eos, max_len, banned, min_len)

    def _decode(self, encoder, encoder_inputs, src, src_len, bos, eos, max_len, banned, min_len):
        batch = src.shape[0]
        caps = row_caps(max_len, batch)
        rows = row_bucket(batch)
        width = src.shape[1] if self.pad_source else width_bucket(int(src_len.max()))
        steps = width_bucket(int(caps.max()))
        src_padded = np.full((rows, width), self.pad, dtype=np.int64)
        used = min(width, src.shape[1])
        src_padded[:batch, :used] = src[:, :used]
        lengths = np.ones(rows, dtype=np.int64)
        lengths[:batch] = src_len
        bucket = self._bucket(rows, width, steps)
        start = bucket.carried[0]
        enc = encoder.io_binding()
        for name, value in ((SRC, src_padded), (SRC_LEN, lengths)):
            if name in encoder_inputs:
                enc.bind_cpu_input(name, value)
        for name in self.state_names:
            enc.bind_ortvalue_output(name, start[name])
        for name in self.memory_names:
            enc.bind_ortvalue_output(name, bucket.fixed[name])
        encoder.run_with_iobinding(enc)
        finished = np.ones(rows, dtype=bool)
        finished[:batch] = caps <= 0
        padded_caps = np.ones(rows, dtype=np.int64)
        padded_caps[:batch] = caps
        start[TOKENS].update_inplace(np.full(rows, bos, dtype=np.int64))
        start[FINISHED].update_inplace(finished)
        start[STEP].update_inplace(np.array(0, np.int64))
        start[HISTORY].update_inplace(np.full((rows, steps), eos, dtype=np.int64))
        bucket.fixed[CAPS].update_inplace(padded_caps)
        self._set_bias(bucket, banned, eos, min_len)
        last = int(caps.max())
        reads = 0
        for t in range(last):
            check = (t + 1) % CHECK_EVERY == 0 or t + 1 == last
            self.session.run_with_iobinding(bucket.bindings[reads], bucket.run_options[reads][check])
            reads = 1 - reads
            if check and bucket.carried[reads][FINISHED].numpy().all():
                break
        history = bucket.carried[reads][HISTORY].numpy()[:batch]
        # Each row's length: its first <eos> (finished rows write <eos> from then on), or its cap.
        ended = history == eos
        lengths = np.where(ended.any(axis=1), ended.argmax(axis=1), steps)
        lengths = np.minimum(lengths, caps)
        return [Hypothesis(ids[:length]) for ids, length in zip(history.tolist(), lengths.tolist())]
