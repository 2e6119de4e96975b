"""The decoder step's output head: the traced Gemm → ArgMax, rewritten for the runtime.

The traced step ends in Gemm(hidden, W, b) → logits and ArgMax(logits) → next_token.
`rewrite_output_head` replaces those two nodes by If nodes whose branches all end in
`logits` and `next_token`, each switched by one extra graph input:

- `shortlist_ids` (int64 [K], sorted target ids; empty = every id): logits over the K
  ids, next_token the best of them.
- `prescore` (bool scalar; the runtime sets it for greedy steps on CPU): an exact argmax
  that scores the vocabulary in int8 first. int8 scores (7-bit weights per target row,
  onnxruntime's DynamicQuantizeMatMul) pick the `PRESCORE_CANDIDATES` best ids per row,
  whose fp32 logits are then computed exactly. A bound on the int8 error proves, row by
  row, that no other id can beat the best candidate; the rows it cannot prove get
  `PRESCORE_SECOND_CANDIDATES`, and the rows still unproven are scored by the full fp32
  layer. Either way next_token is the fp32 argmax (up to float rounding, as any kernel). `logits` then holds
  the candidates' fp32 logits [B, K]: read logits with `prescore` false.
- neither: the full output layer, switched twice more. `row_candidates` (int64 [1], an
  overridable initializer, default 0; set by beam search) C > 0: logits holds each row's
  C best log-probabilities [B, C], best first, and next_token their ids [B * C], so the
  [B, V] logits never leave the graph. Else `logits_only` (bool scalar, overridable,
  default false; set by the runtime when it reads the logits: sampling, scores) skips
  the ArgMax, and next_token is then empty. At beam search's batch of 2,048 rows that
  ArgMax was a quarter of the step.

Every branch reads the bias with the ids of the `banned_ids` input (int64 [N], an
overridable initializer, empty by default) set to BANNED_LOGIT, so next_token never takes
them (disable_unk without reading the logits out) and the logits show them as impossible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.runtime.bundle.graph_names import LOGITS, NEXT_TOKEN
from s2s_batch.runtime.bundle.manifest import (
    BANNED_INPUT,
    BANNED_LOGIT,
    LOGITS_ONLY_INPUT,
    PRESCORE_INPUT,
    ROW_CANDIDATES_INPUT,
    SHORTLIST_INPUT,
)

PRESCORE_CANDIDATES = 8
PRESCORE_GROUP = 32  # ids per group of the two-level top-K
PRESCORE_SECOND_CANDIDATES = 64  # for the rows that K candidates do not prove
# 7-bit weights: onnxruntime's AVX2 u8s8 kernels sum pairs of products in int16, which
# 8-bit weights can saturate; with |q| <= 63 no pair can, so the error bound holds there too.
WEIGHT_LEVELS = 63
MS_DOMAIN = "com.microsoft"
SHORTLIST_SWITCH = "use_shortlist"  # the If condition: shortlist_ids is not empty


def _value(name: str, elem_type: int, rank: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, [None] * rank)


def _outputs(branch: str) -> list[onnx.ValueInfoProto]:
    return [_value(f"{branch}_logits", TensorProto.FLOAT, 2), _value(f"{branch}_next_token", TensorProto.INT64, 1)]


def _branch(name: str, nodes: list[onnx.NodeProto]) -> onnx.GraphProto:
    """A subgraph whose node outputs all carry the prefix `name_` (ONNX names are unique
    across nested graphs); inputs that are not produced inside are read from outer scopes."""
    produced = {out for node in nodes for out in node.output}
    for node in nodes:
        node.input[:] = [f"{name}_{i}" if i in produced else i for i in node.input]
        node.output[:] = [f"{name}_{o}" for o in node.output]
    return helper.make_graph(nodes, name, [], _outputs(name))


def _full(name: str, hidden: str, weight: str, bias: str, argmax_attrs: dict) -> onnx.GraphProto:
    return _branch(name, [helper.make_node("Gemm", [hidden, weight, bias], [LOGITS], transB=1),
                          helper.make_node("ArgMax", [LOGITS], [NEXT_TOKEN], **argmax_attrs)])


def _vocabulary(hidden: str, weight: str, bias: str, argmax_attrs: dict) -> onnx.GraphProto:
    """The full output layer: each row's best log-probabilities if ROW_CANDIDATES_INPUT
    is above 0, else the logits, with their ArgMax unless LOGITS_ONLY_INPUT is set."""
    n = helper.make_node
    no_ids = helper.make_tensor("no_ids", TensorProto.INT64, [0], [])
    logits_only = _branch("logits_only", [
        n("Gemm", [hidden, weight, bias], [LOGITS], transB=1),
        n("Constant", [], [NEXT_TOKEN], value=no_ids)])
    flat = helper.make_tensor("flat", TensorProto.INT64, [1], [-1])
    row_best = _branch("row_best", [
        n("Gemm", [hidden, weight, bias], ["all_logits"], transB=1),
        n("LogSoftmax", ["all_logits"], ["log_probs"], axis=-1),
        n("Shape", ["log_probs"], ["shape"], start=1),                         # [1]: V
        n("Min", [ROW_CANDIDATES_INPUT, "shape"], ["count"]),
        n("TopK", ["log_probs", "count"], [LOGITS, "ids"], axis=-1, largest=1, sorted=1),
        n("Constant", [], ["flat"], value=flat),
        n("Reshape", ["ids", "flat"], [NEXT_TOKEN])])
    no_candidates = helper.make_tensor("no_candidates", TensorProto.INT64, [], [0])
    logits = _branch("logits", [_if(LOGITS_ONLY_INPUT, logits_only,
                                    _full("full_vocabulary", hidden, weight, bias, argmax_attrs))])
    return _branch("vocabulary", [
        n("Constant", [], ["no_candidates"], value=no_candidates),
        n("Greater", [ROW_CANDIDATES_INPUT, "no_candidates"], ["wants_candidates"]),
        _if("wants_candidates", row_best, logits)])


def _if(condition: str, then: onnx.GraphProto, otherwise: onnx.GraphProto) -> onnx.NodeProto:
    return helper.make_node("If", [condition], [LOGITS, NEXT_TOKEN], then_branch=then,
                            else_branch=otherwise)


def _shortlist(hidden: str, weight: str, bias: str, argmax_attrs: dict) -> onnx.GraphProto:
    n = helper.make_node
    return _branch("shortlist", [
        n("Gather", [weight, SHORTLIST_INPUT], ["weight"], axis=0),
        n("Gather", [bias, SHORTLIST_INPUT], ["bias"], axis=0),
        n("Gemm", [hidden, "weight", "bias"], [LOGITS], transB=1),
        n("ArgMax", [LOGITS], ["position"], **argmax_attrs),
        n("Gather", [SHORTLIST_INPUT, "position"], [NEXT_TOKEN], axis=0)])


def int8_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W [V, H] fp32) → (int8 weights [H, V] with |q| <= WEIGHT_LEVELS, scale per row [V])."""
    scale = np.abs(weight).max(axis=1) / WEIGHT_LEVELS
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    quantized = np.clip(np.round(weight / scale[:, None]), -WEIGHT_LEVELS, WEIGHT_LEVELS)
    return quantized.astype(np.int8).T.copy(), scale


