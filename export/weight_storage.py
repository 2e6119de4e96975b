"""Weights stored in float16, computed in float32: half the size of an fp32 bundle's graphs.

`round_to_float16` rounds a model's weights to the nearest float16 value (they stay fp32
tensors); the graphs traced from it then hold only fp16-exact weights, and
`store_float16` writes each such tensor as a float16 initializer followed by a Cast to
float32, which onnxruntime folds into an fp32 constant when it loads the session. The
storage itself is lossless (a tensor that does not round-trip exactly stays fp32), so
the bundle computes exactly what the rounded model computes in eager PyTorch; what the
rounding changes is measured on the model, not hidden in the export. CTranslate2 keeps
weights the same way (saved in float16, converted to the compute type when loaded).

`widen_float16` undoes the storage in a loaded graph, for the code that reads a bundle's
weights back (the eager model, the int8 compute type's graphs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.runtime.bundle.manifest import WEIGHT_STORAGES

__all__ = ["WEIGHT_STORAGES", "load_widened", "round_to_float16", "store_float16", "stored_float16",
           "widen_float16"]

STORED_SUFFIX = ".float16"
# Small tensors (biases, scales, masks) are not worth a Cast node each.
MIN_STORED_ELEMENTS = 1024
FLOAT16_MAX = float(np.finfo(np.float16).max)


def round_to_float16(module) -> int:
    """Round every floating-point parameter of a torch module to float16 precision, in
    place (the tensors keep their dtype); the number of parameters rounded. Refuses a
    weight beyond float16's range, which rounding would turn into infinity."""
    import torch

    count = 0
    with torch.no_grad():
        for name, param in module.named_parameters():
            if not param.is_floating_point():
                continue
            if param.numel() and float(param.abs().max()) > FLOAT16_MAX:
                raise ValueError(f"weight {name} exceeds float16's range; export it with "
                                 "--weight-storage float32")
            param.copy_(param.to(torch.float16).to(param.dtype))
            count += param.numel()
    return count


def _subgraphs(graph: onnx.GraphProto):
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield attribute.g
            yield from attribute.graphs


def _float16_exact(array: np.ndarray) -> bool:
    """Whether float16 holds every value of the fp32 array exactly (a bound such as -1e9
    overflows it; a product of rounded weights is rarely exact)."""
    with np.errstate(over="ignore"):
        return bool(np.array_equal(array.astype(np.float16).astype(np.float32), array))


def _store_graph(graph: onnx.GraphProto, min_elements: int) -> int:
    inputs = {i.name for i in graph.input}  # an initializer that is also an input is a default a feed may override
    kept, casts, saved = [], [], 0
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor) if tensor.data_type == TensorProto.FLOAT else None
        if (array is None or tensor.name in inputs or array.size < min_elements
                or not _float16_exact(array)):
            kept.append(tensor)
            continue
        stored = numpy_helper.from_array(array.astype(np.float16), tensor.name + STORED_SUFFIX)
        kept.append(stored)
        casts.append(helper.make_node("Cast", [stored.name], [tensor.name], to=TensorProto.FLOAT,
                                      name=tensor.name + STORED_SUFFIX + ".widen"))
        saved += 2 * array.size
    if casts:
        del graph.initializer[:]
        graph.initializer.extend(kept)
        nodes = list(graph.node)
        del graph.node[:]
        graph.node.extend(casts + nodes)
    return saved + sum(_store_graph(sub, min_elements) for sub in _subgraphs(graph))


def store_float16(path: Path, min_elements: int = MIN_STORED_ELEMENTS) -> int:
    """Rewrite the ONNX file at `path` with every fp32 initializer of at least
    `min_elements` that float16 holds exactly stored as float16 plus a Cast; the bytes
    saved. What the graph computes is unchanged."""
    model = onnx.load(str(path))
    saved = _store_graph(model.graph, min_elements)
    if saved:
        onnx.save(model, str(path))
    return saved


def _widen_graph(graph: onnx.GraphProto) -> int:
    stored = {t.name: t for t in graph.initializer if t.data_type == TensorProto.FLOAT16
              and t.name.endswith(STORED_SUFFIX)}
    widened, nodes = {}, []
    for node in graph.node:
        if (node.op_type == "Cast" and len(node.input) == 1 and node.input[0] in stored
                and helper.get_attribute_value(node.attribute[0]) == TensorProto.FLOAT):
            array = numpy_helper.to_array(stored[node.input[0]]).astype(np.float32)
            widened[node.input[0]] = numpy_helper.from_array(array, node.output[0])
        else:
            nodes.append(node)
    if widened:
        initializers = [widened.get(t.name, t) for t in graph.initializer]
        del graph.initializer[:]
        graph.initializer.extend(initializers)
        del graph.node[:]
        graph.node.extend(nodes)
    return len(widened) + sum(_widen_graph(sub) for sub in _subgraphs(graph))


def widen_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn `store_float16`'s float16 initializers and their Casts back into the fp32
    initializers they stand for, in place; the model."""
    _widen_graph(model.graph)
    return model


def load_widened(path: Path) -> onnx.ModelProto:
    """An ONNX file as its fp32 weights read: float16-stored weights widened."""
    return widen_float16(onnx.load(str(path)))


def stored_float16(path: Path) -> bool:
    """Whether the ONNX file at `path` holds float16-stored weights."""
    def any_stored(graph: onnx.GraphProto) -> bool:
        return (any(t.data_type == TensorProto.FLOAT16 and t.name.endswith(STORED_SUFFIX) for t in graph.initializer)
                or any(any_stored(sub) for sub in _subgraphs(graph)))
    return any_stored(onnx.load(str(path), load_external_data=False).graph)
