"""onnxruntime sessions: device selection, threads, and the two graphs as callables."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from s2s_batch.runtime.batching import length_chunks
from s2s_batch.runtime.bundle.graph_names import (
    ATTENTION,
    LOGITS,
    NEXT_TOKEN,
    SRC,
    SRC_LEN,
    TOKENS,
    expected_type,
    state_output,
)
from s2s_batch.runtime.bundle.manifest import (
    BANNED_INPUT,
    LOGITS_ONLY_INPUT,
    PRESCORE_INPUT,
    ROW_CANDIDATES_INPUT,
    SHORTLIST_INPUT,
    Manifest,
    decoder_io,
    encoder_io,
)
from s2s_batch.runtime.errors import BundleError, DeviceError

DEVICES = ("cpu", "cuda", "auto")
CUDA_PROVIDER = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_FULL_VOCABULARY = np.zeros(0, dtype=np.int64)  # an empty shortlist: every target id
_ON, _OFF = np.array(True), np.array(False)
# Not ORT_ENABLE_ALL: its layout pass (for convolutions) earns nothing on these graphs and
# crashes onnxruntime 1.32's CPU provider on fp16 ones. Export checks graphs at the same level.
GRAPH_OPTIMIZATION = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
# Source rows per encoder run: a batch's rows are encoded in length-sorted chunks, each
# padded to its own longest row (a batch of 256 pads to its longest; bench/RESULTS.md).
ENCODE_CHUNK = 64
# A chunk takes in the next rows of a shorter length while that pads at most this many
# tokens, else the rows start a chunk of their own (runtime/batching.length_chunks): on
# the bench's 1,000 test lines 11% padding → 0.6%, the encoder 10% faster (0 and 48: 1%
# and 3% slower than 16).
ENCODE_RUN_TOKENS = 16


def cpu_quota() -> int:
    """CPUs this process may use: the cgroup quota if set, else the affinity mask."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, math.floor(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return len(os.sched_getaffinity(0))


def providers_for(device: str, announce=lambda msg: print(msg, file=sys.stderr)) -> list[str]:
    """Execution providers for cpu, cuda or auto; raise DeviceError if cuda is not there."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    available = ort.get_available_providers()
    if device == "cpu":
        return [_CPU]
    if device == "cuda":
        if CUDA_PROVIDER not in available:
            raise DeviceError("--device cuda: onnxruntime has no CUDA provider here; on a machine with a GPU "
                              "swap its wheel (pip uninstall -y onnxruntime && pip install onnxruntime-gpu), "
                              "or use --device cpu")
        return [CUDA_PROVIDER, _CPU]
    chosen = [CUDA_PROVIDER, _CPU] if CUDA_PROVIDER in available else [_CPU]
    announce(f"s2s-batch: --device auto chose {'cuda' if len(chosen) == 2 else 'cpu'}")
    return chosen


def thread_layout(device: str, threads: int | None, inter_threads: int | None,
                   intra_threads: int) -> tuple[int, int]:
    """(threads in all, batch streams side by side), from CTranslate2's inter/intra counts
    or a total."""
    if intra_threads:
        inter_threads = inter_threads or 1
        threads = inter_threads * intra_threads
    threads = threads or cpu_quota()
    # On CPU, single-thread batch streams side by side beat one multi-thread stream
    # (3,700 against 2,270 sentences/s on 2 cores; bench/RESULTS.md).
    return threads, inter_threads or (threads if device == "cpu" else 1)


def open_session(path: Path, providers: list, threads: int) -> ort.InferenceSession:
    """An InferenceSession; a graph onnxruntime cannot load becomes a BundleError.
    `providers` as onnxruntime takes them: names, or (name, options) pairs."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = GRAPH_OPTIMIZATION
    opts.log_severity_level = 3
    # A graph read from bytes would look for external data beside the working directory;
    # bundles never use it, so it is looked for where nothing can be (refused at load).
    opts.add_session_config_entry("session.model_external_initializers_file_folder_path", os.devnull)
    try:
        # From the bytes, not the path: a graph that names external data (a file beside
        # it, or outside the bundle) then cannot load any; bundles never use it.
        session = ort.InferenceSession(Path(path).read_bytes(), opts, providers=providers)
    except Exception as exc:  # onnxruntime raises several unrelated types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{path}: onnxruntime cannot load it ({first[:200]}); "
                          "re-export the bundle with s2s-export") from None
    first = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if "cuda" in first.lower() and CUDA_PROVIDER not in session.get_providers():
        raise DeviceError("--device cuda: the CUDA provider failed to start (no GPU or driver?); "
                          "use --device cpu")
    return session


def input_names(session: ort.InferenceSession) -> set[str]:
    """The names a session can be fed: its inputs and the initializers a feed may override
    (optional inputs with a default, such as a decoder step's banned_ids)."""
    return {i.name for i in (*session.get_inputs(), *session.get_overridable_initializers())}


