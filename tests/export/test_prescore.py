"""int8 prescoring of the greedy argmax: the decoder step's exact int8-then-fp32 branch."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from s2s_batch.export.onnx_export import OPSET
from s2s_batch.export.output_head import int8_rows, rewrite_output_head
from s2s_batch.runtime.bundle.graphs import log_softmax
from s2s_batch.runtime.bundle.manifest import (
    BANNED_INPUT,
    LOGITS_ONLY_INPUT,
    MANIFEST,
    PRESCORE_INPUT,
    ROW_CANDIDATES_INPUT,
    SHORTLIST_INPUT,
)
from s2s_batch.runtime.translator import Translator
from tests.helpers import run

HIDDEN, VOCAB = 16, 100


def _head_graph(path, weight: np.ndarray, bias: np.ndarray) -> None:
    """A decoder step reduced to its head: hidden → Gemm → logits, ArgMax → next_token."""
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["hidden", "W", "b"], ["logits"], transB=1),
         helper.make_node("ArgMax", ["logits"], ["next_token"], axis=-1, keepdims=0)],
        "head", [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, HIDDEN])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, VOCAB]),
         helper.make_tensor_value_info("next_token", TensorProto.INT64, [None])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), str(path))


def _near_ties(tied: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights where `tied` ids (10, 11, ...) almost tie whenever hidden[0] > 0 (closer
    than the int8 error), and id 95 wins clearly otherwise; hidden rows of both kinds."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.3, (VOCAB, HIDDEN)).astype(np.float32)
    weight[10:10 + tied] = weight[10] + rng.normal(0, 2e-3, (tied, HIDDEN))
    weight[10:10 + tied, 0] = 4.0
    weight[95, 0] = -4.0
    hidden = rng.uniform(-1, 1, (64, HIDDEN)).astype(np.float32)
    hidden[:, 0] = np.where(np.arange(64) % 2, 1.0, -1.0)
    return weight, np.zeros(VOCAB, np.float32), hidden


def _random_head(tmp_path, seed: int, shortlist: bool):
    """A head graph of random weights, rewritten with prescoring → (session, weight, bias,
    the generator, to draw hidden states from)."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.5, (VOCAB, HIDDEN)).astype(np.float32)
    bias = rng.normal(0, 1, VOCAB).astype(np.float32)
    path = tmp_path / "head.onnx"
    _head_graph(path, weight, bias)
    rewrite_output_head(path, shortlist=shortlist, prescore=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), weight, bias, rng


