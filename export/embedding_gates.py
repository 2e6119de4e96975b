"""The first decoder layer's input projection as a per-token table, for decoders that read
the embedding alone (attention after the cell).

Such a step computes gi = embedding(token) · W_x^T + b_x for its first GRU layer: one
Gemm [B, E] x [E, 3H] per step, whose result depends on the token alone. The rewrite
replaces it by a Gather from E · W_x^T + b_x, a node on two initializers that onnxruntime
folds into a [V, 3H] table when the session loads (the bundle keeps the small factors, so
it does not grow): the same state within float rounding. The seed's decoder, which also
reads the context, gets the same treatment from export/context_gates.py instead.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper

from s2s_batch.export.context_gates import consumers, splice
from s2s_batch.runtime.bundle.graph_names import TOKENS

EMBEDDING_TABLE = "embedding_gates_table"


def _chain(graph: onnx.GraphProto, initializers: set[str]):
    """(Gather, Unsqueeze, Squeeze, Gemm) from the token embedding to the first layer's
    input Gemm, or None when the step does not read the embedding alone."""
    gather = next((node for node in graph.node if node.op_type == "Gather"
                   and list(node.input)[1:] == [TOKENS] and node.input[0] in initializers), None)
    if gather is None:
        return None
    chain, name = [gather], gather.output[0]
    for op_type in ("Unsqueeze", "Squeeze", "Gemm"):
        found = consumers(graph, name)
        if len(found) != 1 or found[0].op_type != op_type or found[0].input[0] != name:
            return None
        chain.append(found[0])
        name = found[0].output[0]
    gemm = chain[-1]
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    if attrs != {"transB": 1} or len(gemm.input) != 3 or not all(i in initializers for i in gemm.input[1:]):
        return None
    return chain


def precompute_embedding_gates(decoder_path: Path) -> bool:
    """Rewrite the decoder step at `decoder_path` in place; False (and no change) when its
    first layer does not read the token embedding alone through one Gemm."""
    model = onnx.load(str(decoder_path))
    graph = model.graph
    chain = _chain(graph, {t.name for t in graph.initializer})
    if chain is None:
        return False
    gather, _, _, gemm = chain
    embedding, weight, bias = gather.input[0], gemm.input[1], gemm.input[2]
    nodes = [
        # constant inputs only: folded once when the session loads
        helper.make_node("Gemm", [embedding, weight, bias], [EMBEDDING_TABLE], transB=1),
        helper.make_node("Gather", [EMBEDDING_TABLE, TOKENS], [gemm.output[0]], axis=0),  # [B, 3H]
    ]
    splice(graph, chain, gemm, nodes)
    # The dropped Unsqueeze and Squeeze leave their axes constants unread.
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    kept = [node for node in graph.node if node.op_type != "Constant" or any(o in read for o in node.output)]
    del graph.node[:]
    graph.node.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, str(decoder_path))
    return True
