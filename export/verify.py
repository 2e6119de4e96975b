"""Parity of the exported graphs with the eager model, checked before a bundle is accepted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from s2s_batch.export.context_gates import CONTEXT, context_gates_weight
from s2s_batch.export.graphs import probe_inputs
from s2s_batch.runtime.bundle.graph_names import LOGITS, NEXT_TOKEN, SRC, SRC_LEN
from s2s_batch.runtime.bundle.graphs import GRAPH_OPTIMIZATION, input_names, log_softmax
from s2s_batch.runtime.bundle.manifest import (
    BANNED_INPUT,
    LOGITS_ONLY_INPUT,
    PRESCORE_INPUT,
    ROW_CANDIDATES_INPUT,
    SHORTLIST_INPUT,
    decoder_io,
    encoder_io,
)
from s2s_batch.train.model import Seq2Seq


class ParityError(RuntimeError):
    """The exported graphs disagree with the eager model."""


def cpu_session(path: Path) -> ort.InferenceSession:
    """A quiet CPU onnxruntime session for checking an exported graph."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = GRAPH_OPTIMIZATION  # as the runtime
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def encoder_feed(session: ort.InferenceSession, src: torch.Tensor, src_len: torch.Tensor) -> dict:
    """The encoder's inputs, limited to those the graph has (seed-semantics graphs have no src_len)."""
    names = {i.name for i in session.get_inputs()}
    return {k: v.numpy() for k, v in ((SRC, src), (SRC_LEN, src_len)) if k in names}


@torch.no_grad()
def max_graph_difference(net: Seq2Seq, encoder_path: Path, decoder_path: Path,
                         batch_sizes=(1, 3, 8), steps: int = 3) -> float:
    """Largest absolute difference between onnxruntime and eager outputs.

    Runs both graphs over probe batches of several sizes, feeding each step's argmax
    back for `steps` steps, comparing states, memory, logits and attention weights.
    """
    net = net.eval().cpu()
    cfg = net.config
    enc, dec = cpu_session(encoder_path), cpu_session(decoder_path)
    _, enc_out = encoder_io(cfg)
    dec_in, dec_out = decoder_io(cfg)
    # A graph with a shortlist input runs its full-vocabulary branch on an empty one, and
    # each step is checked once more on a random shortlist; one with int8 prescoring runs
    # with it off, and once more with it on, where next_token must not change.
    inputs = input_names(dec)
    takes_shortlist, takes_prescore = SHORTLIST_INPUT in inputs, PRESCORE_INPUT in inputs
    full = {SHORTLIST_INPUT: np.zeros(0, dtype=np.int64)} if takes_shortlist else {}
    if takes_prescore:
        full[PRESCORE_INPUT] = np.array(False)
    rng = np.random.default_rng(0)
    gates_weight = context_gates_weight(encoder_path)
    worst = 0.0
    for seed, batch in enumerate(batch_sizes):
        src, src_len = probe_inputs(net, batch, seed=seed + 1)
        got = dict(zip(enc_out, enc.run(enc_out, encoder_feed(enc, src, src_len))))
        state, memory = net.encode(src, src_len)
        states = state if isinstance(state, tuple) else (state,)
        graph_memory = [m.numpy() for m in memory]
        if gates_weight is not None:  # the graphs' context is projected by the encoder
            graph_memory = [m @ gates_weight if name == CONTEXT else m
                            for name, m in zip(cfg.memory_names, graph_memory)]
        eager = dict(zip(enc_out, (*(s.numpy() for s in states), *graph_memory)))
        worst = max(worst, *(float(np.abs(got[k] - eager[k]).max()) for k in enc_out))
        tokens = torch.full((batch,), 2, dtype=torch.long)
        for _ in range(steps):
            # Both sides step from the eager state, so differences do not compound.
            feed = dict(zip(dec_in, (tokens.numpy(), *(s.numpy() for s in states), *graph_memory)))
            got = dict(zip(dec_out, dec.run(dec_out, {**feed, **full})))
            logits, state, weights = net.decoder.step(tokens, state, memory)
            feed.update(full)
            if takes_shortlist:
                worst = max(worst, _shortlist_difference(dec, feed, logits.numpy(), rng))
            if takes_prescore:
                worst = max(worst, _prescore_difference(dec, feed, got[NEXT_TOKEN]))
            if BANNED_INPUT in inputs:
                worst = max(worst, _banned_difference(dec, feed, got[LOGITS], takes_prescore))
            if LOGITS_ONLY_INPUT in inputs:
                worst = max(worst, _logits_only_difference(dec, feed, got[LOGITS]))
            if ROW_CANDIDATES_INPUT in inputs:
                worst = max(worst, _row_candidates_difference(dec, feed, got[LOGITS]))
            states = state if isinstance(state, tuple) else (state,)
            eager = dict(zip(dec_out, (logits, logits.argmax(-1), *states,
                                       *(() if weights is None else (weights,)))))
            worst = max(worst, *(float(np.abs(got[k] - eager[k].numpy()).max())
                                 for k in dec_out if k != NEXT_TOKEN))
            tokens = eager[NEXT_TOKEN]
    return worst


