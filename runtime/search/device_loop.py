"""Greedy decoding with the decoder's state kept on the device: onnxruntime IO binding.

On CUDA, `Graphs.step` would copy the state [L, B, H] and the memory to the GPU and back
at every step. Here the encoder's outputs and each step's new state stay where the
session wrote them (OrtValues on the device), bound as the next step's inputs; the only
per-step copies are the token ids, in and out. Rows are not dropped as they finish (that
would gather the state on the host): on a GPU a step costs about the same for a full
batch, and a finished row's later tokens are ignored. The CPU path keeps `search.py`'s
loop, which drops finished rows and reads numpy inputs in place (IO binding earned
nothing there; bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from s2s_batch.runtime.bundle.graph_names import NEXT_TOKEN, SRC, SRC_LEN, TOKENS, state_output
from s2s_batch.runtime.bundle.graphs import Graphs
from s2s_batch.runtime.bundle.manifest import BANNED_INPUT, PRESCORE_INPUT, SHORTLIST_INPUT
from s2s_batch.runtime.search.options import Hypothesis, row_caps


def can_decode_on_device(graphs: Graphs, banned: int | None) -> bool:
    """Whether greedy_decode_on_device serves this bundle: the argmax, and any banned id,
    must be taken inside the step graph, of one bundle (not an ensemble's)."""
    return isinstance(graphs, Graphs) and (banned is None or graphs.takes_banned)


def greedy_decode_on_device(graphs: Graphs, src: np.ndarray, src_len: np.ndarray, bos: int, eos: int,
                            max_len: int | np.ndarray, banned: int | None = None, device: str | None = None
                            ) -> list[Hypothesis]:
    """Greedy hypotheses (ids without <eos>) of a source batch, the same as `greedy_decode`
    without scores, attention or shortlist. `device` ("cuda" or "cpu"; default: the
    sessions' own) is where the state lives between steps."""
    device = device or graphs.device
    encoder = graphs.encoder.io_binding()
    for name, value in ((SRC, src), (SRC_LEN, src_len)):
        if name in graphs.encoder_inputs:
            encoder.bind_cpu_input(name, value)
    for name in graphs.encoder_outputs:
        encoder.bind_output(name, device)
    graphs.encoder.run_with_iobinding(encoder)
    encoded = dict(zip(graphs.encoder_outputs, encoder.get_outputs()))

    step = graphs.decoder.io_binding()
    for name, value in encoded.items():  # the state's first values and the fixed memory
        step.bind_ortvalue_input(name, value)
    fixed: dict[str, np.ndarray | None] = {BANNED_INPUT: None if banned is None else np.array([banned], dtype=np.int64),
             # the int8 prescoring kernel is the CPU provider's: the plain layer here
             PRESCORE_INPUT: np.array(False) if graphs.takes_prescore else None,
             SHORTLIST_INPUT: np.zeros(0, dtype=np.int64) if graphs.takes_shortlist else None}
    for name, constant in fixed.items():
        if constant is not None:  # an OrtValue binds an overridable initializer (banned_ids) too
            step.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(constant))
    batch = src.shape[0]
    caps = row_caps(max_len, batch)
    out = np.empty((batch, int(caps.max())), dtype=np.int64)
    lengths = caps.copy()
    live = np.ones(batch, dtype=bool)
    tokens = np.full(batch, bos, dtype=np.int64)
    for t in range(int(caps.max())):
        step.bind_cpu_input(TOKENS, tokens)
        step.bind_output(NEXT_TOKEN, "cpu")
        for name in graphs.state_names:
            step.bind_output(state_output(name), device)
        graphs.decoder.run_with_iobinding(step)
        next_token, *states = step.get_outputs()
        tokens = next_token.numpy()
        out[:, t] = tokens
        finished = live & (tokens == eos)
        lengths[finished] = t
        live &= ~finished & (caps > t + 1)
        if not live.any():
            break
        for name, value in zip(graphs.state_names, states):
            step.bind_ortvalue_input(name, value)
    return [Hypothesis(out[i, : lengths[i]].tolist()) for i in range(batch)]
