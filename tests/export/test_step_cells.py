"""The decoder step's GRU layers rewritten as plain ops (export/step_cells.py)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.export.onnx_export import OPSET
from s2s_batch.export.step_cells import unfuse_gru_steps
from s2s_batch.runtime.bundle.manifest import DECODER_FILE

INPUT, HIDDEN = 5, 4


def _step_graph(path, op: str = "GRU", **attrs) -> None:
    """x [1,B,I], h [1,B,H] → y [1,1,B,H], h_out [1,B,H] through one recurrent node."""
    gates = {"GRU": 3, "LSTM": 4}[op]
    rng = np.random.default_rng(0)
    tensors = {"W": rng.normal(0, 0.5, (1, gates * HIDDEN, INPUT)),
               "R": rng.normal(0, 0.5, (1, gates * HIDDEN, HIDDEN)),
               "B": rng.normal(0, 0.5, (1, 2 * gates * HIDDEN))}
    node = helper.make_node(op, ["x", "W", "R", "B", "", "h"], ["y", "h_out"], hidden_size=HIDDEN, **attrs)
    graph = helper.make_graph(
        [node], "step",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, INPUT]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, None, HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, None, HIDDEN]),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, None, HIDDEN])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in tensors.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), str(path))


def _run(path, x, h):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x, "h": h})


def test_a_gru_step_as_plain_ops_gives_the_gru_nodes_outputs(tmp_path):
    path = tmp_path / "step.onnx"
    _step_graph(path, linear_before_reset=1)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (1, 7, INPUT)).astype(np.float32)
    h = np.tanh(rng.normal(0, 1, (1, 7, HIDDEN))).astype(np.float32)
    expected = _run(path, x, h)
    assert unfuse_gru_steps(path) == 1
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "GRU" not in ops and "Gemm" in ops
    for got, want in zip(_run(path, x, h), expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("op,attrs", [("GRU", {}), ("LSTM", {}), ("GRU", {"linear_before_reset": 1,
                                                                           "direction": "reverse"})])
def test_other_recurrent_nodes_are_left_alone(tmp_path, op, attrs):
    path = tmp_path / "step.onnx"
    _step_graph(path, op, **attrs)  # a GRU without linear_before_reset is not PyTorch's
    before = path.read_bytes()
    assert unfuse_gru_steps(path) == 0 and path.read_bytes() == before


def test_exported_gru_decoders_have_no_gru_node(bundle):
    for attention in ("none", "additive"):
        graph = onnx.load(str(bundle("gru", False, attention) / DECODER_FILE)).graph
        assert "GRU" not in {node.op_type for node in graph.node}
