"""Training strategies (issue 9): the curriculum schedule admits exactly the intended pairs;
adversarial training perturbs toward a higher loss."""

import json

import pytest

from s2s_batch.train.curriculum import admitted, competence, curriculum_batches, difficulty_order
from s2s_batch.train.data import Pair
from s2s_batch.train.trainer import train
from tests.toy import tiny_config


def test_competence_grows_as_a_square_root_from_c0_to_one():
    assert competence(0, 100, 0.1) == pytest.approx(0.1)
    assert competence(50, 100, 0.1) == pytest.approx((50 * 0.99 / 100 + 0.01) ** 0.5)
    assert competence(100, 100, 0.1) == 1.0 and competence(500, 100, 0.1) == 1.0


def test_each_batch_draws_only_from_the_pairs_admitted_at_its_update():
    pairs = [Pair(["w"] * n, ["x"]) for n in [5, 1, 9, 3, 7, 2, 8, 4, 6, 10] * 10]  # 100 pairs
    order = difficulty_order(pairs, "length")
    assert [len(pairs[i].src) for i in order] == sorted(len(p.src) for p in pairs)
    steps, start, batch = 20, 0.1, 8
    for epoch in range(3):
        batches = curriculum_batches(pairs, order, batch, seed=0, epoch=epoch, steps=steps, start=start)
        assert len(batches) == 13  # as many as a plain epoch
        for i, b in enumerate(batches):
            update = epoch * 13 + i
            pool = admitted(update, len(pairs), batch, steps, start)
            allowed = {id(pairs[j]) for j in order[:pool]}
            assert all(id(p) in allowed for p in b) and len(b) == min(batch, pool)
    # The first update admits the easiest 10 (c0 * 100): lengths 1 only.
    first = curriculum_batches(pairs, order, batch, 0, 0, steps, start)[0]
    assert {len(p.src) for p in first} == {1}
    assert admitted(0, 100, 8, steps, start) == 10 and admitted(steps, 100, 8, steps, start) == 100


def test_rarity_ranks_rare_words_as_harder():
    pairs = [Pair(["the", "dog"], ["x"])] * 5 + [Pair(["the", "zebu"], ["x"])]
    order = difficulty_order(pairs, "rarity")
    assert order[-1] == 5


def test_curriculum_run_resumes_mid_schedule_exactly(corpus_path, tmp_path):
    cfg = tiny_config(epochs=2, curriculum="rarity", curriculum_steps=30, max_pairs=300)
    train(cfg, corpus_path, tmp_path / "full", progress=False, log=lambda m: None)
    train(tiny_config(epochs=1, curriculum="rarity", curriculum_steps=30, max_pairs=300),
          corpus_path, tmp_path / "split", progress=False, log=lambda m: None)
    train(cfg, corpus_path, tmp_path / "split", resume=True, resume_settings={"epochs": 2},
          progress=False, log=lambda m: None)
    read = lambda d: [json.loads(row)["train_loss"] for row in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert read(tmp_path / "full") == read(tmp_path / "split")


def test_adversarial_perturbation_raises_the_loss_and_training_runs(corpus_path, tmp_path, trained):
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.export.verify import max_graph_difference
    from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.loss import MaskedSoftmaxCELoss
    from s2s_batch.train.trainer import _tensors, adversarial_losses, prepare

    net, cfg, sv, tv, _ = load_checkpoint(trained("gru", False, "additive"))
    pairs = prepare(cfg, corpus_path)[0][:64]
    clean, perturbed = adversarial_losses(net, _tensors(net, pairs, sv, tv, "cpu"),
                                          MaskedSoftmaxCELoss(), eps=1.0)
    assert perturbed.item() > clean.item()
    # A run with it trains, exports (the graphs are unchanged by it) and keeps parity.
    train(tiny_config(epochs=1, adversarial=0.5, max_pairs=200), corpus_path, tmp_path / "adv",
          progress=False, log=lambda m: None)
    net, cfg, sv, tv, payload = load_checkpoint(tmp_path / "adv" / "checkpoint.pt")
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "bundle")
    assert max_graph_difference(net, tmp_path / "bundle" / ENCODER_FILE,
                                tmp_path / "bundle" / DECODER_FILE) <= 1e-5


@pytest.mark.parametrize("cell,attention", [("gru", "none"), ("lstm", "additive"), ("rnn", "general")])
def test_language_model_pretraining_learns_and_the_model_exports(corpus_path, tmp_path, cell, attention):
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.export.verify import max_graph_difference
    from s2s_batch.runtime.bundle.manifest import DECODER_FILE, ENCODER_FILE
    from s2s_batch.train.checkpoint import load_checkpoint

    cfg = tiny_config(cell, attention=attention, epochs=1, max_pairs=300, pretrain_decoder_lm=True,
                      pretrain_encoder_lm=True, pretrain_epochs=3)
    train(cfg, corpus_path, tmp_path / "run", progress=False, log=lambda m: None)
    net, cfg, sv, tv, payload = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    for losses in payload["pretraining"].values():
        assert len(losses) == 3 and losses[-1] < losses[0]
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "bundle")
    assert max_graph_difference(net, tmp_path / "bundle" / ENCODER_FILE,
                                tmp_path / "bundle" / DECODER_FILE) <= 1e-5


@pytest.mark.parametrize("cell,attention,bidirectional,encoder_lm", [
    ("lstm", "additive", True, False),  # an encoder LM needs a unidirectional encoder
    ("gru", "dot", False, True),
])
def test_all_three_strategies_combine_with_the_quality_options(corpus_path, tmp_path, toy_sentences,
                                                               cell, attention, bidirectional, encoder_lm):
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.runtime.translator import Translator
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.predict import greedy_batch

    cfg = tiny_config(cell, attention=attention, bidirectional=bidirectional, epochs=2, max_pairs=300,
                      curriculum="length", curriculum_steps=10, adversarial=0.5,
                      pretrain_decoder_lm=True, pretrain_encoder_lm=encoder_lm)
    train(cfg, corpus_path, tmp_path / "run", progress=False, log=lambda m: None)
    net, cfg, sv, tv, payload = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert set(payload["pretraining"]) == {"decoder_lm_loss", *(["encoder_lm_loss"] if encoder_lm else [])}
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "bundle")
    translator = Translator(tmp_path / "bundle", truecase=False, max_decoding_length=cfg.model.max_decode_len)
    expected = greedy_batch(net, [translator.src_tokenizer.encode(s) for s in toy_sentences], sv, tv,
                            cfg.model.max_decode_len)
    assert translator.translate_ids(toy_sentences) == expected
    assert any(expected)
