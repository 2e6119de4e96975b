"""The decoder loop step in fixed shapes (CUDA's path, runtime/search/fixed_loop.py) decodes as
the host loop, token for token. No GPU here: the same loop runs on the CPU provider,
without CUDA graphs (the prepared GPU run, bench/device_cuda.sh, checks those)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_batch.export.bundle import write_bundle
from s2s_batch.export.verify import ParityError, verify_loop_step
from s2s_batch.runtime.batching import pad_batch
from s2s_batch.runtime.bundle.manifest import LOOP_FILE, load_manifest
from s2s_batch.runtime.search.fixed_loop import FixedShapeLoop, row_bucket, width_bucket
from s2s_batch.runtime.search.options import DecodingOptions
from s2s_batch.runtime.search.strategies import BeamSearch, choose_strategy
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.checkpoint import load_checkpoint

VARIANTS = [("gru", False, "none"), ("gru", True, "none"), ("lstm", False, "none"),
            ("gru", False, "additive"), ("gru", False, "general+after"), ("gru", False, "dot+bi+after")]
_LOOP_BUNDLES: dict = {}


@pytest.fixture(scope="module")
def loop_bundle(trained, tmp_path_factory):
    """loop_bundle(cell, seed_semantics, attention) → a bundle exported with --device cuda."""

    def get(cell: str, seed_semantics: bool, attention: str):
        key = (cell, seed_semantics, attention)
        if key not in _LOOP_BUNDLES:
            net, cfg, sv, tv, payload = load_checkpoint(trained(*key))
            out = tmp_path_factory.mktemp("loop") / f"{cell}-{int(seed_semantics)}-{attention}"
            write_bundle(net, cfg, sv, tv, payload, out, loop=True)
            _LOOP_BUNDLES[key] = out
        return _LOOP_BUNDLES[key]

    return get


def _pair(path, **kwargs):
    kw = dict(threads=1, inter_threads=1, split_sentences=False, **kwargs)
    return Translator(path, fixed_loop=True, **kw), Translator(path, fixed_loop=False, **kw)


@pytest.mark.parametrize("cell,seed_semantics,attention", VARIANTS)
def test_fixed_loop_gives_the_host_loops_tokens(loop_bundle, toy_sentences, cell, seed_semantics, attention):
    fixed, host = _pair(loop_bundle(cell, seed_semantics, attention))
    assert fixed.fixed_loop is not None and host.fixed_loop is None
    lines = toy_sentences * 3
    for options in ({}, {"disable_unk": False}, {"max_decoding_length": 3}):
        got, want = fixed.translate_ids(lines, **options), host.translate_ids(lines, **options)
        assert got == want
    lengths = [len(ids) for ids in fixed.translate_ids(lines)]
    assert min(lengths) < max(lengths)  # rows finished at different steps
    # batches of 5 rows (bucket 8: three rows padded) and a second call on the same buckets
    assert fixed.translate_ids(lines, max_batch_size=5) == host.translate_ids(lines, max_batch_size=5)
    assert fixed.translate_ids(lines, max_batch_size=5) == host.translate_ids(lines, max_batch_size=5)


def _reference_greedy(graphs, src, src_len, vocab, cap, banned, min_len):
    """Greedy search written out: the logits of every row at every step, <eos> and the
    banned id set to -inf where they may not be taken."""
    states, memory = graphs.encode(src, src_len)
    tokens = np.full(len(src), vocab.bos, dtype=np.int64)
    out, done = [[] for _ in src], np.zeros(len(src), bool)
    for t in range(cap):
        logits, states, _ = graphs.step_logits(tokens, states, memory)
        logits[:, banned] = -np.inf
        if t < min_len:
            logits[:, vocab.eos] = -np.inf
        tokens = logits.argmax(-1)
        for row, token in enumerate(tokens):
            if not done[row] and token != vocab.eos:
                out[row].append(int(token))
        done |= tokens == vocab.eos
    return out


def test_fixed_loop_bans_ids_and_holds_eos_until_min_len(loop_bundle, toy_sentences):
    path = loop_bundle("gru", False, "additive")
    fixed, host = _pair(path)
    unk = fixed.tgt_vocab.unk
    sources = [ids for ids in map(fixed.source_ids, toy_sentences) if ids]
    src, src_len = pad_batch(sources, fixed.src_vocab.pad)
    vocab = fixed.tgt_vocab
    def fixed_decode(*args):
        return fixed.fixed_loop.decode(fixed.graphs.encoder, fixed.graphs.encoder_inputs, *args)

    for min_len in (0, 6):
        got = fixed_decode(src, src_len, vocab.bos, vocab.eos, 12, unk, min_len)
        assert [h.ids for h in got] == _reference_greedy(host.graphs, src, src_len, vocab, 12, unk, min_len)
        assert all(len(h.ids) >= min_len and unk not in h.ids for h in got)
    assert any(len(h.ids) < 6 for h in fixed_decode(src, src_len, vocab.bos, vocab.eos, 12, unk, 0))
    # the CLI's path: translate_batch with min_decoding_length
    assert all(len(ids) >= 6 for ids in fixed.translate_ids(toy_sentences, min_decoding_length=6))


def test_the_strategy_takes_the_fixed_loop_only_where_it_applies(loop_bundle):
    fixed, _ = _pair(loop_bundle("gru", False, "none"))
    graphs, loop = fixed.graphs, fixed.fixed_loop
    assert choose_strategy(DecodingOptions(), graphs, "cpu", None, 0, loop).fixed_loop is loop
    for opts in (DecodingOptions(return_scores=True), DecodingOptions(return_attention=True),
                 DecodingOptions(no_repeat_ngram_size=2)):
        assert getattr(choose_strategy(opts, graphs, "cpu", None, 0, loop), "fixed_loop", None) is None
    assert isinstance(choose_strategy(DecodingOptions(beam_size=2), graphs, "cpu", None, 0, loop), BeamSearch)
    # scores still come (from the host loop) for a fixed-loop translator
    result = fixed.translate_batch(["hello"], return_scores=True)[0]
    assert result.scores


def test_cpu_translators_leave_the_loop_step_unused_unless_asked(loop_bundle):
    path = loop_bundle("gru", False, "none")
    assert Translator(path, threads=1).fixed_loop is None
    manifest = load_manifest(path)
    assert manifest.graphs["decoder_loop"].file == LOOP_FILE
    assert LOOP_FILE in json.loads((path / "manifest.json").read_text())["files"]


def test_bundles_without_the_loop_step_have_none(trained, tmp_path):
    net, cfg, sv, tv, payload = load_checkpoint(trained("gru", False, "none"))
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "b")
    assert "decoder_loop" not in load_manifest(tmp_path / "b").graphs
    assert Translator(tmp_path / "b", fixed_loop=True, threads=1).fixed_loop is None


def test_buckets():
    assert [row_bucket(n) for n in (1, 8, 9, 1000, 1024, 1025)] == [8, 8, 16, 1024, 1024, 2048]
    assert [width_bucket(n) for n in (1, 16, 17, 40)] == [16, 16, 32, 48]


def test_the_loop_step_check_refuses_a_wrong_step(loop_bundle, tmp_path):
    import onnx

    path = loop_bundle("gru", False, "none")
    manifest = load_manifest(path)
    model = onnx.load(str(path / LOOP_FILE))
    for node in model.graph.node:  # a row reaching its cap is not marked finished
        if node.op_type == "GreaterOrEqual":
            node.op_type = "Greater"
    onnx.save(model, str(tmp_path / "bad.onnx"))
    with pytest.raises(ParityError):
        verify_loop_step(path / "encoder.onnx", path / "decoder_step.onnx", tmp_path / "bad.onnx",
                         manifest.config, 2)


def test_fixed_loop_object_reuses_buffers(loop_bundle, toy_sentences):
    path = loop_bundle("gru", False, "none")
    fixed, _ = _pair(path)
    loop: FixedShapeLoop = fixed.fixed_loop
    fixed.translate_ids(toy_sentences)
    count = len(loop._buckets)
    fixed.translate_ids(toy_sentences)
    assert len(loop._buckets) == count and not loop.cuda_graph
    assert np.all([key[0] >= 8 and key[1] % 16 == 0 for key in loop._buckets])
