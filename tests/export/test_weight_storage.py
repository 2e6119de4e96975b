"""Weights stored in float16 (s2s-export --weight-storage float16): lossless storage of a
rounded model, half the graph bytes, exact to the rounded model in eager PyTorch."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")

from s2s_batch.export.bundle import write_bundle  # noqa: E402
from s2s_batch.export.bundle_weights import eager_from_bundle  # noqa: E402
from s2s_batch.export.compute_types import add_compute_types  # noqa: E402
from s2s_batch.export.verify import cpu_session  # noqa: E402
from s2s_batch.export.weight_storage import (  # noqa: E402
    MIN_STORED_ELEMENTS,
    STORED_SUFFIX,
    load_widened,
    round_to_float16,
    store_float16,
    stored_float16,
)
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE  # noqa: E402
from s2s_batch.runtime.bundle.tokens import tokenize  # noqa: E402
from s2s_batch.runtime.translator import Translator  # noqa: E402
from s2s_batch.train.checkpoint import load_checkpoint  # noqa: E402
from s2s_batch.train.predict import predict_seq2seq  # noqa: E402

ATTENTION = "general+after"  # the default bundle's kind


def _half_exact(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float16).astype(np.float32)


def _graph_with_every_case(path) -> dict[str, np.ndarray]:
    """A graph whose initializers are: fp16-exact weights (main graph and an If branch), a
    tensor float16 cannot hold exactly, one beyond its range, one too small to store, and an
    initializer that is also an input (a default a feed may override). Returns them."""
    tensors = {"w_exact": _half_exact((64, 32), 1), "w_branch": _half_exact((64, 32), 2),
               "w_inexact": np.random.default_rng(3).standard_normal((64, 32)).astype(np.float32),
               "w_huge": np.full((64, 32), -1e9, np.float32), "w_small": _half_exact((4, 32), 4),
               "w_default": _half_exact((64, 32), 5)}
    branch_graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w_branch"], ["y_branch"])], "then",
        [], [helper.make_tensor_value_info("y_branch", TensorProto.FLOAT, [None, 32])],
        [numpy_helper.from_array(tensors["w_branch"], "w_branch")])
    nodes = [helper.make_node("MatMul", ["x", name], [f"y_{name}"]) for name in
             ("w_exact", "w_inexact", "w_huge", "w_default")]
    nodes.append(helper.make_node("MatMul", ["x4", "w_small"], ["y_w_small"]))
    nodes.append(helper.make_node("If", ["flag"], ["y_if"], then_branch=branch_graph,
                                  else_branch=helper.make_graph(
                                      [helper.make_node("Identity", ["y_w_exact"], ["y_else"])], "else",
                                      [], [helper.make_tensor_value_info("y_else", TensorProto.FLOAT, [None, 32])])))
    outputs = ["y_w_exact", "y_w_inexact", "y_w_huge", "y_w_default", "y_w_small", "y_if"]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64]),
         helper.make_tensor_value_info("x4", TensorProto.FLOAT, [None, 4]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("w_default", TensorProto.FLOAT, [64, 32])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [numpy_helper.from_array(tensors[name], name) for name in tensors if name != "w_branch"])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return tensors


def _all_initializers(graph) -> list:
    found = list(graph.initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += _all_initializers(attribute.g)
    return found


def _exact(array: np.ndarray) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.array_equal(array.astype(np.float16).astype(np.float32), array))


def _run(path, flag: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    feed = {"x": rng.standard_normal((5, 64)).astype(np.float32),
            "x4": rng.standard_normal((5, 4)).astype(np.float32), "flag": np.array(flag)}
    return cpu_session(path).run(None, feed)


def test_storage_keeps_exactly_what_float16_holds_and_computes_the_same(tmp_path):
    path = tmp_path / "g.onnx"
    tensors = _graph_with_every_case(path)
    before = {flag: _run(path, flag) for flag in (True, False)}
    size = path.stat().st_size
    saved = store_float16(path)
    assert saved == 2 * 2 * 64 * 32  # w_exact and the branch's w_branch, 2 bytes each saved
    assert path.stat().st_size < size - saved * 0.9
    assert stored_float16(path)

    kinds = {t.name: t.data_type for t in _all_initializers(onnx.load(str(path)).graph)}
    assert kinds["w_exact" + STORED_SUFFIX] == kinds["w_branch" + STORED_SUFFIX] == TensorProto.FLOAT16
    for kept in ("w_inexact", "w_huge", "w_small", "w_default"):
        assert kinds[kept] == TensorProto.FLOAT, kept
    for flag in (True, False):  # bit for bit: the Cast is exact
        for a, b in zip(before[flag], _run(path, flag)):
            assert np.array_equal(a, b)
    widened = load_widened(path)
    again = {t.name: numpy_helper.to_array(t) for t in widened.graph.initializer}
    assert np.array_equal(again["w_exact"], tensors["w_exact"]) and again["w_exact"].dtype == np.float32
    assert not any(n.op_type == "Cast" for n in widened.graph.node)


def test_rounding_refuses_weights_float16_cannot_hold():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight[0, 0] = 1e6
    with pytest.raises(ValueError, match="exceeds float16's range"):
        round_to_float16(layer)


@pytest.fixture(scope="module")
def stored_pair(trained, tmp_path_factory):
    """(checkpoint path, float16-stored bundle, float32 bundle of the same rounded model)."""
    checkpoint = trained("gru", False, ATTENTION)
    root = tmp_path_factory.mktemp("storage")
    net, cfg, sv, tv, payload = load_checkpoint(checkpoint)
    write_bundle(net, cfg, sv, tv, payload, root / "f16", weight_storage="float16")
    round_to_float16(net)
    write_bundle(net, cfg, sv, tv, payload, root / "f32")
    return checkpoint, root / "f16", root / "f32"


def test_the_stored_bundle_holds_the_rounded_model_in_half_the_bytes(stored_pair):
    checkpoint, f16, f32 = stored_pair
    manifest = json.loads((f16 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["weight_storage"] == "float16" and manifest["precision"] == "fp32"
    assert "weight_storage" not in json.loads((f32 / "manifest.json").read_text(encoding="utf-8"))
    for name in (ENCODER_FILE, DECODER_FILE):
        assert stored_float16(f16 / name) and not stored_float16(f32 / name)
        assert (f16 / name).stat().st_size < 0.8 * (f32 / name).stat().st_size, name
        left = [t.name for t in _all_initializers(onnx.load(str(f16 / name)).graph)
                if t.data_type == TensorProto.FLOAT and len(t.raw_data) >= 4 * MIN_STORED_ELEMENTS
                and _exact(numpy_helper.to_array(t))]
        assert not left, (name, left)  # every weight float16 holds was stored so
    net, *_ = load_checkpoint(checkpoint)
    original = {k: v.clone() for k, v in net.state_dict().items()}
    round_to_float16(net)
    rebuilt = eager_from_bundle(f16).state_dict()
    changed = 0
    for name, tensor in net.state_dict().items():
        assert torch.equal(rebuilt[name], tensor), name
        changed += int(not torch.equal(tensor, original[name]))
    assert changed > 0, "rounding to float16 should change the trained weights"


def test_stored_and_fp32_bundles_of_the_rounded_model_score_bit_for_bit_alike(stored_pair, toy_sentences):
    _, f16, f32 = stored_pair
    got = Translator(f16, threads=1).translate_batch(toy_sentences, return_scores=True, beam_size=3)
    expected = Translator(f32, threads=1).translate_batch(toy_sentences, return_scores=True, beam_size=3)
    assert [(r.ids, r.scores) for r in got] == [(r.ids, r.scores) for r in expected]


def test_the_stored_bundle_is_token_exact_to_the_rounded_eager_model(stored_pair, toy_sentences):
    checkpoint, f16, _ = stored_pair
    net, cfg, src_vocab, tgt_vocab, _ = load_checkpoint(checkpoint)
    round_to_float16(net)
    expected = [predict_seq2seq(net, tokenize(line), src_vocab, tgt_vocab, cfg.model.max_decode_len)
                for line in toy_sentences]
    assert sum(map(len, expected)) > len(expected)
    translator = Translator(f16, threads=1, max_decoding_length=cfg.model.max_decode_len)
    assert translator.translate_ids(toy_sentences, max_batch_size=3) == expected


def test_int8_graphs_are_made_from_the_stored_weights(stored_pair, tmp_path, toy_sentences):
    import shutil

    _, f16, f32 = stored_pair
    for name, source in (("f16", f16), ("f32", f32)):
        shutil.copytree(source, tmp_path / name)
        add_compute_types(tmp_path / name, ["int8"])
    for graph in ("decoder_step.int8.onnx", "encoder.int8.onnx"):  # same rounded weights, same int8 graphs
        a, b = (onnx.load(str(tmp_path / name / graph)).graph for name in ("f16", "f32"))
        assert {t.name: t.raw_data for t in a.initializer} == {t.name: t.raw_data for t in b.initializer}
    got, expected = (Translator(tmp_path / name, compute_type="int8", threads=1).translate_batch(toy_sentences)
                     for name in ("f16", "f32"))
    assert [r.ids for r in got] == [r.ids for r in expected]


def test_s2s_export_writes_and_refuses_float16_storage(trained, tmp_path):
    from click.testing import CliRunner

    from s2s_batch.export.cli import main
    from s2s_batch.runtime.cli.main import main as batch_cli

    checkpoint = str(trained("gru", False, ATTENTION))
    result = CliRunner().invoke(main, [checkpoint, "-o", str(tmp_path / "b"), "--weight-storage", "float16"])
    assert result.exit_code == 0, result.output
    assert "weights stored in float16" in result.output
    info = CliRunner().invoke(batch_cli, ["info", "--bundle", str(tmp_path / "b")])
    assert info.exit_code == 0 and "weights stored in float16" in info.output, info.output
    refused = CliRunner().invoke(main, [checkpoint, "-o", str(tmp_path / "q"), "--weight-storage", "float16",
                                        "--quantize", "int8"])
    assert refused.exit_code == 2  # a usage error, refused before the checkpoint is read
    assert "drop --quantize int8, or --weight-storage" in refused.output
    assert not (tmp_path / "q").exists()


def test_the_loop_step_is_stored_too_and_the_callers_model_is_left_as_it_was(trained, tmp_path, toy_sentences):
    from s2s_batch.runtime.bundle.manifest import LOOP_FILE

    net, cfg, sv, tv, payload = load_checkpoint(trained("gru", False, ATTENTION))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "b", loop=True, weight_storage="float16")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # a rounded copy was exported
    assert stored_float16(tmp_path / "b" / LOOP_FILE)
    looped = Translator(tmp_path / "b", fixed_loop=True, threads=1)
    assert looped.fixed_loop is not None
    stepped = Translator(tmp_path / "b", fixed_loop=False, threads=1)
    assert looped.translate_ids(toy_sentences) == stepped.translate_ids(toy_sentences)


def test_onnxruntime_folds_the_casts_into_float32_constants(stored_pair, tmp_path):
    import onnxruntime as ort

    _, f16, _ = stored_pair
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(f16 / DECODER_FILE), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx")).graph
    stored = {t.name for t in _all_initializers(onnx.load(str(f16 / DECODER_FILE)).graph)
              if t.name.endswith(STORED_SUFFIX)}
    assert stored
    def inputs(graph) -> set[str]:
        found = {name for node in graph.node for name in node.input}
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    found |= inputs(attribute.g)
        return found

    assert not inputs(optimized) & stored  # no Cast reads them at run time