def _shortlist_difference(dec, feed: dict, logits: np.ndarray, rng) -> float:
    """Largest logit difference of the shortlist branch from the full logits at the same
    ids; inf if its next_token is not the best shortlisted id."""
    vocab = logits.shape[1]
    ids = np.union1d(rng.choice(vocab, size=max(1, vocab // 3), replace=False), logits.argmax(-1))
    short_logits, next_token = dec.run([LOGITS, NEXT_TOKEN], {**feed, SHORTLIST_INPUT: ids})
    if not np.array_equal(next_token, ids[short_logits.argmax(-1)]):
        return float("inf")
    return float(np.abs(short_logits - logits[:, ids]).max())


def _prescore_difference(dec, feed: dict, next_token: np.ndarray) -> float:
    """0 when the prescored argmax is the full layer's argmax, else inf."""
    prescored = dec.run([NEXT_TOKEN], {**feed, PRESCORE_INPUT: np.array(True)})[0]
    return 0.0 if np.array_equal(prescored, next_token) else float("inf")


def _logits_only_difference(dec, feed: dict, logits: np.ndarray) -> float:
    """Largest difference of the logits read with LOGITS_ONLY_INPUT set from `logits`."""
    only = dec.run([LOGITS], {**feed, LOGITS_ONLY_INPUT: np.array(True)})[0]
    return float(np.abs(only - logits).max()) if only.shape == logits.shape else float("inf")


def _row_candidates_difference(dec, feed: dict, logits: np.ndarray, count: int = 5) -> float:
    """Largest difference of the step's per-row best log-probabilities from those of
    `logits`; inf unless they come best first and are the best ones."""
    log_probs, ids = dec.run([LOGITS, NEXT_TOKEN], {**feed, ROW_CANDIDATES_INPUT: np.array([count])})
    count = min(count, logits.shape[1])
    want = log_softmax(logits)
    at_ids = np.take_along_axis(want, ids.reshape(len(logits), count), 1)
    kth_best = -np.partition(-want, count - 1, axis=1)[:, count - 1]
    if log_probs.shape != at_ids.shape or (np.diff(log_probs, axis=1) > 0).any() \
            or (at_ids.min(axis=1) < kth_best - 1e-5).any():
        return float("inf")
    return float(np.abs(log_probs - at_ids).max())


def _banned_difference(dec, feed: dict, logits: np.ndarray, takes_prescore: bool) -> float:
    """0 when banning the graph's own argmax ids (`logits`: its full layer's) gives each
    row its best remaining id (with int8 prescoring too, where the graph has it), else inf."""
    banned = np.unique(logits.argmax(-1))
    allowed = logits.copy()
    allowed[:, banned] = -np.inf
    expected = allowed.argmax(-1)
    for prescore in ((False, True) if takes_prescore else (False,)):
        extra = {PRESCORE_INPUT: np.array(prescore)} if takes_prescore else {}
        got = dec.run([NEXT_TOKEN], {**feed, **extra, BANNED_INPUT: banned.astype(np.int64)})[0]
        if not np.array_equal(got, expected):
            return float("inf")
    return 0.0


def verify_loop_step(encoder_path: Path, decoder_path: Path, loop_path: Path, cfg, bos: int,
                     steps: int = 4, tolerance: float = 1e-5) -> None:
    """Raise ParityError unless the loop step (export/loop_step.py) gives the decoder
    step's tokens and states, step by step, on probe batches; `cfg` is the ModelConfig."""
    from s2s_batch.runtime.bundle.graph_names import (
        CAPS,
        EARLY_BIAS,
        FINISHED,
        HISTORY,
        LOGIT_BIAS,
        MIN_LEN,
        POSITIONS,
        STEP,
        TOKENS,
        state_output,
    )

    enc, dec, loop = cpu_session(encoder_path), cpu_session(decoder_path), cpu_session(loop_path)
    _, enc_out = encoder_io(cfg)
    dec_in, _ = decoder_io(cfg)
    head = {PRESCORE_INPUT: np.array(False), SHORTLIST_INPUT: np.zeros(0, np.int64)}
    head = {k: v for k, v in head.items() if k in input_names(dec)}
    carried = [TOKENS, FINISHED, STEP, HISTORY, *cfg.state_names]
    for seed, batch in enumerate((1, 3, 8)):
        gen = np.random.default_rng(seed)
        src_len = gen.integers(1, cfg.num_steps + 1, batch).astype(np.int64)
        src = gen.integers(4, cfg.src_vocab_size, (batch, cfg.num_steps)).astype(np.int64)
        encoded = dict(zip(enc_out, enc.run(enc_out, encoder_feed(enc, torch.from_numpy(src),
                                                                   torch.from_numpy(src_len)))))
        memory = {name: encoded[name] for name in cfg.memory_names}
        values = {TOKENS: np.full(batch, bos, np.int64), FINISHED: np.zeros(batch, bool),
                  STEP: np.array(0, np.int64), HISTORY: np.zeros((batch, steps), np.int64),
                  **{name: encoded[name] for name in cfg.state_names}}
        constants = {CAPS: np.full(batch, steps, np.int64), POSITIONS: np.arange(steps, dtype=np.int64),
                     MIN_LEN: np.array(0, np.int64), LOGIT_BIAS: np.zeros(cfg.tgt_vocab_size, np.float32),
                     EARLY_BIAS: np.zeros(cfg.tgt_vocab_size, np.float32)}
        for _ in range(steps):
            want = dec.run([NEXT_TOKEN, *(state_output(n) for n in cfg.state_names)],
                           {**dict(zip(dec_in, [values[TOKENS], *(values[n] for n in cfg.state_names),
                                                *memory.values()])), **head})
            got = loop.run([state_output(n) for n in carried], {**values, **memory, **constants})
            values = dict(zip(carried, got))
            worst = max(float(np.abs(a - b).max()) for a, b in zip(want[1:], got[4:]))
            if not np.array_equal(want[0], values[TOKENS]) or not worst <= tolerance:
                raise ParityError(f"{loop_path.name}: the loop step differs from the decoder step "
                                  f"(tokens or states by {worst:.3g}); the bundle was not written")
            values[TOKENS] = want[0]  # as the eager check: no compounding
        if not np.array_equal(values[HISTORY][:, -1], values[TOKENS]) or int(values[STEP]) != steps \
                or not values[FINISHED].all():
            raise ParityError(f"{loop_path.name}: the loop step's history, step or finished rows are "
                              "wrong; the bundle was not written")


def verify_graphs(net: Seq2Seq, encoder_path: Path, decoder_path: Path, tolerance: float) -> float:
    """Raise ParityError when the graphs differ from the eager model by more than tolerance."""
    worst = max_graph_difference(net, encoder_path, decoder_path)
    if not worst <= tolerance:
        raise ParityError(f"exported graphs differ from the eager model by {worst:.3g} "
                          f"(tolerance {tolerance:g}); the bundle was not written")
    return worst
