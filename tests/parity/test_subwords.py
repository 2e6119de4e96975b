"""SentencePiece bundles: cased, untokenized text in and out, parity kept."""

import pytest

from s2s_batch.export.bundle import write_bundle
from s2s_batch.export.verify import max_graph_difference
from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE, SOURCE_CASE_FILE, SRC_SPM_FILE, load_manifest
from s2s_batch.runtime.bundle.tokens import Recaser
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.checkpoint import load_checkpoint
from s2s_batch.train.predict import greedy_batch
from s2s_batch.train.trainer import train
from tests.toy import tiny_config

pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def subword_run(corpus_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("spm")
    # With augmentation, so that its path (train/augment.py) runs end to end.
    cfg = tiny_config("gru", attention="additive", tokenizer="sentencepiece", spm_vocab_size=120,
                      augment_names=0.5, augment_numbers=0.5, augment_concat=0.3, num_steps=40)
    logged = []
    train(cfg, corpus_path, out / "run", progress=False, log=logged.append)
    assert any(line.startswith("augmentation") for line in logged)
    assert any("joined lines" in line and " 0 joined" not in line for line in logged)
    net, cfg, sv, tv, payload = load_checkpoint(out / "run" / "checkpoint.pt")
    write_bundle(net, cfg, sv, tv, payload, out / "bundle")
    return out / "run" / "checkpoint.pt", out / "bundle"


def test_subword_bundle_carries_its_segmenters_with_checksums(subword_run):
    _, bundle = subword_run
    manifest = load_manifest(bundle)
    assert manifest.config.tokenizer == "sentencepiece"
    assert SRC_SPM_FILE in manifest.data["files"]


def test_subword_graphs_and_greedy_match_eager(subword_run, toy_sentences):
    checkpoint, bundle = subword_run
    net, cfg, sv, tv, _ = load_checkpoint(checkpoint)
    assert max_graph_difference(net, bundle / ENCODER_FILE, bundle / DECODER_FILE) <= 1e-5
    translator = Translator(bundle, threads=1, max_decoding_length=cfg.model.max_decode_len)
    pieces = [translator.src_tokenizer.encode(line) for line in toy_sentences]
    expected = greedy_batch(net, pieces, sv, tv, cfg.model.max_decode_len)
    assert translator.translate_ids(toy_sentences) == expected
    assert sum(map(len, expected)) > len(expected)


def test_subword_bundle_reads_capitals_in_their_usual_case(subword_run):
    _, bundle = subword_run
    manifest = load_manifest(bundle)
    assert SOURCE_CASE_FILE in manifest.data["files"]
    table = Recaser.load(bundle / SOURCE_CASE_FILE).table
    assert table["the"] == "the" and table["dog"] == "dog"  # the toy corpus has no names
    translator = Translator(bundle, threads=1)
    plain, caps = translator.translate_lines(["I see the big dog.", "I SEE THE BIG DOG."])
    assert caps == plain.upper()


def test_subword_output_is_cased_natural_text(subword_run):
    _, bundle = subword_run
    out = Translator(bundle, threads=1).translate_lines(["I see the dog.", "", "They eat the apple!"])
    assert out[1] == ""
    for text in (out[0], out[2]):
        assert "▁" not in text and text == text.strip() and text[:1].isupper(), text