def _prescore_initializers(weight: np.ndarray, bias: np.ndarray, candidates: int) -> list[onnx.TensorProto]:
    vocab = weight.shape[0]
    k = min(candidates, vocab)
    groups = -(-vocab // PRESCORE_GROUP)
    padded = groups * PRESCORE_GROUP - vocab  # padding columns: never a candidate
    quantized, scale = int8_rows(weight)
    dequantized = quantized.T.astype(np.float64) * scale[:, None]
    # Cauchy-Schwarz, with the largest row norms (rounded up): see _prescore.
    error_norm = np.linalg.norm(weight.astype(np.float64) - dequantized, axis=1).max() * 1.001
    weight_norm = np.linalg.norm(dequantized, axis=1).max() * 1.001
    arrays = {"prescore_w_int8": np.pad(quantized, ((0, 0), (0, padded))),
              "prescore_w_scale": np.pad(scale, (0, padded), constant_values=1.0),
              "prescore_w_zero": np.zeros(vocab + padded, dtype=np.int8),
              "prescore_bias": np.pad(bias.astype(np.float32), (0, padded), constant_values=BANNED_LOGIT),
              "prescore_k": np.array([k], np.int64),
              "prescore_k2": np.array([min(PRESCORE_SECOND_CANDIDATES, vocab)], np.int64),
              "prescore_groups_k": np.array([min(k, groups)], np.int64),
              "prescore_group_shape": np.array([0, groups, PRESCORE_GROUP], np.int64),
              "prescore_member_shape": np.array([0, min(k, groups) * PRESCORE_GROUP], np.int64),
              "prescore_group_size": np.array(PRESCORE_GROUP, np.int64),
              "prescore_expand": np.array([1, 1, PRESCORE_GROUP], np.int64),
              "prescore_error_norm": np.float32(error_norm), "prescore_weight_norm": np.float32(weight_norm),
              "prescore_rel": np.float32(1e-5), "prescore_abs": np.float32(1e-4),
              "prescore_axis1": np.array([1], np.int64), "prescore_axis2": np.array([2], np.int64),
              "prescore_flat": np.array([-1], np.int64),
              "prescore_zero": np.array([0], np.int64), "prescore_one": np.array([1], np.int64)}
    return [numpy_helper.from_array(np.asarray(value), name) for name, value in arrays.items()]


def _candidates(p: str, hidden: str, weight: str, bias: str, cand: str, cand_approx: str,
                bound_base: str) -> list[onnx.NodeProto]:
    """One stage of _prescore, its names prefixed by `p`: the exact fp32 logits of the
    candidate ids `cand` [B, K] (p + "logits"), the best of them (p + "cand_next" [B]),
    and the rows the bound does not prove (p + "unproven_index" [U, 1], p + "unproven_flat" [U])."""
    n = helper.make_node
    return [
        n("Gather", [weight, cand], [f"{p}cand_w"], axis=0),                     # [B, K, H]
        n("Unsqueeze", [hidden, "prescore_axis2"], [f"{p}hidden3"]),             # [B, H, 1]
        n("MatMul", [f"{p}cand_w", f"{p}hidden3"], [f"{p}cand_dot3"]),
        n("Squeeze", [f"{p}cand_dot3", "prescore_axis2"], [f"{p}cand_dot"]),
        n("Gather", [bias, cand], [f"{p}cand_b"], axis=0),
        n("Add", [f"{p}cand_dot", f"{p}cand_b"], [f"{p}logits"]),                # exact fp32, [B, K]
        n("ArgMax", [f"{p}logits"], [f"{p}position"], axis=1, keepdims=1),
        n("GatherElements", [cand, f"{p}position"], [f"{p}chosen"], axis=1),
        n("Reshape", [f"{p}chosen", "prescore_flat"], [f"{p}cand_next"]),
        # The proof, per row: best candidate > K-th int8 score + bound.
        n("ReduceMax", [f"{p}logits", "prescore_axis1"], [f"{p}best"], keepdims=0),
        n("ReduceMin", [cand_approx, "prescore_axis1"], [f"{p}kth"], keepdims=0),
        n("Abs", [f"{p}kth"], [f"{p}kth_abs"]),
        n("Mul", [f"{p}kth_abs", "prescore_rel"], [f"{p}err_round"]),
        n("Sum", [f"{p}kth", bound_base, f"{p}err_round"], [f"{p}threshold"]),
        n("Greater", [f"{p}best", f"{p}threshold"], [f"{p}proven"]),
        n("Not", [f"{p}proven"], [f"{p}unproven"]),
        n("NonZero", [f"{p}unproven"], [f"{p}unproven_rows"]),                  # [1, U]
        n("Transpose", [f"{p}unproven_rows"], [f"{p}unproven_index"], perm=[1, 0]),  # [U, 1]
        n("Reshape", [f"{p}unproven_rows", "prescore_flat"], [f"{p}unproven_flat"]),
    ]


def _prescore(hidden: str, weight: str, bias: str, argmax_attrs: dict,
              constants: list[onnx.TensorProto]) -> onnx.GraphProto:
    """The exact argmax through int8 scores.

    With h~ the int8 activation and W~_j the int8 row j, the int8 score of id j is
    h~·W~_j + b_j, and |h·W_j - h~·W~_j| <= ||h||·||W_j - W~_j|| + ||h - h~||·||W~_j||.
    An id outside the K best int8 scores has an exact logit at most the K-th int8 score
    plus that bound; a row whose best candidate beats this is proven. The other rows
    (4.3% of the default model's greedy rows at K=8) are tried again with the K2 best
    int8 scores, and the rows still unproven are scored by the full fp32 layer.

    `constants` become the branch's own initializers: onnxruntime prepacks the int8
    weights only where the graph that reads them holds them (bench/RESULTS.md).
    """
    n = helper.make_node
    branch = _branch("prescore", [
        n("DynamicQuantizeMatMul", [hidden, "prescore_w_int8", "prescore_w_scale", "prescore_w_zero",
                                    "prescore_head_bias"], ["approx"], domain=MS_DOMAIN),  # [B, V']
        # The K best int8 scores, found among the K groups with the best maxima (a TopK
        # over the whole row costs more than the int8 matmul); the K-th of them is still
        # at least every score outside them: each of the K groups holds one score as high.
        n("Reshape", ["approx", "prescore_group_shape"], ["grouped"]),          # [B, G, S]
        n("ReduceMax", ["grouped", "prescore_axis2"], ["group_max"], keepdims=0),
        n("TopK", ["group_max", "prescore_groups_k"], ["_", "top_groups"], axis=1),
        n("Unsqueeze", ["top_groups", "prescore_axis2"], ["top_groups3"]),
        n("Expand", ["top_groups3", "prescore_expand"], ["member_index"]),
        n("GatherElements", ["grouped", "member_index"], ["members3"], axis=1),
        n("Reshape", ["members3", "prescore_member_shape"], ["members"]),
        n("TopK", ["members", "prescore_k"], ["cand_approx", "member"], axis=1),
        n("Div", ["member", "prescore_group_size"], ["member_group"]),
        n("Mod", ["member", "prescore_group_size"], ["member_offset"]),
        n("GatherElements", ["top_groups", "member_group"], ["cand_group"], axis=1),
        n("Mul", ["cand_group", "prescore_group_size"], ["cand_base"]),
        n("Add", ["cand_base", "member_offset"], ["cand"]),                     # [B, K] ids
        # The bound's terms per row, shared by both stages (see the docstring).
        n("DynamicQuantizeLinear", [hidden], ["hidden_q", "hidden_scale", "hidden_zero"]),
        n("DequantizeLinear", ["hidden_q", "hidden_scale", "hidden_zero"], ["hidden_dq"]),
        n("Sub", [hidden, "hidden_dq"], ["hidden_err"]),
        n("ReduceL2", ["hidden_err", "prescore_axis1"], ["hidden_err_norm"], keepdims=0),
        # one more quantization step of slack, in case the fused kernel rounds one value apart
        n("Add", ["hidden_err_norm", "hidden_scale"], ["hidden_err_slack"]),
        n("Mul", ["hidden_err_slack", "prescore_weight_norm"], ["err_h"]),
        n("ReduceL2", [hidden, "prescore_axis1"], ["hidden_norm"], keepdims=0),
        n("Mul", ["hidden_norm", "prescore_error_norm"], ["err_w"]),
        n("Sum", ["err_w", "err_h", "prescore_abs"], ["bound_base"]),
        *_candidates("", hidden, weight, bias, "cand", "cand_approx", "bound_base"),
        # The unproven rows again with the K2 best int8 scores, then the full layer for
        # the rows still unproven (almost none).
        n("Gather", ["approx", "unproven_flat"], ["u_approx"], axis=0),
        # TopK reads one row more than there are unproven rows (the batch's first), and that
        # row's result is dropped: onnxruntime before 1.31 crashes on a TopK of no rows.
        n("Slice", ["approx", "prescore_zero", "prescore_one"], ["first_approx"]),
        n("Concat", ["u_approx", "first_approx"], ["u_approx_padded"], axis=0),
        n("TopK", ["u_approx_padded", "prescore_k2"], ["u_cand_approx_padded", "u_cand_padded"], axis=1),
        n("Shape", ["unproven_flat"], ["unproven_count"]),
        n("Slice", ["u_cand_approx_padded", "prescore_zero", "unproven_count"], ["u_cand_approx"]),
        n("Slice", ["u_cand_padded", "prescore_zero", "unproven_count"], ["u_cand"]),
        n("Gather", [hidden, "unproven_flat"], ["u_hidden"], axis=0),
        n("Gather", ["bound_base", "unproven_flat"], ["u_bound_base"], axis=0),
        *_candidates("u_", "u_hidden", weight, bias, "u_cand", "u_cand_approx", "u_bound_base"),
        n("Gather", ["u_hidden", "u_unproven_flat"], ["f_hidden"], axis=0),
        n("Gemm", ["f_hidden", weight, bias], ["f_logits"], transB=1),
        n("ArgMax", ["f_logits"], ["f_argmax"], **argmax_attrs),
        # [U2] also when U2 is 0: onnxruntime 1.31's ArgMax of a [0, V] input is [0, V]
        n("Reshape", ["f_argmax", "prescore_flat"], ["f_next"]),
        n("ScatterND", ["u_cand_next", "u_unproven_index", "f_next"], ["u_next"]),
        n("ScatterND", ["cand_next", "unproven_index", "u_next"], [NEXT_TOKEN]),
    ])
    branch.initializer.extend(constants)
    return branch


def _banned_bias(bias: str, prescore: bool) -> list[onnx.NodeProto]:
    """Nodes writing "head_bias" (and "prescore_head_bias"): the bias with the ids of
    BANNED_INPUT set to BANNED_LOGIT."""
    n = helper.make_node
    logit = helper.make_tensor("banned_logit", TensorProto.FLOAT, [1], [BANNED_LOGIT])
    nodes = [n("Shape", [BANNED_INPUT], ["banned_shape"]),
             n("ConstantOfShape", ["banned_shape"], ["banned_fill"], value=logit),
             n("ScatterElements", [bias, BANNED_INPUT, "banned_fill"], ["head_bias"], axis=0)]
    if prescore:
        nodes.append(n("ScatterElements", ["prescore_bias", BANNED_INPUT, "banned_fill"],
                       ["prescore_head_bias"], axis=0))
    return nodes


def traced_head(graph: onnx.GraphProto, path: Path) -> tuple[onnx.NodeProto, onnx.NodeProto]:
    """The traced step's Gemm → logits and ArgMax → next_token nodes; ValueError if the
    graph at `path` does not end in them."""
    by_output = {out: node for node in graph.node for out in node.output}
    gemm, argmax = by_output.get(LOGITS), by_output.get(NEXT_TOKEN)
    if gemm is None or gemm.op_type != "Gemm" or argmax is None or argmax.op_type != "ArgMax":
        raise ValueError(f"{path}: the decoder step does not end in Gemm → ArgMax")
    return gemm, argmax


def rewrite_output_head(path: Path, shortlist: bool, prescore: bool,
                        candidates: int = PRESCORE_CANDIDATES) -> None:
    """Rewrite the decoder-step graph at `path` in place (see the module docstring). With
    neither switch, only the banned ids are added: the traced Gemm reads the banned bias."""
    model = onnx.load(str(path))
    graph = model.graph
    gemm, argmax = traced_head(graph, path)
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    if attrs.get("transB") != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise ValueError(f"{path}: unexpected output layer attributes {attrs}")
    hidden, weight, bias = gemm.input
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if prescore and opset < 18:
        raise ValueError(f"{path}: int8 prescoring needs opset 18 or later (the graph has {opset})")
    argmax_attrs = {a.name: helper.get_attribute_value(a) for a in argmax.attribute}
    n = helper.make_node
    banning = _banned_bias(bias, prescore)
    traced_bias, bias = bias, "head_bias"
    head = _vocabulary(hidden, weight, bias, argmax_attrs)
    switch = []
    if prescore:
        weights = {i.name: i for i in graph.initializer}
        constants = _prescore_initializers(numpy_helper.to_array(weights[weight]),
                                           numpy_helper.to_array(weights[traced_bias]), candidates)
        # The banned ids are written into the bias outside the branch (_banned_bias).
        graph.initializer.extend(c for c in constants if c.name == "prescore_bias")
        branch_constants = [c for c in constants if c.name != "prescore_bias"]
        switch.append(_if(PRESCORE_INPUT, _prescore(hidden, weight, bias, argmax_attrs, branch_constants),
                          head))
        graph.input.append(helper.make_tensor_value_info(PRESCORE_INPUT, TensorProto.BOOL, []))
        if not any(o.domain == MS_DOMAIN for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    if shortlist:
        if switch:  # the prescore switch becomes the shortlist's else-branch
            switch[0].output[:] = ["no_shortlist_logits", "no_shortlist_next_token"]
            head = helper.make_graph(switch, "no_shortlist", [], _outputs("no_shortlist"))
        switch = [
            n("Size", [SHORTLIST_INPUT], ["shortlist_size"]),
            n("Constant", [], ["shortlist_zero"], value=helper.make_tensor("zero", TensorProto.INT64, [], [0])),
            n("Greater", ["shortlist_size", "shortlist_zero"], [SHORTLIST_SWITCH]),
            _if(SHORTLIST_SWITCH, _shortlist(hidden, weight, bias, argmax_attrs), head),
        ]
        graph.input.append(helper.make_tensor_value_info(SHORTLIST_INPUT, TensorProto.INT64, ["shortlist"]))
    graph.input.append(helper.make_tensor_value_info(BANNED_INPUT, TensorProto.INT64, ["banned"]))
    graph.initializer.append(numpy_helper.from_array(np.zeros(0, np.int64), BANNED_INPUT))
    if switch:
        graph.input.append(helper.make_tensor_value_info(LOGITS_ONLY_INPUT, TensorProto.BOOL, []))
        graph.initializer.append(numpy_helper.from_array(np.array(False), LOGITS_ONLY_INPUT))
        graph.input.append(helper.make_tensor_value_info(ROW_CANDIDATES_INPUT, TensorProto.INT64, [1]))
        graph.initializer.append(numpy_helper.from_array(np.zeros(1, np.int64), ROW_CANDIDATES_INPUT))
        kept = [node for node in graph.node if node is not gemm and node is not argmax]
    else:
        gemm.input[2] = bias
        kept = list(graph.node)
    del graph.node[:]
    graph.node.extend(banning + kept + switch)
    for output in graph.output:  # the logits' width is now V or K
        if output.name == LOGITS:
            output.type.tensor_type.shape.dim[1].dim_param = "vocabulary"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
