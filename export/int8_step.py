"""The int8 compute type's decoder step, derived from a bundle's own fp32 step (as
CTranslate2 converts a float model's weights to the compute type asked for).

Every matmul of a weight runs in int8, the recurrent ones included: each Gemm or MatMul
whose weight is a constant becomes onnxruntime's `DynamicQuantizeMatMul` (the activation
quantized per call, 7-bit weights with a scale per output column, the bias fused). The
output layer runs once, before the head's branches: the greedy branch (the one `prescore`
switches on) takes the argmax of its int8 logits, without prescoring's exact rescoring
(the state it reads is no longer fp32's anyway); the others read its logits. The
shortlist branch is cut out (it gathers rows of the fp32 output weights). The embedding
table is stored in int8 rows and made fp32 again when onnxruntime folds constants at
load. The encoder's int8 form is export/int8_encoder.py's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from s2s_batch.export.output_head import MS_DOMAIN, SHORTLIST_SWITCH, int8_rows
from s2s_batch.export.weight_storage import load_widened
from s2s_batch.runtime.bundle.manifest import PRESCORE_INPUT


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH]


def _all_graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    found = [graph]
    for node in graph.node:
        for sub in _subgraphs(node):
            found.extend(_all_graphs(sub))
    return found


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _branch(node: onnx.NodeProto, name: str) -> onnx.GraphProto:
    return next(a.g for a in node.attribute if a.name == name)


def _find_if(graph: onnx.GraphProto, condition: str) -> tuple[onnx.GraphProto, onnx.NodeProto] | None:
    """The If node on `condition` anywhere in `graph` or its branches, with its graph."""
    for node in graph.node:
        if node.op_type == "If" and node.input[0] == condition:
            return graph, node
        for sub in _subgraphs(node):
            found = _find_if(sub, condition)
            if found:
                return found
    return None


def _replace(graph: onnx.GraphProto, old: onnx.NodeProto, new: list[onnx.NodeProto]) -> None:
    at = list(graph.node).index(old)
    del graph.node[at]
    for offset, node in enumerate(new):
        graph.node.insert(at + offset, node)


def _inline_else(graph: onnx.GraphProto, condition: str) -> bool:
    """Replace the If on `condition` by its else branch's nodes; True if there was one."""
    found = _find_if(graph, condition)
    if found is None:
        return False
    parent, node = found
    branch = _branch(node, "else_branch")
    parent.initializer.extend(branch.initializer)
    _replace(parent, node, list(branch.node) + [helper.make_node("Identity", [out.name], [name])
                                                 for out, name in zip(branch.output, node.output)])
    return True


def _prune(model: onnx.ModelProto) -> None:
    """Drop the nodes, graph inputs and initializers nothing reads any more."""
    while True:
        graphs = _all_graphs(model.graph)
        used = {name for g in graphs for node in g.node for name in node.input}
        used |= {out.name for g in graphs for out in g.output}
        dead = [(g, node) for g in graphs for node in g.node if not used.intersection(node.output)]
        if not dead:
            break
        for g, node in dead:
            g.node.remove(node)
    for g in graphs:
        kept = [t for t in g.initializer if t.name in used]
        del g.initializer[:]
        g.initializer.extend(kept)
    inputs = [i for i in model.graph.input if i.name in used]
    del model.graph.input[:]
    model.graph.input.extend(inputs)


