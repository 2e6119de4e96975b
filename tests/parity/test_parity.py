"""The exported graphs and the runtime against eager PyTorch, for every cell."""

import copy
import random

import numpy as np
import pytest
import torch

from s2s_batch.export.verify import max_graph_difference
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE
from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.checkpoint import load_checkpoint
from s2s_batch.train.predict import greedy_batch, predict_seq2seq

CELLS = ["rnn", "gru", "lstm"]
# The parity matrix: every cell with and without attention; every scoring function once.
MATRIX = [(cell, semantics, "none") for cell in CELLS for semantics in (False, True)] + [
    ("gru", False, "additive"), ("lstm", False, "additive"), ("rnn", True, "additive"),
    ("gru", True, "dot"), ("lstm", False, "general"),
    # bidirectional encoders, with and without attention
    ("gru", False, "none+bi"), ("lstm", False, "additive+bi"), ("rnn", True, "dot+bi"),
    ("gru", True, "general+bi"),
    # residual connections between the stacked layers
    ("gru", False, "none+res"), ("lstm", False, "additive+bi+res"), ("rnn", True, "dot+res"),
    # Luong's local attention; a self-attention layer over the encoder outputs
    ("gru", False, "local"), ("lstm", True, "local+bi"), ("gru", False, "additive+self"),
    ("rnn", False, "general+bi+res+self"),
    # attention after the cell (Luong): every scoring function, with and without a
    # bidirectional encoder, seed semantics, residual layers and self-attention
    ("gru", False, "general+after"), ("gru", False, "dot+bi+after"), ("lstm", False, "additive+after"),
    ("gru", True, "general+bi+after"), ("rnn", False, "local+after"),
    ("gru", False, "additive+bi+res+self+after")]
MATRIX_IDS = [f"{c}-{'seed' if s else 'masked'}-{a}" for c, s, a in MATRIX]


@pytest.mark.parametrize("cell,seed_semantics,attention", MATRIX, ids=MATRIX_IDS)
def test_graphs_match_eager_within_float_rounding(cell, seed_semantics, attention, trained, bundle):
    # Measured: on a tanh RNN trained at twice the seed's lr, onnxruntime and eager float32
    # each sit ~6e-6 from a float64 run, on opposite sides; the tiny models therefore use
    # the seed's lr (0.005), where both are within 1e-6 of float64.
    net, *_ = load_checkpoint(trained(cell, seed_semantics, attention))
    root = bundle(cell, seed_semantics, attention)
    worst = max_graph_difference(net, root / ENCODER_FILE, root / DECODER_FILE,
                                 batch_sizes=(1, 3, 64), steps=4)
    # Relative to float64: both the graphs and eager float32 round away from the exact
    # (float64) values, each by about eager's own distance from them, so their difference
    # may reach twice that. 1e-5 alone was tuned on one CPU (a Xeon gave 1.025e-5 on one
    # cell, issue 30): allow three times eager float32's distance from float64 when larger.
    rounding = _eager_rounding(net, batch_sizes=(1, 3, 64), steps=4)
    assert worst <= max(1e-5, 3 * rounding), (worst, rounding)


@torch.no_grad()
def _eager_rounding(net, batch_sizes, steps: int) -> float:
    """Largest difference of eager float32 from eager float64 over the probe batches and
    steps that max_graph_difference runs (states, memory, logits), each side stepping
    from the float64 state and tokens."""
    from s2s_batch.export.graphs import probe_inputs

    net = net.eval().cpu()
    exact = copy.deepcopy(net).double()
    worst = 0.0

    def tensors(value):
        return list(value) if isinstance(value, tuple) else [value]

    for seed, batch in enumerate(batch_sizes):
        src, src_len = probe_inputs(net, batch, seed=seed + 1)
        state32, memory32 = net.encode(src, src_len)
        state64, memory64 = exact.encode(src, src_len)
        for a, b in zip(tensors(state32) + list(memory32), tensors(state64) + list(memory64)):
            worst = max(worst, float((a.double() - b).abs().max()))
        tokens = torch.full((batch,), 2, dtype=torch.long)
        for _ in range(steps):
            cast = tuple(s.float() for s in tensors(state64))
            logits32, new32, _ = net.decoder.step(tokens, cast if len(cast) > 1 else cast[0],
                                                   tuple(m.float() if m.is_floating_point() else m for m in memory64))
            logits64, state64, _ = exact.decoder.step(tokens, state64, memory64)
            for a, b in zip([logits32, *tensors(new32)], [logits64, *tensors(state64)]):
                worst = max(worst, float((a.double() - b).abs().max()))
            tokens = logits64.argmax(-1)
    return worst