class Graphs:
    """The encoder and the decoder step of a bundle, fed and read by name."""

    def __init__(self, manifest: Manifest, providers: list[str], threads: int | None = None,
                 prescore: bool = True):
        cfg = manifest.config
        threads = threads or cpu_quota()
        self.device = "cuda" if CUDA_PROVIDER in providers[0] else "cpu"
        self.encoder = open_session(manifest.path(manifest.graphs["encoder"].file), providers, threads)
        self.decoder = open_session(manifest.path(manifest.graphs["decoder_step"].file), providers, threads)
        self.state_names, self.memory_names = cfg.state_names, cfg.memory_names
        self.vocab_size = cfg.tgt_vocab_size
        self.has_attention = cfg.attention != "none"
        self._chunked = not cfg.pad_source  # seed-semantics encoders read num_steps columns
        encoder, step = manifest.graphs["encoder"], manifest.graphs["decoder_step"]
        # What each graph can be fed is what the manifest lists (checked against the graphs
        # by _check_io), never probed from the sessions: the bundle's revision says it.
        self.encoder_inputs = set(encoder.inputs)
        _, self.encoder_outputs = encoder_io(cfg)
        self._dec_inputs, _ = decoder_io(cfg)
        state_outputs = [state_output(name) for name in cfg.state_names]
        self._step_outputs = [NEXT_TOKEN, *state_outputs]
        self._logit_outputs = [LOGITS, *state_outputs]
        self.takes_shortlist = step.takes(SHORTLIST_INPUT)
        self.takes_banned = step.takes(BANNED_INPUT)  # next_token can skip ids in the graph
        # The int8 prescoring kernel is onnxruntime's CPU one: on CUDA the plain layer is faster.
        self.takes_prescore = step.takes(PRESCORE_INPUT)
        self.prescores = self.takes_prescore and prescore and self.device == "cpu"
        self._logits_only = {LOGITS_ONLY_INPUT: _ON} if step.takes(LOGITS_ONLY_INPUT) else {}
        self.takes_row_candidates = step.takes(ROW_CANDIDATES_INPUT)
        self._check_io(manifest)

    def _check_io(self, manifest: Manifest) -> None:
        """The one check of the graphs against the bundle's spec: every name the manifest
        lists and the model config needs, and each value's element type and rank."""
        for role, session in (("encoder", self.encoder), ("decoder_step", self.decoder)):
            declared = manifest.graphs[role]
            required = {i.name for i in session.get_inputs()}
            differ = (required ^ set(declared.inputs)) | (set(declared.optional_inputs) - input_names(session)) | (
                set(declared.outputs) - {o.name for o in session.get_outputs()})
            if differ:
                raise BundleError(f"{manifest.path(declared.file)}: the graph and the manifest disagree on "
                                  f"{sorted(differ)}; re-export the bundle")
        step = manifest.graphs["decoder_step"]
        missing = ((set(self.encoder_outputs) - set(manifest.graphs["encoder"].outputs))
                   | (set(self._dec_inputs) - set(step.inputs)) | (set(self._step_outputs) - set(step.outputs)))
        if missing or not self.encoder_inputs <= {SRC, SRC_LEN}:
            raise BundleError(f"{manifest.root}: graph inputs/outputs do not match the manifest's "
                              f"model ({', '.join(sorted(missing))}); re-export the bundle")
        for role, session in (("encoder", self.encoder), ("decoder_step", self.decoder)):
            for value in (*session.get_inputs(), *session.get_outputs()):
                want = expected_type(value.name)
                if want is not None and (value.type, len(value.shape)) != want:
                    raise BundleError(f"{manifest.path(manifest.graphs[role].file)}: {value.name} is a "
                                      f"{value.type} of rank {len(value.shape)}, not a {want[0]} of rank "
                                      f"{want[1]}; re-export the bundle with s2s-export")
        logits_dim = self.decoder.get_outputs()[0].shape[-1]
        if isinstance(logits_dim, int) and logits_dim != manifest.config.tgt_vocab_size:
            decoder_file = manifest.path(manifest.graphs["decoder_step"].file)
            raise BundleError(f"{decoder_file}: output size {logits_dim} does not match "
                              f"the target vocabulary ({manifest.config.tgt_vocab_size}); re-export the bundle")

    def encode(self, src: np.ndarray, src_len: np.ndarray) -> tuple[dict, dict]:
        """(src [B,T], src_len [B]) → ({state name: [L,B,H]}, {memory name: [B,...]}).

        The memory (what the decoder step reads of the source) has the batch first, so a
        row is dropped or repeated with the same indexing for every tensor in it.
        """
        if self._chunked and src.shape[0] > 1:
            # Measured on CPU only: on CUDA the chunks stay as they were (each at most
            # ENCODE_CHUNK rows, whatever their lengths).
            run_tokens = ENCODE_RUN_TOKENS if self.device == "cpu" else math.inf
            chunks = length_chunks(src_len, ENCODE_CHUNK, run_tokens)
            if len(chunks) > 1:
                return self._encode_chunks(src, src_len, chunks)
        return self._encode_rows(src, src_len)

    def _encode_rows(self, src: np.ndarray, src_len: np.ndarray) -> tuple[dict, dict]:
        feed = {SRC: src, SRC_LEN: src_len}
        outputs = self.encoder.run(self.encoder_outputs, {k: feed[k] for k in self.encoder_inputs})
        n = len(self.state_names)
        return dict(zip(self.state_names, outputs[:n])), dict(zip(self.memory_names, outputs[n:]))

    def _encode_chunks(self, src: np.ndarray, src_len: np.ndarray, chunks: list[np.ndarray]) -> tuple[dict, dict]:
        """encode() of each chunk of rows (runtime/batching.length_chunks), each cut to its
        own longest row, put back in the batch's order. Memory with a source axis (attention
        models) is padded back to the batch's width with zeros, which its mask leaves out."""
        encoded = [self._encode_rows(src[rows, : max(1, int(src_len[rows].max()))], src_len[rows])
                   for rows in chunks]
        back = np.argsort(np.concatenate(chunks))  # chunk order → batch order

        def widened(value: np.ndarray) -> np.ndarray:
            if not self.has_attention:
                return value
            pad = [(0, 0)] * value.ndim
            pad[1] = (0, src.shape[1] - value.shape[1])
            return np.pad(value, pad)

        states = {name: np.concatenate([c[0][name] for c in encoded], axis=1)[:, back]
                  for name in self.state_names}
        memory = {name: np.concatenate([widened(c[1][name]) for c in encoded])[back]
                  for name in self.memory_names}
        return states, memory

    def step(self, tokens: np.ndarray, states: dict, memory: dict, with_attention: bool = False,
             shortlist: np.ndarray | None = None, banned: np.ndarray | None = None):
        """One decoder step → (argmax ids [B], new states, attention weights [B,T] or None);
        the logits never leave the session. With a shortlist (sorted int64 target ids) the
        argmax is taken over those ids only; `banned` ids (int64, needs takes_banned) are never
        taken."""
        return self._run_step(self._step_outputs, tokens, states, memory, with_attention, shortlist,
                              self.prescores, banned)

    def step_logits(self, tokens: np.ndarray, states: dict, memory: dict, with_attention: bool = False,
                    shortlist: np.ndarray | None = None):
        """One decoder step → (logits [B, V], new states, attention weights [B,T] or None),
        for scores, sampling, and beam search with per-row bans; with a shortlist, logits
        [B, K] of its ids. Where the step can, it skips its argmax (nobody reads it)."""
        return self._run_step(self._logit_outputs, tokens, states, memory, with_attention, shortlist,
                              extra=self._logits_only)

    def step_candidates(self, tokens: np.ndarray, states: dict, memory: dict, count: int,
                        with_attention: bool = False):
        """One decoder step → ((log-probabilities [B, C], ids [B, C]) of each row's C best
        continuations, best first; new states; attention weights or None). Needs
        takes_row_candidates; the [B, V] logits stay in the graph."""
        if not self.takes_row_candidates:
            raise BundleError("this bundle's decoder step returns no per-row candidates; re-export it "
                              "with s2s-export")
        names = [LOGITS, *self._step_outputs, *([ATTENTION] if with_attention else [])]
        feed = self._feed(tokens, states, memory, extra={ROW_CANDIDATES_INPUT: np.array([count], np.int64)})
        log_probs, ids, *rest = self.decoder.run(names, feed)
        weights = rest.pop() if with_attention else None
        return (log_probs, ids.reshape(log_probs.shape)), dict(zip(self.state_names, rest)), weights

    def _run_step(self, outputs: list[str], tokens, states: dict, memory: dict, with_attention: bool,
                  shortlist: np.ndarray | None = None, prescore: bool = False,
                  banned: np.ndarray | None = None, extra: dict | None = None):
        names = outputs + [ATTENTION] if with_attention else outputs
        first, *rest = self.decoder.run(names, self._feed(tokens, states, memory, shortlist, prescore,
                                                          banned, extra))
        weights = rest.pop() if with_attention else None
        return first, dict(zip(self.state_names, rest)), weights

    def _feed(self, tokens, states: dict, memory: dict, shortlist: np.ndarray | None = None,
              prescore: bool = False, banned: np.ndarray | None = None, extra: dict | None = None) -> dict:
        feed = {TOKENS: tokens, **memory, **states, **(extra or {})}
        if banned is not None:
            if not self.takes_banned:
                raise BundleError("this bundle's decoder step takes no banned ids; re-export it with s2s-export")
            feed[BANNED_INPUT] = banned
        if self.takes_prescore:
            feed[PRESCORE_INPUT] = _ON if prescore else _OFF
        if self.takes_shortlist:
            feed[SHORTLIST_INPUT] = _FULL_VOCABULARY if shortlist is None else shortlist
        elif shortlist is not None:
            raise BundleError("this bundle's decoder step takes no shortlist; re-export it with s2s-export")
        return feed


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32, as the eager model computes it."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def select_rows(memory: dict, rows: np.ndarray) -> dict:
    """The memory of some batch rows (an index array or a boolean mask), in that order."""
    return {name: value[rows] for name, value in memory.items()}
