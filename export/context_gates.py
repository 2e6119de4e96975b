"""The first decoder layer's input projection, moved out of the step loop.

In the seed's decoder (no attention) the first layer reads [embedding(token), context]
each step: one Gemm [B, E + H] x [E + H, 3H]. Both parts need no per-step work:

- the context is fixed per sentence: the encoder graph now returns its projection
  (`context` becomes [B, 3H] = context · W_ctx^T), computed once per batch;
- the embedding part depends on the token alone: the step gathers rows of
  E · W_emb^T + b, a node on two initializers that onnxruntime folds into a [V, 3H]
  table when the session loads (the bundle keeps the small factors).

The step's first layer then costs one Gather and one Add instead of the Gemm: the same
state within float rounding (the sum is split in two). `precompute_context_gates`
rewrites both graphs of a bundle in place, after `unfuse_gru_steps`; graphs that do not
hold the pattern (attention models, fused cells) are left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from s2s_batch.runtime.bundle.graph_names import CONTEXT

# The encoder's projection weight [H, 3H]; its presence marks a rewritten bundle.
CONTEXT_GATES_WEIGHT = "context_gates_weight"
# The decoder step's part of it, [3H, E]: the factor of the embedding table.
CONTEXT_GATES_WEIGHT_EMB = "context_gates_weight_emb"


def splice(graph: onnx.GraphProto, chain, last: onnx.NodeProto, nodes: list[onnx.NodeProto]) -> None:
    """Replace the nodes of `chain` by `nodes`, placed where `last` was (its consumers follow)."""
    dropped = {id(node) for node in chain}
    kept = []
    for node in graph.node:
        if id(node) == id(last):
            kept += nodes
        elif id(node) not in dropped:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def consumers(graph: onnx.GraphProto, name: str) -> list[onnx.NodeProto]:
    """The nodes that read `name`."""
    return [node for node in graph.node if name in node.input]


def _only_consumer(graph: onnx.GraphProto, name: str, op_type: str) -> onnx.NodeProto | None:
    found = consumers(graph, name)
    return found[0] if len(found) == 1 and found[0].op_type == op_type else None


def _first_layer(graph: onnx.GraphProto, initializers: dict):
    """(Gather, Concat, Unsqueeze, Squeeze, Gemm) of the embedding ++ context → first-layer
    input Gemm chain, or None."""
    concat = next((node for node in graph.node if node.op_type == "Concat" and len(node.input) == 2
                   and node.input[1] == CONTEXT), None)
    if concat is None:
        return None
    gather = next((node for node in graph.node if node.output[0] == concat.input[0]), None)
    if gather is None or gather.op_type != "Gather" or gather.input[0] not in initializers:
        return None
    unsqueeze = _only_consumer(graph, concat.output[0], "Unsqueeze")
    squeeze = unsqueeze and _only_consumer(graph, unsqueeze.output[0], "Squeeze")
    gemm = squeeze and _only_consumer(graph, squeeze.output[0], "Gemm")
    if not gemm or gemm.input[0] != squeeze.output[0] or len(gemm.input) != 3:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    if attrs != {"transB": 1} or not all(name in initializers for name in gemm.input[1:]):
        return None
    if len(consumers(graph, gather.output[0])) != 1 or len(consumers(graph, CONTEXT)) != 1:
        return None
    return gather, concat, unsqueeze, squeeze, gemm


def _rewrite_decoder(model: onnx.ModelProto) -> np.ndarray | None:
    """Rewrite the decoder step; returns W_ctx^T [H, 3H] for the encoder, or None."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    chain = _first_layer(graph, initializers)
    if chain is None:
        return None
    gather, concat, unsqueeze, squeeze, gemm = chain
    embedding = numpy_helper.to_array(initializers[gather.input[0]])
    weight = numpy_helper.to_array(initializers[gemm.input[1]])  # [3H, E + H]
    embed = embedding.shape[1]
    n = helper.make_node
    table, gi = "context_gates_embedding_table", gemm.output[0]
    nodes = [
        # constant inputs only: folded once when the session loads
        n("Gemm", [gather.input[0], CONTEXT_GATES_WEIGHT_EMB, gemm.input[2]], [table], transB=1),
        n("Gather", [table, gather.input[1]], ["context_gates_embedded"], axis=0),   # [B, 3H]
        n("Add", ["context_gates_embedded", CONTEXT], [gi]),
    ]
    splice(graph, chain, gemm, nodes)
    read = {name for node in graph.node for name in node.input}
    weight_emb = numpy_helper.from_array(np.ascontiguousarray(weight[:, :embed]), CONTEXT_GATES_WEIGHT_EMB)
    others = [t for t in graph.initializer if t.name in read or t.name == gather.input[0]]
    del graph.initializer[:]
    graph.initializer.extend(others + [weight_emb])
    _set_width(graph.input, CONTEXT, weight.shape[0])
    return np.ascontiguousarray(weight[:, embed:].T)


def _set_width(values, name: str, width: int) -> None:
    for value in values:
        if value.name == name:
            dim = value.type.tensor_type.shape.dim[1]
            dim.ClearField("dim_param")
            dim.dim_value = width


def _rewrite_encoder(model: onnx.ModelProto, weight_t: np.ndarray) -> None:
    graph = model.graph
    state = "context_state"
    for node in graph.node:
        node.output[:] = [state if o == CONTEXT else o for o in node.output]
        node.input[:] = [state if i == CONTEXT else i for i in node.input]
    graph.node.append(helper.make_node("MatMul", [state, CONTEXT_GATES_WEIGHT], [CONTEXT]))
    graph.initializer.append(numpy_helper.from_array(weight_t, CONTEXT_GATES_WEIGHT))
    _set_width(graph.output, CONTEXT, weight_t.shape[1])


def precompute_context_gates(encoder_path: Path, decoder_path: Path) -> bool:
    """Rewrite both graphs in place (see the module docstring); False if the decoder step
    does not read [embedding, context] through one Gemm."""
    decoder = onnx.load(str(decoder_path))
    weight_t = _rewrite_decoder(decoder)
    if weight_t is None:
        return False
    encoder = onnx.load(str(encoder_path))
    if CONTEXT not in {o.name for o in encoder.graph.output}:
        return False
    _rewrite_encoder(encoder, weight_t)
    for model, path in ((encoder, encoder_path), (decoder, decoder_path)):
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    return True


def context_gates_weight(encoder_path: Path) -> np.ndarray | None:
    """W_ctx^T [H, 3H] of a rewritten encoder graph, or None: what turns an eager model's
    context [B, H] into the rewritten graphs' `context` [B, 3H]."""
    for tensor in onnx.load(str(encoder_path)).graph.initializer:
        if tensor.name == CONTEXT_GATES_WEIGHT:
            return numpy_helper.to_array(tensor)
    return None
