"""The decoder loop step: the greedy step without branches, for CUDA graphs.

onnxruntime captures a CUDA graph only of a graph without control flow (`If`), whose
inputs and outputs stay at the same device addresses from run to run. The decoder step's
output head has `If` branches (prescoring, shortlist, row candidates), and the host reads
its argmax after every step. `write_loop_step` derives from the traced step (after the
cell and gate passes, before the head's rewrite, so that the arithmetic is the CPU
step's) a step that carries the whole greedy loop's state:

    inputs   tokens [B], finished [B] bool, step [] int64, history [B, T] int64, state...
             (the carried values), memory..., caps [B] int64, positions [T] int64
             (0..T-1), min_len [] int64, logit_bias [V], early_bias [V] (the constants)
    outputs  tokens_out, finished_out, step_out, history_out, state_out... (each carried
             value's next one)

Each step adds `logit_bias` (0, or BANNED_LOGIT for banned ids) to the logits, or
`early_bias` while step < min_len (<eos> banned too), takes the argmax, writes <eos> in
rows already finished, stores the token in history column `step`, and marks the rows
that wrote <eos> or reached their cap. The runtime binds each carried output to the
other copy of its input (two buffers, two captured graphs) and reads `finished` only
every few steps (runtime/search/fixed_loop.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.export.output_head import traced_head
from s2s_batch.runtime.bundle.graph_names import (
    CAPS,
    EARLY_BIAS,
    FINISHED,
    HISTORY,
    LOGIT_BIAS,
    LOGITS,
    MIN_LEN,
    POSITIONS,
    STEP,
    TOKENS,
    state_output,
)

BATCH, WIDTH = "batch", "max_len"  # the dim names the runtime fixes per shape bucket


def _prune(graph: onnx.GraphProto) -> None:
    """Drop the nodes no graph output depends on (the attention output's, the old argmax)."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    unused = [i for i in graph.initializer if i.name not in needed]
    for init in unused:
        graph.initializer.remove(init)
    for value in [i for i in graph.input if i.name not in needed]:
        graph.input.remove(value)


def write_loop_step(decoder_path: Path, out_path: Path, state_names: tuple[str, ...], eos: int) -> None:
    """Write the loop step (see the module docstring) of the decoder step at `decoder_path`,
    which must still end in the traced Gemm → logits and ArgMax → next_token."""
    model = onnx.load(str(decoder_path))
    graph = model.graph
    _, argmax = traced_head(graph, decoder_path)
    vocab = next(o for o in graph.output if o.name == LOGITS).type.tensor_type.shape.dim[1].dim_value
    graph.node.remove(argmax)
    n = helper.make_node
    out = {name: state_output(name) for name in (TOKENS, FINISHED, STEP, HISTORY)}
    graph.initializer.extend([numpy_helper.from_array(np.array(eos, np.int64), "loop_eos"),
                              numpy_helper.from_array(np.array(1, np.int64), "loop_one"),
                              numpy_helper.from_array(np.array([1], np.int64), "loop_axis")])
    argmax_attrs = {a.name: helper.get_attribute_value(a) for a in argmax.attribute}
    graph.node.extend([
        n("Less", [STEP, MIN_LEN], ["loop_early"]),
        n("Where", ["loop_early", EARLY_BIAS, LOGIT_BIAS], ["loop_bias"]),
        n("Add", [LOGITS, "loop_bias"], ["loop_logits"]),
        n("ArgMax", ["loop_logits"], ["loop_best"], **argmax_attrs),
        n("Where", [FINISHED, "loop_eos", "loop_best"], [out[TOKENS]]),
        n("Add", [STEP, "loop_one"], [out[STEP]]),
        n("Equal", [POSITIONS, STEP], ["loop_at_step"]),
        n("Unsqueeze", [out[TOKENS], "loop_axis"], ["loop_column"]),
        n("Where", ["loop_at_step", "loop_column", HISTORY], [out[HISTORY]]),
        n("Equal", [out[TOKENS], "loop_eos"], ["loop_wrote_eos"]),
        n("GreaterOrEqual", [out[STEP], CAPS], ["loop_capped"]),
        n("Or", [FINISHED, "loop_wrote_eos"], ["loop_done"]),
        n("Or", ["loop_done", "loop_capped"], [out[FINISHED]]),
    ])
    value = helper.make_tensor_value_info
    graph.input.extend([
        value(FINISHED, TensorProto.BOOL, [BATCH]), value(STEP, TensorProto.INT64, []),
        value(HISTORY, TensorProto.INT64, [BATCH, WIDTH]), value(CAPS, TensorProto.INT64, [BATCH]),
        value(POSITIONS, TensorProto.INT64, [WIDTH]), value(MIN_LEN, TensorProto.INT64, []),
        value(LOGIT_BIAS, TensorProto.FLOAT, [vocab]), value(EARLY_BIAS, TensorProto.FLOAT, [vocab])])
    states = {state_output(name): o for o in graph.output for name in state_names if o.name == state_output(name)}
    del graph.output[:]
    graph.output.extend([
        value(out[TOKENS], TensorProto.INT64, [BATCH]), value(out[FINISHED], TensorProto.BOOL, [BATCH]),
        value(out[STEP], TensorProto.INT64, []), value(out[HISTORY], TensorProto.INT64, [BATCH, WIDTH]),
        *states.values()])
    _prune(graph)
    del graph.value_info[:]  # the traced shapes of removed values
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))
