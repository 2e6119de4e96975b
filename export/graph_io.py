"""What a written ONNX graph can be fed and returns, as a bundle manifest records it."""

from __future__ import annotations

from pathlib import Path

import onnx


def read_graph_io(path: Path) -> dict:
    """The input and output names the written graph really has (unused inputs are pruned),
    and its optional inputs: those with a default, an initializer a feed may override."""
    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    return {"inputs": [i.name for i in graph.input if i.name not in initializers],
            "optional_inputs": [i.name for i in graph.input if i.name in initializers],
            "outputs": [o.name for o in graph.output]}
