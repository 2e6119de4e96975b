"""The device-resident greedy loop (IO binding, CUDA's path) decodes as the numpy loop.

No GPU here: the loop runs with its state bound on the CPU, the same code CUDA runs with
device="cuda"."""

from __future__ import annotations

import pytest

from s2s_batch.runtime.batching import pad_batch
from s2s_batch.runtime.search import device_loop
from s2s_batch.runtime.search.device_loop import greedy_decode_on_device
from s2s_batch.runtime.search.loop import greedy_decode
from s2s_batch.runtime.search.options import DecodingOptions
from s2s_batch.runtime.translator import Translator, default_bundle_dir


def _both(translator: Translator, lines: list[str], banned: int | None):
    sources = [ids for ids in map(translator.source_ids, lines) if ids]
    width = translator.config.num_steps if translator.config.pad_source else None
    src, src_len = pad_batch(sources, translator.src_vocab.pad, width)
    # each row's own cap, as the runtime sets it (seed semantics: lengths include padding)
    vocab, max_len = translator.tgt_vocab, DecodingOptions().length_caps(src_len - 1)
    numpy_loop = greedy_decode(translator.graphs, src, src_len, vocab.bos, vocab.eos, max_len, banned=banned)
    bound_loop = greedy_decode_on_device(translator.graphs, src, src_len, vocab.bos, vocab.eos, max_len,
                                         banned=banned, device="cpu")
    return [h.ids for h in numpy_loop], [h.ids for h in bound_loop]


@pytest.mark.parametrize("cell,seed_semantics,attention", [
    ("gru", False, "none"), ("gru", True, "none"), ("lstm", False, "none"), ("gru", False, "additive")])
def test_bound_state_loop_gives_the_numpy_loops_ids(bundle, toy_sentences, cell, seed_semantics, attention):
    translator = Translator(bundle(cell, seed_semantics, attention), threads=1)
    for banned in (None, translator.tgt_vocab.unk):
        expected, got = _both(translator, toy_sentences, banned)
        assert got == expected
        assert any(len(ids) < max(map(len, expected)) for ids in got)  # rows that finished early


def test_bound_state_loop_on_the_default_bundle():
    translator = Translator(default_bundle_dir(), threads=1)
    lines = ["I'm home.", "He's calm.", "Tom wants to know why you didn't come to the party yesterday.",
             "Where is the station?", "It's raining."] * 7
    expected, got = _both(translator, lines, translator.tgt_vocab.unk)
    assert got == expected


def test_cuda_translators_take_the_bound_loop_for_plain_greedy_search(bundle, toy_sentences, monkeypatch):
    translator = Translator(bundle("gru", False), threads=1)
    expected = translator.translate_ids(toy_sentences)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[1].shape)
        return greedy_decode_on_device(*args, **kwargs)

    monkeypatch.setattr("s2s_batch.runtime.search.strategies.greedy_decode_on_device", spy)
    translator.device = "cuda"  # as a CUDA session would say; the graphs stay on the CPU
    assert translator.translate_ids(toy_sentences) == expected
    assert calls
    calls.clear()
    translator.translate_batch(toy_sentences[:5], return_scores=True)  # scores read the logits: numpy loop
    assert not calls
    # A step without the banned_ids input (a bundle exported before it) cannot skip <unk>
    # inside the graph: the bound loop is not taken, and <unk> is still never written.
    monkeypatch.setattr(translator.graphs, "takes_banned", False)
    assert translator.translate_ids(toy_sentences) == expected
    assert not calls
    assert not device_loop.can_decode_on_device(translator.graphs, translator.tgt_vocab.unk)
    assert device_loop.can_decode_on_device(translator.graphs, None)
