"""The int8 compute type made from a bundle's fp32 graphs (export/int8_step.py,
export/compute_types.py): every weight matmul of the decoder step in int8, the fp32
graphs untouched, each type's dev BLEU recorded."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from s2s_batch.export.cli import main as export_main
from s2s_batch.export.compute_types import INT8_ENCODER_FILE, INT8_STEP_FILE, add_compute_types, main
from s2s_batch.export.int8_step import _all_graphs
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, MANIFEST, sha256_of
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.translator import Translator
from tests.toy import make_pairs


@pytest.fixture
def copied(bundle, tmp_path):
    def get(*variant):
        target = tmp_path / "bundle"
        shutil.copytree(bundle(*variant), target)
        return target
    return get


def _initializers(path):
    return {t.name: t for g in _all_graphs(onnx.load(str(path)).graph) for t in g.initializer}


@pytest.mark.parametrize("attention", ["none", "general+after"])
def test_every_weight_matmul_of_the_step_runs_in_int8(copied, corpus_path, attention):
    path = copied("gru", False, attention)
    fp32_sha = sha256_of(path / DECODER_FILE)
    types = add_compute_types(path, ["int8"], corpus_path)
    assert sha256_of(path / DECODER_FILE) == fp32_sha  # the exact graphs stay as they were
    assert types["float32"]["dev_bleu"] is not None and types["int8"]["dev_bleu"] is not None
    assert 0 <= types["int8"]["dev_lines_as_float32"] <= 1
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"][INT8_STEP_FILE] == sha256_of(path / INT8_STEP_FILE)
    assert manifest["metrics"]["compute_types_dev"]["sentences"] > 0

    fp32 = _initializers(path / DECODER_FILE)
    int8 = _initializers(path / INT8_STEP_FILE)
    graphs = _all_graphs(onnx.load(str(path / INT8_STEP_FILE)).graph)
    dqmm_weights = {n.input[1] for g in graphs for n in g.node if n.op_type == "DynamicQuantizeMatMul"}
    recurrent = [name for name in fp32 if name.endswith("_cell_weight_h")]
    assert recurrent  # the GRU layers' h-to-gates weights, each in int8 and read by the int8 kernel
    for name in recurrent:
        assert name not in int8 and f"{name}_mm_int8" in dqmm_weights
        assert numpy_helper.to_array(int8[f"{name}_mm_int8"]).dtype == np.int8
    # no fp32 copy of the output layer is left (the shortlist and prescoring branches read it)
    cfg = Translator(path).config
    head = {(cfg.tgt_vocab_size, cfg.hidden_size), (cfg.hidden_size, cfg.tgt_vocab_size)}
    assert any(tuple(t.dims) in head for t in fp32.values() if t.data_type == onnx.TensorProto.FLOAT)
    assert not [t for t in int8.values() if t.data_type == onnx.TensorProto.FLOAT and tuple(t.dims) in head]
    assert (path / INT8_STEP_FILE).stat().st_size < 0.6 * (path / DECODER_FILE).stat().st_size
    # the encoder's GRU layers as int8 matmuls in a loop over time (onnxruntime has no int8 GRU)
    encoder_ops = {n.op_type for g in _all_graphs(onnx.load(str(path / INT8_ENCODER_FILE)).graph) for n in g.node}
    assert "GRU" not in encoder_ops and {"Loop", "DynamicQuantizeMatMul"} <= encoder_ops
    assert manifest["files"][INT8_ENCODER_FILE] == sha256_of(path / INT8_ENCODER_FILE)


def test_int8_logits_stay_near_fp32_and_the_greedy_head_takes_their_argmax(copied, corpus_path):
    path = copied("gru", False, "general+after")
    add_compute_types(path, ["int8"])
    exact, fast = Translator(path, threads=1), Translator(path, threads=1, compute_type="int8")
    ids = [exact.source_ids(en) for en, _ in make_pairs(40, seed=3)]
    width = max(map(len, ids))
    src = np.array([row + [exact.src_vocab.pad] * (width - len(row)) for row in ids], np.int64)
    src_len = np.array([len(row) for row in ids], np.int64)
    tokens = np.full(len(ids), exact.tgt_vocab.bos, np.int64)
    agree = total = 0
    for _ in range(4):  # a few steps, each from the fp32 state, fed to both steps
        states, memory = exact.graphs.encode(src, src_len)
        logits32, next_states, _ = exact.graphs.step_logits(tokens, states, memory)
        logits8, _, _ = fast.graphs.step_logits(tokens, states, memory)
        chosen8, _, _ = fast.graphs.step(tokens, states, memory)
        np.testing.assert_array_equal(chosen8, logits8.argmax(-1))  # grouped argmax = ArgMax
        spread = logits32.max() - logits32.min()
        assert np.abs(logits8 - logits32).max() < 0.05 * spread
        agree += int((logits8.argmax(-1) == logits32.argmax(-1)).sum())
        total += len(tokens)
        tokens = logits32.argmax(-1).astype(np.int64)
        src, states = src, next_states
    assert agree >= 0.85 * total


def test_without_data_no_bleu_is_recorded_and_auto_keeps_float32(copied, capsys):
    path = copied("gru", False, "none")
    assert main([str(path), "--add", "int8"]) == 0
    assert "dev BLEU not measured" in capsys.readouterr().err
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["compute_types"]["int8"]["dev_bleu"] is None
    assert Translator(path, compute_type="auto").compute_type == "float32"
    assert Translator(path, compute_type="int8").compute_type == "int8"


def test_bundles_without_an_fp32_prescoring_step_are_refused_in_one_line(trained, tmp_path, capsys):
    runner = CliRunner()
    for name, option in (("plain", "--no-prescore"), ("quantized", "--quantize=int8")):
        result = runner.invoke(export_main, [str(trained()), "-o", str(tmp_path / name), option])
        assert result.exit_code == 0, result.output
    with pytest.raises(BundleError, match="no prescoring head.*--prescore"):
        add_compute_types(tmp_path / "plain", ["int8"])
    assert main([str(tmp_path / "quantized"), "--add", "int8"]) == 4
    assert "its precision is int8" in capsys.readouterr().err


def test_s2s_export_writes_the_int8_graphs_and_their_dev_bleu(trained, corpus_path, tmp_path):
    result = CliRunner().invoke(export_main, [str(trained("gru", False, "general+after")), "-o",
                                              str(tmp_path / "b"), "--compute-type", "int8",
                                              "--data", str(corpus_path)])
    assert result.exit_code == 0, result.output
    assert "int8 dev BLEU" in result.output
    assert Translator(tmp_path / "b", compute_type="int8").translate_lines(["I see the dog."])[0]


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_the_int8_gru_follows_the_gru_kernel_row_by_row(tmp_path, direction):
    """One GRU node (PyTorch's semantics, sequence lengths) against its int8 rewrite: the
    states within int8 rounding, zeros past each row's length, the reverse direction from
    each row's own last token."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from s2s_batch.export.int8_encoder import int8_encoder

    rng = np.random.default_rng(0)
    steps, batch, inputs, hidden = 7, 5, 6, 16
    dirs = 2 if direction == "bidirectional" else 1
    weights = [numpy_helper.from_array(rng.normal(0, 0.4, shape).astype(np.float32), name) for name, shape in
               (("W", (dirs, 3 * hidden, inputs)), ("R", (dirs, 3 * hidden, hidden)), ("B", (dirs, 6 * hidden)))]
    node = helper.make_node("GRU", ["x", "W", "R", "B", "lens"], ["y", "y_h"], hidden_size=hidden,
                            linear_before_reset=1, direction=direction)
    value = helper.make_tensor_value_info
    graph = helper.make_graph([node], "gru", [value("x", TensorProto.FLOAT, [None, None, inputs]),
                                              value("lens", TensorProto.INT32, [None])],
                              [value("y", TensorProto.FLOAT, [None] * 4), value("y_h", TensorProto.FLOAT, [None] * 3)],
                              weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(tmp_path / "fp32.onnx"))
    assert int8_encoder(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")["int8_gru_layers"] == 1
    feed = {"x": rng.normal(0, 1, (steps, batch, inputs)).astype(np.float32),
            "lens": np.array([7, 5, 3, 1, 6], np.int32)}
    (y32, h32), (y8, h8) = (ort.InferenceSession(str(tmp_path / f"{name}.onnx"),
                                                 providers=["CPUExecutionProvider"]).run(None, feed)
                            for name in ("fp32", "int8"))
    assert y8.shape == y32.shape == (steps, dirs, batch, hidden) and h8.shape == h32.shape
    assert np.abs(y8 - y32).max() < 0.05 and np.abs(h8 - h32).max() < 0.05
    past = np.arange(steps)[:, None] >= feed["lens"][None, :]  # [T, B]
    assert not y8.transpose(0, 2, 1, 3)[past].any() and not y32.transpose(0, 2, 1, 3)[past].any()


def test_a_symlinked_target_is_refused_before_anything_is_written(copied, tmp_path):
    path = copied("gru", False, "none")
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"keep")
    (path / INT8_STEP_FILE).unlink(missing_ok=True)
    (path / INT8_STEP_FILE).symlink_to(outside)
    with pytest.raises(BundleError, match="a symlink"):
        add_compute_types(path, ["int8"])
    assert outside.read_bytes() == b"keep"