def _initializers(graph: onnx.GraphProto):
    """The initializers of a graph and of every branch nested in it."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _initializers(attribute.g)


def _run(path, hidden: np.ndarray, prescore: bool) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["next_token"], {"hidden": hidden, PRESCORE_INPUT: np.array(prescore)})[0]


def test_int8_rows_are_7_bit_and_close():
    weight = np.random.default_rng(1).normal(0, 1, (VOCAB, HIDDEN)).astype(np.float32)
    quantized, scale = int8_rows(weight)
    assert quantized.shape == (HIDDEN, VOCAB) and np.abs(quantized).max() == 63
    assert np.abs(quantized.T * scale[:, None] - weight).max() <= scale.max() / 2 + 1e-6


# 30 tied ids: more than the first K candidates, fewer than the second stage's 64; 80: more.
@pytest.mark.parametrize("tied", [30, 80])
def test_prescored_argmax_is_the_full_layers_on_near_ties_and_clear_wins(tmp_path, tied):
    weight, bias, hidden = _near_ties(tied)
    path = tmp_path / "head.onnx"
    _head_graph(path, weight, bias)
    rewrite_output_head(path, shortlist=False, prescore=True)
    full = _run(path, hidden, prescore=False)
    assert np.array_equal(full, (hidden @ weight.T + bias).argmax(-1))
    assert set(full[1::2]) <= set(range(10, 10 + tied)) and set(full[::2]) == {95}
    assert np.array_equal(_run(path, hidden, prescore=True), full)

    # The same graph with the proof disabled (every row taken as proven) picks from the
    # first int8 candidates alone, and misses: the rows above needed the later stages.
    model = onnx.load(str(path))
    (bound,) = [t for t in _initializers(model.graph) if t.name == "prescore_abs"]
    bound.CopyFrom(numpy_helper.from_array(np.float32(-1e9), "prescore_abs"))
    unproven = tmp_path / "unproven.onnx"
    onnx.save(model, str(unproven))
    candidates_only = _run(unproven, hidden, prescore=True)
    assert np.array_equal(candidates_only[::2], full[::2])
    assert not np.array_equal(candidates_only[1::2], full[1::2])


@pytest.mark.parametrize("seed", range(3))
def test_prescored_argmax_on_random_layers_and_batches(tmp_path, seed):
    session, _, _, rng = _random_head(tmp_path, seed, shortlist=False)
    for batch in (1, 7, 200):
        hidden = np.tanh(rng.normal(0, 2, (batch, HIDDEN))).astype(np.float32)
        prescored, full = (session.run(["next_token"], {"hidden": hidden, PRESCORE_INPUT: np.array(on)})[0]
                           for on in (True, False))
        assert np.array_equal(prescored, full)


@pytest.mark.parametrize("prescore", [True, False])
@pytest.mark.parametrize("shortlisted", [True, False])
def test_banned_ids_are_never_the_argmax_in_any_branch(tmp_path, prescore, shortlisted):
    session, weight, bias, rng = _random_head(tmp_path, 5, shortlist=True)
    hidden = np.tanh(rng.normal(0, 2, (300, HIDDEN))).astype(np.float32)
    logits = hidden @ weight.T + bias
    ids = np.arange(VOCAB) if not shortlisted else np.sort(rng.choice(VOCAB, 60, replace=False))
    feed = {"hidden": hidden, PRESCORE_INPUT: np.array(prescore),
            SHORTLIST_INPUT: ids if shortlisted else np.zeros(0, np.int64)}
    # no banned ids fed: the default (empty) bans nothing
    assert np.array_equal(session.run(["next_token"], feed)[0], ids[logits[:, ids].argmax(-1)])
    # ban the most frequent winners: each row then gets its best remaining id
    winners = np.bincount(ids[logits[:, ids].argmax(-1)], minlength=VOCAB)
    banned = np.argsort(-winners)[:3].astype(np.int64)
    assert winners[banned].sum() > 50
    allowed = np.setdiff1d(ids, banned)
    expected = allowed[logits[:, allowed].argmax(-1)]
    got = session.run(["next_token"], {**feed, BANNED_INPUT: banned})[0]
    assert np.array_equal(got, expected)


def test_export_without_prescore_and_cli_switch(trained, input_file, tmp_path):  # noqa: F811 (a fixture)
    from click.testing import CliRunner

    from s2s_batch.export.cli import main as export_main

    plain = tmp_path / "plain-bundle"
    exported = CliRunner().invoke(export_main, [str(trained()), "-o", str(plain), "--no-prescore"])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((plain / MANIFEST).read_text())
    assert "prescore" not in manifest
    assert PRESCORE_INPUT not in manifest["graphs"]["decoder_step"]["inputs"]
    assert not Translator(plain).graphs.takes_prescore
    outputs = []
    for bundle_dir, flags in ((plain, []), (plain, ["--no-prescore"])):
        out = tmp_path / f"out{len(outputs)}.txt"
        result = run("translate", input_file, "-o", out, "--bundle", bundle_dir, "-q", *flags)
        assert result.exit_code == 0, result.stderr
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]


def test_export_verification_catches_a_head_that_ignores_banned_ids(trained, bundle, tmp_path):
    from s2s_batch.export.verify import max_graph_difference
    from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE
    from s2s_batch.train.checkpoint import load_checkpoint

    net, *_ = load_checkpoint(trained())
    root = bundle()
    assert max_graph_difference(net, root / ENCODER_FILE, root / DECODER_FILE) <= 1e-5
    model = onnx.load(str(root / DECODER_FILE))
    for node in model.graph.node:  # the banned ids no longer reach the bias
        if node.op_type == "ScatterElements":
            node.op_type, node.input[:] = "Identity", node.input[:1]
            del node.attribute[:]
    broken = tmp_path / DECODER_FILE
    onnx.save(model, str(broken))
    assert max_graph_difference(net, root / ENCODER_FILE, broken) == float("inf")


def test_bundles_without_either_switch_still_ban_in_the_graph(trained, tmp_path, toy_sentences):
    from click.testing import CliRunner

    from s2s_batch.export.cli import main as export_main

    for flags in (["--no-prescore", "--no-shortlist"], ["--quantize", "int8"]):
        out = tmp_path / "-".join(flags)
        exported = CliRunner().invoke(export_main, [str(trained()), "-o", str(out), *flags])
        assert exported.exit_code == 0, exported.output
        translator = Translator(out)
        assert translator.graphs.takes_banned and not translator.graphs.takes_prescore
        unk = translator.tgt_vocab.unk
        assert all(unk not in ids for ids in translator.translate_ids(toy_sentences))


def test_the_prescore_branch_holds_its_int8_weights(tmp_path):
    # onnxruntime prepacks a branch's int8 weights only when the branch holds them itself.
    rng = np.random.default_rng(2)
    path = tmp_path / "head.onnx"
    _head_graph(path, rng.normal(0, 0.5, (VOCAB, HIDDEN)).astype(np.float32), np.zeros(VOCAB, np.float32))
    rewrite_output_head(path, shortlist=True, prescore=True)
    graph = onnx.load(str(path)).graph
    assert "prescore_w_int8" not in {t.name for t in graph.initializer}
    assert [t.name for t in _initializers(graph)].count("prescore_w_int8") == 1


@pytest.mark.parametrize("shortlist", [True, False])
def test_logits_only_gives_the_same_logits_without_the_argmax(tmp_path, shortlist):
    session, weight, bias, rng = _random_head(tmp_path, 3, shortlist)
    hidden = np.tanh(rng.normal(0, 2, (50, HIDDEN))).astype(np.float32)
    feed = {"hidden": hidden, PRESCORE_INPUT: np.array(False)}
    if shortlist:
        feed[SHORTLIST_INPUT] = np.zeros(0, np.int64)
    logits, next_token = session.run(["logits", "next_token"], feed)  # logits_only defaults to false
    assert np.array_equal(next_token, (hidden @ weight.T + bias).argmax(-1))
    only_logits, no_ids = session.run(["logits", "next_token"], {**feed, LOGITS_ONLY_INPUT: np.array(True)})
    assert np.array_equal(only_logits, logits) and no_ids.shape == (0,)
    # each row's best log-probabilities, best first, and their ids
    best, ids = session.run(["logits", "next_token"], {**feed, ROW_CANDIDATES_INPUT: np.array([6])})
    want = log_softmax(logits)
    order = np.argsort(-want, axis=1, kind="stable")[:, :6]
    assert np.array_equal(ids.reshape(50, 6), order)
    np.testing.assert_allclose(best, np.take_along_axis(want, order, 1), rtol=0, atol=1e-5)
    many, _ = session.run(["logits", "next_token"], {**feed, ROW_CANDIDATES_INPUT: np.array([VOCAB + 5])})
    assert many.shape == (50, VOCAB)