class Int8Weights:
    """The int8 form of each fp32 weight, made once and stored in the top graph."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.fp32 = {t.name: t for g in _all_graphs(model.graph) for t in g.initializer}
        self.made: dict[tuple[str, bool], tuple[str, str, str]] = {}

    def __call__(self, name: str, rows_are_outputs: bool) -> tuple[str, str, str] | None:
        """(int8 weight [in, out], scale [out], zero [out]) names for the fp32 weight
        `name`: [out, in] if rows_are_outputs (Gemm transB=1), else [in, out]."""
        if name not in self.fp32:
            return None
        key = (name, rows_are_outputs)
        if key not in self.made:
            weight = numpy_helper.to_array(self.fp32[name]).astype(np.float32)
            quantized, scale = int8_rows(weight if rows_are_outputs else weight.T)
            names = (f"{name}_mm_int8", f"{name}_mm_int8_scale", f"{name}_mm_int8_zero")
            for array, tensor_name in zip((quantized, scale, np.zeros_like(scale, dtype=np.int8)), names):
                self.model.graph.initializer.append(numpy_helper.from_array(array, tensor_name))
            self.made[key] = names
        return self.made[key]


def quantize_matmuls(graph: onnx.GraphProto, int8: Int8Weights) -> int:
    """Each Gemm/MatMul of a constant weight (and a computed input) in `graph` and its
    branches → DynamicQuantizeMatMul; the count rewritten."""
    count = 0
    for g in _all_graphs(graph):
        for node in list(g.node):
            attrs = _attrs(node)
            plain_gemm = (node.op_type == "Gemm" and not attrs.get("transA", 0)
                          and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0)
            if not (plain_gemm or node.op_type == "MatMul") or node.input[0] in int8.fp32:
                continue  # a product of constants is folded at load; leave it
            weight = int8(node.input[1], rows_are_outputs=plain_gemm and bool(attrs.get("transB", 0)))
            if weight is None:
                continue
            bias = [node.input[2]] if plain_gemm and len(node.input) > 2 and node.input[2] else []
            _replace(g, node, [helper.make_node("DynamicQuantizeMatMul", [node.input[0], *weight, *bias],
                                                list(node.output), domain=MS_DOMAIN)])
            count += 1
    return count


_HEAD_CONSTANTS = ("prescore_w_int8", "prescore_w_scale", "prescore_w_zero", "prescore_group_shape",
                   "prescore_axis2", "prescore_expand", "prescore_group_size", "prescore_flat")


def _greedy_branch(outputs: list[onnx.ValueInfoProto]) -> onnx.GraphProto:
    """The argmax of the int8 logits, found as prescoring finds its candidates: the group
    with the best maximum, then the best id in it (the first highest, as ArgMax). Its
    logits output is each group's maximum [B, G]: read the logits with prescore false."""
    n = helper.make_node
    logits, next_token = (o.name for o in outputs)
    nodes = [
        n("Reshape", ["int8_logits", "prescore_group_shape"], ["int8_grouped"]),     # [B, G, S]
        n("ReduceMax", ["int8_grouped", "prescore_axis2"], [logits], keepdims=0),  # [B, G]
        n("ArgMax", [logits], ["int8_best_group"], axis=1, keepdims=1),            # [B, 1]
        n("Unsqueeze", ["int8_best_group", "prescore_axis2"], ["int8_best_group3"]),
        n("Expand", ["int8_best_group3", "prescore_expand"], ["int8_member_index"]),  # [B, 1, S]
        n("GatherElements", ["int8_grouped", "int8_member_index"], ["int8_members"], axis=1),
        n("ArgMax", ["int8_members"], ["int8_offset"], axis=2, keepdims=0),       # [B, 1]
        n("Mul", ["int8_best_group", "prescore_group_size"], ["int8_base"]),
        n("Add", ["int8_base", "int8_offset"], ["int8_chosen"]),
        n("Reshape", ["int8_chosen", "prescore_flat"], [next_token]),
    ]
    return helper.make_graph(nodes, "int8_greedy", [], outputs)


