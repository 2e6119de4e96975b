"""The decoder step's GRU layers as plain ops: one time step needs no recurrent kernel.

The traced step runs each layer as an ONNX GRU node over a sequence of length 1. For one
step, two Gemms and the gate arithmetic are faster on onnxruntime's CPU provider than
the GRU kernel (1.5 against 1.8 ms per layer at batch 256, hidden 256; bench/RESULTS.md)
and give the same state within float rounding. `unfuse_gru_steps` rewrites each such
node (forward, linear_before_reset=1 as PyTorch's GRU, no sequence lengths, default
activations) in place; any other node is left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

CELL_SUFFIX = "_cell"  # a cell's tensors are named {GRU node output}_cell_weight_x, ..._bias_h


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _unfusable(node: onnx.NodeProto, initializers: dict) -> bool:
    attrs = _attrs(node)
    inputs = list(node.input) + [""] * (6 - len(node.input))
    x, w, r, b, seq_lens, initial_h = inputs[:6]
    return (node.op_type == "GRU" and attrs.get("linear_before_reset") == 1
            and attrs.get("direction", b"forward") in (b"forward", "forward")
            and attrs.get("layout", 0) == 0 and "activations" not in attrs and "clip" not in attrs
            and not seq_lens and initial_h and all(n in initializers for n in (w, r, b))
            and len(node.input) <= 6)


def _cell(node: onnx.NodeProto, weights: dict) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    x, w, r, b, _, initial_h = node.input
    hidden = int(_attrs(node)["hidden_size"])
    p = f"{node.output[1] or node.output[0]}{CELL_SUFFIX}"  # unique: the node's own output name
    bias = weights[b].reshape(2, 3 * hidden)
    tensors = {f"{p}_weight_x": weights[w][0], f"{p}_weight_h": weights[r][0],
               f"{p}_bias_x": bias[0], f"{p}_bias_h": bias[1],
               f"{p}_axis0": np.array([0], np.int64), f"{p}_axes01": np.array([0, 1], np.int64),
               f"{p}_split": np.array([hidden] * 3, np.int64)}
    n = helper.make_node
    nodes = [
        n("Squeeze", [x, f"{p}_axis0"], [f"{p}_x"]),                       # [B, I]
        n("Squeeze", [initial_h, f"{p}_axis0"], [f"{p}_h"]),               # [B, H]
        n("Gemm", [f"{p}_x", f"{p}_weight_x", f"{p}_bias_x"], [f"{p}_gi"], transB=1),  # [B, 3H]
        n("Gemm", [f"{p}_h", f"{p}_weight_h", f"{p}_bias_h"], [f"{p}_gh"], transB=1),
        # ONNX orders the gates z, r, h (PyTorch: r, z, n).
        n("Split", [f"{p}_gi", f"{p}_split"], [f"{p}_iz", f"{p}_ir", f"{p}_in"], axis=1),
        n("Split", [f"{p}_gh", f"{p}_split"], [f"{p}_hz", f"{p}_hr", f"{p}_hn"], axis=1),
        n("Add", [f"{p}_iz", f"{p}_hz"], [f"{p}_z0"]), n("Sigmoid", [f"{p}_z0"], [f"{p}_z"]),
        n("Add", [f"{p}_ir", f"{p}_hr"], [f"{p}_r0"]), n("Sigmoid", [f"{p}_r0"], [f"{p}_r"]),
        n("Mul", [f"{p}_r", f"{p}_hn"], [f"{p}_rhn"]),
        n("Add", [f"{p}_in", f"{p}_rhn"], [f"{p}_n0"]), n("Tanh", [f"{p}_n0"], [f"{p}_n"]),
        # h' = (1 - z) * n + z * h = n + z * (h - n)
        n("Sub", [f"{p}_h", f"{p}_n"], [f"{p}_d"]), n("Mul", [f"{p}_z", f"{p}_d"], [f"{p}_zd"]),
        n("Add", [f"{p}_n", f"{p}_zd"], [f"{p}_out"]),
    ]
    y, y_h = (list(node.output) + ["", ""])[:2]
    if y_h:
        nodes.append(n("Unsqueeze", [f"{p}_out", f"{p}_axis0"], [y_h]))   # [1, B, H]
    if y:
        nodes.append(n("Unsqueeze", [f"{p}_out", f"{p}_axes01"], [y]))    # [1, 1, B, H]
    return nodes, [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in tensors.items()]


def _inputs_read(graph: onnx.GraphProto) -> set[str]:
    """Every name a node reads, in the graph and in its nodes' subgraphs."""
    names = set()
    for node in graph.node:
        names.update(node.input)
        for attr in node.attribute:
            for sub in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
                names |= _inputs_read(sub)
    return names


def unfuse_gru_steps(path: Path) -> int:
    """Rewrite the single-step GRU nodes of the graph at `path` in place; returns how many."""
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    nodes, added, replaced = [], [], []
    for node in graph.node:
        if _unfusable(node, initializers):
            weights = {name: numpy_helper.to_array(initializers[name]) for name in node.input[1:4]}
            cell_nodes, cell_tensors = _cell(node, weights)
            nodes += cell_nodes
            added += cell_tensors
            replaced.append(node)
        else:
            nodes.append(node)
    if not replaced:
        return 0
    del graph.node[:]
    graph.node.extend(nodes)
    still_read = _inputs_read(graph)
    kept = [t for t in graph.initializer if t.name in still_read]
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(replaced)
