"""disable_unk on a model that loves <unk>: no search ever writes it."""

from __future__ import annotations

import pytest
import torch

from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def lines(toy_sentences):
    return toy_sentences[:40]


@pytest.fixture(scope="module")
def unk_loving_bundle(trained, tmp_path_factory, toy_sentences):
    """The tiny GRU model with its <unk> logit raised until its greedy output holds <unk>
    in some of the test lines, but not in all."""
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.train.predict import greedy_batch

    net, cfg, sv, tv, payload = load_checkpoint(trained())
    tokens = [tokenize(line) for line in toy_sentences[:40]]
    for _ in range(40):
        with torch.no_grad():
            net.decoder.dense.bias[tv.unk] += 0.5
        rows_with_unk = sum(tv.unk in ids for ids in greedy_batch(net, tokens, sv, tv, 10))
        if rows_with_unk >= 5:
            break
    assert 5 <= rows_with_unk < len(tokens)
    out = tmp_path_factory.mktemp("unk") / "bundle"
    write_bundle(net, cfg, sv, tv, payload, out)
    return out


@pytest.mark.parametrize("options", [{}, {"beam_size": 3}, {"sampling_topk": 0, "seed": 2}])
def test_disable_unk_never_generates_unk(unk_loving_bundle, lines, options):
    translator = Translator(unk_loving_bundle, threads=1)
    unk = translator.tgt_vocab.unk
    with_unk = translator.translate_ids(lines, disable_unk=False, **options)
    without = translator.translate_ids(lines, disable_unk=True, **options)
    assert any(unk in ids for ids in with_unk), "the tiny model should write <unk> somewhere"
    assert all(unk not in ids for ids in without)
    assert translator.translate_ids(lines, **options) == without  # the default
    if not options:  # greedy: rows that never chose <unk> are unchanged (a beam can change:
        # the beams that held <unk> hold other hypotheses instead)
        assert all(a == b for a, b in zip(with_unk, without) if unk not in a)
        assert any(a != b for a, b in zip(with_unk, without))