def _int8_head(model: onnx.ModelProto, parent: onnx.GraphProto, switch: onnx.NodeProto, vocab: int) -> None:
    """One int8 output layer before the prescore switch, read by every branch after it:
    the greedy branch takes its argmax; the others' fp32 Gemm becomes a slice of it."""
    then = _branch(switch, "then_branch")
    prescoring = next(node for node in then.node if node.op_type == "DynamicQuantizeMatMul")
    constants = {t.name: t for t in then.initializer}
    # in the top graph, where onnxruntime prepacks the int8 weights once
    model.graph.initializer.extend(constants[name] for name in _HEAD_CONSTANTS)
    model.graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "int8_vocab_start"),
                                    numpy_helper.from_array(np.array([vocab], np.int64), "int8_vocab_end"),
                                    numpy_helper.from_array(np.array([1], np.int64), "int8_vocab_axis")])
    head = helper.make_node("DynamicQuantizeMatMul", list(prescoring.input), ["int8_logits"], domain=MS_DOMAIN)
    parent.node.insert(list(parent.node).index(switch), head)
    for attribute in switch.attribute:
        if attribute.name == "then_branch":
            attribute.g.CopyFrom(_greedy_branch(list(then.output)))
    for g in _all_graphs(_branch(switch, "else_branch")):
        for node in list(g.node):
            if node.op_type == "Gemm" and node.input[0] == prescoring.input[0]:
                _replace(g, node, [helper.make_node(
                    "Slice", ["int8_logits", "int8_vocab_start", "int8_vocab_end", "int8_vocab_axis"],
                    list(node.output))])


def int8_tables(model: onnx.ModelProto) -> int:
    """Store each 2-D fp32 table that is only looked up (Gather data) or only the first
    factor of Gemms (an embedding the step folds into a gate table at load) in int8 rows,
    dequantized by nodes that onnxruntime folds at load: the file shrinks, the graph runs
    as before on tables within int8 rounding of the fp32 ones."""
    graph = model.graph
    readers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for g in _all_graphs(graph):
        for node in g.node:
            for position, name in enumerate(node.input):
                readers.setdefault(name, []).append((node, position))
    count = 0
    for tensor in list(graph.initializer):
        uses = readers.get(tensor.name, [])
        if (tensor.data_type != onnx.TensorProto.FLOAT or len(tensor.dims) != 2 or not uses
                or any(n.op_type not in ("Gemm", "Gather") or p != 0 for n, p in uses)):
            continue
        table = numpy_helper.to_array(tensor).astype(np.float32)
        scale = np.abs(table).max(axis=1) / 127
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        quantized = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
        graph.initializer.remove(tensor)
        graph.initializer.extend([numpy_helper.from_array(quantized, f"{tensor.name}_int8"),
                                  numpy_helper.from_array(scale[:, None], f"{tensor.name}_int8_scale")])
        # Cast and Mul, not DequantizeLinear: onnxruntime does not fold the latter at load
        graph.node.insert(0, helper.make_node("Mul", [f"{tensor.name}_int8_cast", f"{tensor.name}_int8_scale"],
                                              [tensor.name]))
        graph.node.insert(0, helper.make_node("Cast", [f"{tensor.name}_int8"], [f"{tensor.name}_int8_cast"],
                                              to=onnx.TensorProto.FLOAT))
        count += 1
    return count


def int8_decoder_step(fp32_step: Path, out: Path, vocab_size: int) -> dict:
    """Write the int8 version of a bundle's fp32 decoder step (exported with prescoring)
    to `out`; what was changed. ValueError if the step has no prescoring branch."""
    model = load_widened(fp32_step)
    shortlist_removed = _inline_else(model.graph, SHORTLIST_SWITCH)
    found = _find_if(model.graph, PRESCORE_INPUT)
    if found is None:
        raise ValueError(f"{fp32_step}: no prescoring branch; an int8 step is made from a bundle "
                         "exported with prescoring (the default)")
    parent, switch = found
    _int8_head(model, parent, switch, vocab_size)
    count = quantize_matmuls(model.graph, Int8Weights(model))
    tables = int8_tables(model)  # after: the tables' Gemms stay fp32, folded at load
    _prune(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return {"int8_matmuls": count + 1, "int8_tables": tables, "shortlist_removed": shortlist_removed}
