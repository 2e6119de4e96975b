"""The int8 compute type's encoder: each GRU layer's matmuls in int8.

onnxruntime has no integer GRU kernel, so each GRU node (PyTorch's semantics:
linear_before_reset, default activations, no clip; forward, reverse or bidirectional;
with sequence lengths) is rewritten as plain ops per direction:

- the input projection of every time step at once: one `DynamicQuantizeMatMul` over the
  [T * B, I] inputs;
- the recurrence in a Loop over time: the state's projection another
  `DynamicQuantizeMatMul`, then the gates. A row past its sequence length keeps its state
  and writes zeros, as the GRU kernel does; the reverse direction runs from the last
  column down, so each row starts from its own last token.

The weights are 7-bit with a scale per output column (export/output_head.int8_rows). The
attention keys' projection is an int8 matmul too, and the embedding is stored in int8 rows.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.export.int8_step import Int8Weights, int8_tables, quantize_matmuls
from s2s_batch.export.output_head import MS_DOMAIN, int8_rows
from s2s_batch.export.weight_storage import load_widened


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _rewritable(node: onnx.NodeProto, initializers: dict) -> bool:
    attrs = _attrs(node)
    inputs = list(node.input) + [""] * (6 - len(node.input))
    return (node.op_type == "GRU" and attrs.get("linear_before_reset") == 1 and attrs.get("layout", 0) == 0
            and "activations" not in attrs and "clip" not in attrs
            and all(name in initializers for name in inputs[1:4]) and len(node.input) <= 6)


def _direction(p: str, x: str, seq_lens: str, initial_h: str | None, weights: tuple, hidden: int,
               reverse: bool) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str, str]:
    """Nodes computing one direction of a GRU: (nodes, initializers, Y [T, B, H], Y_h [B, H])."""
    w, r, b = weights  # [3H, I], [3H, H], [6H]
    n = helper.make_node
    tensors = {}
    for name, matrix in (("w", w), ("r", r)):
        quantized, scale = int8_rows(matrix)
        tensors.update({f"{p}_{name}_int8": quantized, f"{p}_{name}_scale": scale,
                        f"{p}_{name}_zero": np.zeros_like(scale, dtype=np.int8)})
    tensors.update({f"{p}_wb": b[: 3 * hidden], f"{p}_rb": b[3 * hidden:],
                    f"{p}_split": np.array([hidden] * 3, np.int64), f"{p}_flat": np.array([-1, w.shape[1]], np.int64),
                    f"{p}_zero_i": np.array(0, np.int64), f"{p}_one_i": np.array(1, np.int64),
                    f"{p}_true": np.array(True), f"{p}_axis0": np.array([0], np.int64),
                    f"{p}_axis1": np.array([1], np.int64), f"{p}_gates_shape": np.array([0, 0, 3 * hidden], np.int64),
                    f"{p}_rev_start": np.array([-1], np.int64),
                    f"{p}_rev_end": np.array([np.iinfo(np.int64).min], np.int64),
                    f"{p}_rev_step": np.array([-1], np.int64)})
    nodes = [
        n("Shape", [x], [f"{p}_x_shape"]),
        n("Gather", [f"{p}_x_shape", f"{p}_zero_i"], [f"{p}_steps"], axis=0),         # T
        n("Reshape", [x, f"{p}_flat"], [f"{p}_x_rows"]),                               # [T*B, I]
        n("DynamicQuantizeMatMul", [f"{p}_x_rows", f"{p}_w_int8", f"{p}_w_scale", f"{p}_w_zero", f"{p}_wb"],
          [f"{p}_gi_rows"], domain=MS_DOMAIN),
        n("Slice", [f"{p}_x_shape", f"{p}_start0", f"{p}_end2", f"{p}_axis0"], [f"{p}_tb"]),  # [T, B]
        n("Concat", [f"{p}_tb", f"{p}_gi_last"], [f"{p}_gi_shape"], axis=0),
        n("Reshape", [f"{p}_gi_rows", f"{p}_gi_shape"], [f"{p}_gi"]),                  # [T, B, 3H]
        n("Cast", [seq_lens], [f"{p}_lens"], to=TensorProto.INT64),
    ]
    tensors.update({f"{p}_gi_last": np.array([3 * hidden], np.int64), f"{p}_start0": np.array([0], np.int64),
                    f"{p}_end2": np.array([2], np.int64)})
    if initial_h is None:
        nodes += [n("Gather", [f"{p}_x_shape", f"{p}_one_i"], [f"{p}_batch"], axis=0),
                  n("Unsqueeze", [f"{p}_batch", f"{p}_axis0"], [f"{p}_batch1"]),
                  n("Concat", [f"{p}_batch1", f"{p}_hidden1"], [f"{p}_h0_shape"], axis=0),
                  n("ConstantOfShape", [f"{p}_h0_shape"], [f"{p}_h0"])]
        tensors[f"{p}_hidden1"] = np.array([hidden], np.int64)
        h0 = f"{p}_h0"
    else:
        h0 = initial_h
    # the loop body: iteration i, condition, state → condition, state, this step's output
    b_ = f"{p}_body"
    body = [
        *([n("Sub", [f"{p}_last", f"{b_}_i"], [f"{b_}_t"])] if reverse else [n("Identity", [f"{b_}_i"], [f"{b_}_t"])]),
        n("Gather", [f"{p}_gi", f"{b_}_t"], [f"{b_}_gi"], axis=0),                       # [B, 3H]
        n("DynamicQuantizeMatMul", [f"{b_}_h", f"{p}_r_int8", f"{p}_r_scale", f"{p}_r_zero", f"{p}_rb"],
          [f"{b_}_gh"], domain=MS_DOMAIN),
        # ONNX orders the gates z, r, h
        n("Split", [f"{b_}_gi", f"{p}_split"], [f"{b_}_iz", f"{b_}_ir", f"{b_}_in"], axis=1),
        n("Split", [f"{b_}_gh", f"{p}_split"], [f"{b_}_hz", f"{b_}_hr", f"{b_}_hn"], axis=1),
        n("Add", [f"{b_}_iz", f"{b_}_hz"], [f"{b_}_z0"]), n("Sigmoid", [f"{b_}_z0"], [f"{b_}_z"]),
        n("Add", [f"{b_}_ir", f"{b_}_hr"], [f"{b_}_r0"]), n("Sigmoid", [f"{b_}_r0"], [f"{b_}_r"]),
        n("Mul", [f"{b_}_r", f"{b_}_hn"], [f"{b_}_rhn"]),
        n("Add", [f"{b_}_in", f"{b_}_rhn"], [f"{b_}_n0"]), n("Tanh", [f"{b_}_n0"], [f"{b_}_n"]),
        n("Sub", [f"{b_}_h", f"{b_}_n"], [f"{b_}_d"]), n("Mul", [f"{b_}_z", f"{b_}_d"], [f"{b_}_zd"]),
        n("Add", [f"{b_}_n", f"{b_}_zd"], [f"{b_}_h_new"]),
        n("Less", [f"{b_}_t", f"{p}_lens"], [f"{b_}_valid1"]),                           # [B]
        n("Unsqueeze", [f"{b_}_valid1", f"{p}_axis1"], [f"{b_}_valid"]),                  # [B, 1]
        n("Where", [f"{b_}_valid", f"{b_}_h_new", f"{b_}_h"], [f"{b_}_h_out"]),
        n("Where", [f"{b_}_valid", f"{b_}_h_new", f"{p}_zero_f"], [f"{b_}_y"]),
        n("Identity", [f"{b_}_cond"], [f"{b_}_cond_out"]),
    ]
    tensors[f"{p}_zero_f"] = np.array(0.0, np.float32)
    value = helper.make_tensor_value_info
    graph = helper.make_graph(body, b_, [value(f"{b_}_i", TensorProto.INT64, []),
                                         value(f"{b_}_cond", TensorProto.BOOL, []),
                                         value(f"{b_}_h", TensorProto.FLOAT, [None, hidden])],
                              [value(f"{b_}_cond_out", TensorProto.BOOL, []),
                               value(f"{b_}_h_out", TensorProto.FLOAT, [None, hidden]),
                               value(f"{b_}_y", TensorProto.FLOAT, [None, hidden])])
    # the state's weights in the body itself: onnxruntime prepacks int8 weights only in the
    # graph that holds them
    for name in (f"{p}_r_int8", f"{p}_r_scale", f"{p}_r_zero", f"{p}_rb"):
        graph.initializer.append(numpy_helper.from_array(np.asarray(tensors.pop(name)), name))
    if reverse:
        nodes.append(n("Sub", [f"{p}_steps", f"{p}_one_i"], [f"{p}_last"]))
    nodes.append(n("Loop", [f"{p}_steps", f"{p}_true", h0], [f"{p}_h_final", f"{p}_y_steps"], body=graph))
    if reverse:  # the loop wrote the last column first
        nodes.append(n("Slice", [f"{p}_y_steps", f"{p}_rev_start", f"{p}_rev_end", f"{p}_axis0", f"{p}_rev_step"],
                       [f"{p}_y"]))
        y = f"{p}_y"
    else:
        y = f"{p}_y_steps"
    initializers = [numpy_helper.from_array(np.asarray(v), k) for k, v in tensors.items()]
    return nodes, initializers, y, f"{p}_h_final"


def int8_gru_nodes(node: onnx.NodeProto, initializers: dict, prefix: str) -> tuple[list, list]:
    """The nodes and initializers replacing one GRU node (see the module docstring); its
    outputs keep their names."""
    attrs = _attrs(node)
    hidden = int(attrs["hidden_size"])
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    inputs = list(node.input) + [""] * (6 - len(node.input))
    x, w, r, b, seq_lens, initial_h = inputs
    w, r = numpy_helper.to_array(initializers[w]), numpy_helper.to_array(initializers[r])
    b = numpy_helper.to_array(initializers[b]) if b else np.zeros((w.shape[0], 6 * hidden), np.float32)
    n = helper.make_node
    nodes, tensors, ys, hs = [], [], [], []
    reverse_flags = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
    if not seq_lens:
        nodes += [n("Shape", [x], [f"{prefix}_x_shape_all"]),
                  n("Slice", [f"{prefix}_x_shape_all", f"{prefix}_s1", f"{prefix}_s2"], [f"{prefix}_b1"]),
                  n("Slice", [f"{prefix}_x_shape_all", f"{prefix}_s0", f"{prefix}_s1"], [f"{prefix}_t1"]),
                  n("Expand", [f"{prefix}_t1", f"{prefix}_b1"], [f"{prefix}_lens_all"])]
        tensors += [numpy_helper.from_array(np.array([i], np.int64), f"{prefix}_s{i}") for i in range(3)]
        seq_lens = f"{prefix}_lens_all"
    for d, reverse in enumerate(reverse_flags):
        p = f"{prefix}_d{d}"
        h0 = None
        if initial_h:
            nodes.append(n("Gather", [initial_h, f"{p}_index"], [f"{p}_h0"], axis=0))
            tensors.append(numpy_helper.from_array(np.array(d, np.int64), f"{p}_index"))
            h0 = f"{p}_h0"
        more, more_tensors, y, h = _direction(p, x, seq_lens, h0, (w[d], r[d], b[d]), hidden, reverse)
        nodes += more
        tensors += more_tensors
        nodes += [n("Unsqueeze", [y, f"{p}_axis1"], [f"{p}_y4"]), n("Unsqueeze", [h, f"{p}_axis0"], [f"{p}_h3"])]
        ys.append(f"{p}_y4")
        hs.append(f"{p}_h3")
    outputs = list(node.output) + [""] * (2 - len(node.output))
    if outputs[0]:
        nodes.append(n("Concat", ys, [outputs[0]], axis=1))                  # [T, D, B, H]
    if outputs[1]:
        nodes.append(n("Concat", hs, [outputs[1]], axis=0))                  # [D, B, H]
    return nodes, tensors


def int8_encoder(fp32_encoder, out) -> dict:
    """Write the int8 version of a bundle's fp32 encoder to `out`: its GRU nodes rewritten,
    its other weight matmuls (the attention keys) in int8, its embedding stored in int8."""
    model = load_widened(fp32_encoder)
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    count = 0
    for node in list(graph.node):
        if not _rewritable(node, initializers):
            continue
        nodes, tensors = int8_gru_nodes(node, initializers, f"int8_gru{count}")
        at = list(graph.node).index(node)
        del graph.node[at]
        for offset, new in enumerate(nodes):
            graph.node.insert(at + offset, new)
        graph.initializer.extend(tensors)
        count += 1
    matmuls = quantize_matmuls(graph, Int8Weights(model))
    tables = int8_tables(model)
    used = {name for node in graph.node for name in node.input}
    used |= {name for node in graph.node for a in node.attribute if a.type == onnx.AttributeProto.GRAPH
             for inner in a.g.node for name in inner.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return {"int8_gru_layers": count, "int8_matmuls": matmuls, "int8_tables": tables}