@pytest.mark.parametrize("cell,seed_semantics,attention", MATRIX, ids=MATRIX_IDS)
def test_runtime_greedy_equals_the_seeds_one_sentence_loop(cell, seed_semantics, attention, trained,
                                                           bundle, toy_sentences):
    net, cfg, src_vocab, tgt_vocab, _ = load_checkpoint(trained(cell, seed_semantics, attention))
    expected = [predict_seq2seq(net, tokenize(line), src_vocab, tgt_vocab, cfg.model.max_decode_len)
                for line in toy_sentences]
    assert sum(map(len, expected)) > len(expected), "the tiny model should emit real tokens"
    translator = Translator(bundle(cell, seed_semantics, attention), threads=1,
                            max_decoding_length=cfg.model.max_decode_len)
    order = list(range(len(toy_sentences)))
    random.Random(3).shuffle(order)
    shuffled = [toy_sentences[i] for i in order]
    for batch_size in (1, 3, 64):
        got = translator.translate_ids(shuffled, max_batch_size=batch_size)
        assert [got[order.index(i)] for i in range(len(order))] == expected, batch_size


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_in_graph_banned_id_matches_eager_banning(trained, bundle, toy_sentences, attention):
    """The decoder step's banned_ids (how greedy search skips <unk> without reading the
    logits) gives eager greedy's tokens with the same id banned, prescored or not."""
    from s2s_batch.runtime.batching import pad_batch
    from s2s_batch.runtime.search.loop import greedy_decode

    net, cfg, src_vocab, tgt_vocab, _ = load_checkpoint(trained("gru", False, attention))
    tokens = [tokenize(line) for line in toy_sentences]
    max_len = cfg.model.max_decode_len
    free = greedy_batch(net, tokens, src_vocab, tgt_vocab, max_len)
    counts = np.bincount([i for ids in free for i in ids], minlength=len(tgt_vocab))
    banned = int(counts.argmax())  # the id the model writes most: banning it changes rows
    expected = greedy_batch(net, tokens, src_vocab, tgt_vocab, max_len, banned=banned)
    assert expected != free and all(banned not in ids for ids in expected)
    for prescore in (True, False):
        translator = Translator(bundle("gru", False, attention), threads=1, prescore=prescore)
        assert translator.graphs.takes_banned
        rows = [translator.source_ids(line) for line in toy_sentences]
        src, src_len = pad_batch(rows, src_vocab.pad, None)
        hyps = greedy_decode(translator.graphs, src, src_len, tgt_vocab.bos, tgt_vocab.eos, max_len,
                             banned=banned)
        assert [h.ids for h in hyps] == expected


def test_eager_batched_greedy_equals_the_one_sentence_loop(trained, toy_sentences):
    net, cfg, src_vocab, tgt_vocab, _ = load_checkpoint(trained("gru", False))
    tokens = [tokenize(line) for line in toy_sentences]
    for banned in (None, tgt_vocab.unk, tgt_vocab.eos):
        one = [predict_seq2seq(net, t, src_vocab, tgt_vocab, cfg.model.max_decode_len, banned)
               for t in tokens]
        assert greedy_batch(net, tokens, src_vocab, tgt_vocab, cfg.model.max_decode_len, 16,
                            banned) == one


