"""The decoder step's optional vocabulary shortlist: an `If` around the output layer.

The traced step ends in Gemm(hidden, W, b) → logits and ArgMax(logits) → next_token.
This rewrite adds one input, `shortlist_ids` (int64 [K], sorted target ids), and puts the
two nodes in the else-branch of an If on Size(shortlist_ids) > 0. The then-branch
gathers the K rows of W and b, and computes logits [B, K] and next_token =
shortlist_ids[argmax]. An empty `shortlist_ids` runs the original nodes on the original
initializers, so the full-vocabulary step is the traced one, prepacked weights included.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from s2s_batch.runtime.manifest import SHORTLIST_INPUT


def _value(name: str, elem_type: int, rank: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, [None] * rank)


def add_shortlist_input(path: Path) -> None:
    """Rewrite the decoder-step graph at `path` in place (see the module docstring)."""
    model = onnx.load(str(path))
    graph = model.graph
    by_output = {out: node for node in graph.node for out in node.output}
    gemm, argmax = by_output.get("logits"), by_output.get("next_token")
    if gemm is None or gemm.op_type != "Gemm" or argmax is None or argmax.op_type != "ArgMax":
        raise ValueError(f"{path}: the decoder step does not end in Gemm → ArgMax; cannot add a shortlist")
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    if attrs.get("transB") != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise ValueError(f"{path}: unexpected output layer attributes {attrs}")
    hidden, weight, bias = gemm.input
    argmax_attrs = {a.name: helper.get_attribute_value(a) for a in argmax.attribute}

    full = helper.make_graph(
        [helper.make_node("Gemm", [hidden, weight, bias], ["full_logits"], transB=1),
         helper.make_node("ArgMax", ["full_logits"], ["full_next"], **argmax_attrs)],
        "full_vocabulary", [], [_value("full_logits", TensorProto.FLOAT, 2),
                                _value("full_next", TensorProto.INT64, 1)])
    short = helper.make_graph(
        [helper.make_node("Gather", [weight, SHORTLIST_INPUT], ["short_weight"], axis=0),
         helper.make_node("Gather", [bias, SHORTLIST_INPUT], ["short_bias"], axis=0),
         helper.make_node("Gemm", [hidden, "short_weight", "short_bias"], ["short_logits"], transB=1),
         helper.make_node("ArgMax", ["short_logits"], ["short_position"], **argmax_attrs),
         helper.make_node("Gather", [SHORTLIST_INPUT, "short_position"], ["short_next"], axis=0)],
        "shortlist", [], [_value("short_logits", TensorProto.FLOAT, 2),
                          _value("short_next", TensorProto.INT64, 1)])
    switch = [
        helper.make_node("Size", [SHORTLIST_INPUT], ["shortlist_size"]),
        helper.make_node("Constant", [], ["shortlist_zero"],
                         value=helper.make_tensor("zero", TensorProto.INT64, [], [0])),
        helper.make_node("Greater", ["shortlist_size", "shortlist_zero"], ["use_shortlist"]),
        helper.make_node("If", ["use_shortlist"], ["logits", "next_token"],
                         then_branch=short, else_branch=full),
    ]
    kept = [node for node in graph.node if node is not gemm and node is not argmax]
    del graph.node[:]
    graph.node.extend(kept + switch)
    graph.input.append(helper.make_tensor_value_info(SHORTLIST_INPUT, TensorProto.INT64, ["shortlist"]))
    for output in graph.output:  # the logits' width is now V or K
        if output.name == "logits":
            output.type.tensor_type.shape.dim[1].dim_param = "vocabulary"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