def test_translation_does_not_depend_on_batch_size(bundle, tmp_path):
    from tests.toy import make_pairs

    rng = random.Random(11)
    lines = [en for en, _ in make_pairs(200, seed=5)][:200]
    # mix lengths: repeat some words to make long lines, shorten others
    lines = [line if i % 3 else " ".join(line.split()[: rng.randint(1, 3)]) for i, line in enumerate(lines)]
    lines = [line + " the big dog" * (i % 4) if i % 5 == 0 else line for i, line in enumerate(lines)]
    assert len(lines) == 200
    translator = Translator(bundle("gru", False), threads=1)
    reference = translator.translate_ids(lines, max_batch_size=1)
    for batch_size in (7, 64, 200):
        assert translator.translate_ids(lines, max_batch_size=batch_size) == reference


def test_padding_never_reaches_the_state_of_masked_models(bundle):
    translator = Translator(bundle("gru", False), threads=1)
    graphs = translator.graphs
    ids = np.array([[5, 6, 7, 3]], dtype=np.int64)
    alone, _ = graphs.encode(ids, np.array([4], dtype=np.int64))
    padded = np.concatenate([ids, np.full((1, 9), translator.src_vocab.pad, dtype=np.int64)], axis=1)
    with_pad, _ = graphs.encode(padded, np.array([4], dtype=np.int64))
    np.testing.assert_array_equal(alone["h"], with_pad["h"])


def test_attention_weights_cover_the_real_tokens_only(bundle):
    translator = Translator(bundle("gru", False, "additive"), threads=1)
    graphs = translator.graphs
    src = np.array([[5, 6, 7, 3, 1, 1], [5, 6, 3, 1, 1, 1]], dtype=np.int64)
    src_len = np.array([4, 3], dtype=np.int64)
    states, memory = graphs.encode(src, src_len)
    np.testing.assert_array_equal(memory["src_mask"], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    _, _, weights = graphs.step(np.array([2, 2]), states, memory, with_attention=True)
    assert weights.shape == (2, 6)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert (weights[0, 4:] == 0).all() and (weights[1, 3:] == 0).all()
    assert (weights[0, :4] > 0).all() and (weights[1, :3] > 0).all()


@pytest.mark.parametrize("attention", ["none", "additive", "local", "general+bi"])
def test_encoding_in_chunks_gives_the_whole_batchs_encoding(bundle, monkeypatch, attention):
    from s2s_batch.runtime.bundle import graphs as session
    from tests.toy import make_pairs

    lines = [en + " the big dog" * (i % 5) for i, (en, _) in enumerate(make_pairs(150, seed=7))]
    translator = Translator(bundle("gru", False, attention), threads=1)
    ids = [translator.source_ids(line) for line in lines]
    width = max(map(len, ids))
    src = np.array([row + [translator.src_vocab.pad] * (width - len(row)) for row in ids])
    src_len = np.array([len(row) for row in ids])
    monkeypatch.setattr(session, "ENCODE_CHUNK", 10**9)
    whole_states, whole_memory = translator.graphs.encode(src, src_len)
    whole = translator.translate_batch(lines, max_batch_size=150, return_attention=attention != "none")
    monkeypatch.setattr(session, "ENCODE_CHUNK", 16)
    states, memory = translator.graphs.encode(src, src_len)
    # Past a row's length the memory is masked out, whatever it holds (the whole batch's
    # bidirectional encoder leaves values there, the chunks zeros).
    real = (src_len[:, None] > np.arange(width)[None, :])[..., None]
    for got, expected in ((states, whole_states), (memory, whole_memory)):
        assert got.keys() == expected.keys()
        for name in got:
            assert got[name].shape == expected[name].shape and got[name].dtype == expected[name].dtype
            seen = real if name in ("memory", "memory_keys") else True
            np.testing.assert_allclose(np.where(seen, got[name], 0), np.where(seen, expected[name], 0),
                                       atol=1e-6, err_msg=name)
    chunked = translator.translate_batch(lines, max_batch_size=150, return_attention=attention != "none")
    assert [r.ids for r in chunked] == [r.ids for r in whole]
    if attention != "none":
        for a, b in zip(chunked, whole):
            np.testing.assert_allclose(a.attention, b.attention, atol=1e-6)
