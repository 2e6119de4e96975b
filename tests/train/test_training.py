"""Data split, masked loss, presets, checkpoints and resume."""

import dataclasses

import pytest
import torch

from s2s_batch.runtime.bundle.tokens import tokenize
from s2s_batch.train.config import make_config
from s2s_batch.train.data import read_pairs, split_corpus, split_of, to_tensor
from s2s_batch.train.learned_tables import build_vocab
from s2s_batch.train.loss import MaskedSoftmaxCELoss
from tests.toy import tiny_config


def test_masked_loss_matches_hand_computation_with_padding():
    logits = torch.log(torch.tensor([[[0.7, 0.1, 0.2], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]],
                                     [[0.1, 0.8, 0.1], [0.25, 0.25, 0.5], [0.9, 0.05, 0.05]]]))
    label = torch.tensor([[0, 1, 2], [1, 2, 0]])
    valid = torch.tensor([3, 1])  # second row: only its first token counts
    loss = MaskedSoftmaxCELoss()(logits, label, valid)
    import math
    row0 = -(math.log(0.7) + math.log(0.5) + math.log(0.4)) / 3
    row1 = -math.log(0.8) / 3  # mean over the time axis, padding included, as in the seed
    assert loss.tolist() == pytest.approx([row0, row1], rel=1e-5)


def test_split_keeps_every_translation_of_a_sentence_together(corpus_path):
    raw = read_pairs(corpus_path)
    train, dev, test = split_corpus(raw, 100, 100)
    train_src = {" ".join(p.src) for p in train}
    held = {" ".join(s) for s in dev.sources} | {" ".join(s) for s in test.sources}
    assert train_src and dev.sources and test.sources
    assert not train_src & held
    n_refs = sum(len(r) for r in dev.references) + sum(len(r) for r in test.references)
    assert len(train) + n_refs == len(raw)
    assert any(len(r) > 1 for r in dev.references + test.references)


def test_split_is_deterministic_and_by_preprocessed_sentence():
    assert split_of(tokenize("Go."), 20, 20) == split_of(tokenize("go ."), 20, 20)
    assert [split_of([str(i)], 100, 100) for i in range(50)] == \
           [split_of([str(i)], 100, 100) for i in range(50)]


def test_max_pairs_takes_the_first_training_pairs(corpus_path):
    raw = read_pairs(corpus_path)
    full, _, _ = split_corpus(raw, 100, 100)
    first, _, _ = split_corpus(raw, 100, 100, max_pairs=50)
    assert [p.src for p in first] == [p.src for p in full[:50]]


def test_d2l_preset_is_the_seed_recipe():
    cfg = make_config("d2l")
    m = cfg.model
    assert (m.cell, m.embed_size, m.hidden_size, m.num_layers, m.dropout, m.num_steps) == \
           ("gru", 32, 32, 2, 0.1, 10)
    assert (cfg.batch_size, cfg.lr, cfg.epochs, cfg.max_pairs) == (64, 0.005, 300, 600)
    assert m.pad_source
    assert make_config("d2l", hidden_size=64).model.hidden_size == 64


def test_to_tensor_seed_semantics_pads_to_num_steps():
    vocab = build_vocab([["a", "b", "c"]], 1)
    ids, valid = to_tensor([["a"], ["a", "b", "c"]], vocab, 5, True)
    assert ids.shape == (2, 5) and valid.tolist() == [2, 4]
    ids, valid = to_tensor([["a"], ["a", "b", "c"]], vocab, 5, False)
    assert ids.shape == (2, 4) and valid.tolist() == [2, 4]


def test_resume_continues_exactly_where_training_stopped(corpus_path, tmp_path):
    from s2s_batch.train.trainer import train

    cfg = tiny_config("gru", epochs=3)
    quiet = dict(progress=False, log=lambda m: None)
    straight = train(cfg, corpus_path, tmp_path / "straight", **quiet)
    train(dataclasses.replace(cfg, epochs=2), corpus_path, tmp_path / "split", **quiet)
    resumed = train(dataclasses.replace(cfg, epochs=2), corpus_path, tmp_path / "split",
                    resume=True, resume_settings={"epochs": 3}, **quiet)
    assert resumed["epoch"] == straight["epoch"] == 3
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], abs=1e-6)
    assert resumed["dev_loss"] == pytest.approx(straight["dev_loss"], abs=1e-6)


def test_resume_at_a_new_learning_rate(corpus_path, tmp_path):
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.trainer import train

    cfg = tiny_config("gru", epochs=1, warmup_steps=3)
    quiet = dict(progress=False, log=lambda m: None)
    train(cfg, corpus_path, tmp_path, **quiet)
    train(cfg, corpus_path, tmp_path, resume=True, resume_settings={"epochs": 2, "lr": 1e-4,
                                                                     "hidden_size": 99}, **quiet)
    _, resumed_cfg, _, _, payload = load_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["epoch"] == 1 and resumed_cfg.lr == 1e-4
    assert resumed_cfg.model.hidden_size == cfg.model.hidden_size  # not a schedule setting
    assert [g["lr"] for g in payload["optimizer"]["param_groups"]] == [pytest.approx(1e-4)]
    assert payload["schedule"]["base_lrs"] == [pytest.approx(1e-4)]


def test_dev_limit_takes_an_evenly_spaced_subset(corpus_path):
    from s2s_batch.train.trainer import prepare

    full = prepare(tiny_config(dev_limit=0), corpus_path)[1]
    part = prepare(tiny_config(dev_limit=10), corpus_path)[1]
    assert len(part.sources) == 10 and len(full.sources) > 20
    positions = [full.sources.index(s) for s in part.sources]
    assert positions == sorted(positions) and positions[-1] > len(full.sources) * 0.8


def test_label_smoothing_moves_mass_off_the_label():
    logits = torch.tensor([[[8.0, 0.0, 0.0, 0.0]]])
    label, valid = torch.tensor([[0]]), torch.tensor([1])
    plain = MaskedSoftmaxCELoss()(logits, label, valid)
    smooth = MaskedSoftmaxCELoss(0.1)(logits, label, valid)
    logp = torch.log_softmax(logits[0, 0], dim=-1)
    expected = -(0.9 + 0.1 / 4) * logp[0] - (0.1 / 4) * logp[1:].sum()
    assert smooth.item() == pytest.approx(expected.item(), rel=1e-5) and smooth > plain


def test_warmup_rises_linearly_then_stays():
    from s2s_batch.train.trainer import warmup

    factor = warmup(4)
    assert [factor(u) for u in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup(0)(0) == 1.0


def test_early_stopping_stops_after_patience_epochs_without_progress(corpus_path, tmp_path):
    import json

    from s2s_batch.train.trainer import train

    # lr 0: the weights never change, so dev BLEU never improves after the first epoch.
    cfg = tiny_config(lr=0.0, epochs=6, patience=2, max_pairs=100)
    train(cfg, corpus_path, tmp_path, progress=False, log=lambda m: None)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_checkpoint_averaging_means_the_last_epochs(corpus_path, tmp_path):
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.trainer import train

    train(tiny_config(epochs=3, average_last=2, max_pairs=200), corpus_path, tmp_path,
          progress=False, log=lambda m: None)
    assert sorted(p.name for p in tmp_path.glob("weights-epoch*.pt")) == ["weights-epoch2.pt",
                                                                          "weights-epoch3.pt"]
    epoch2 = torch.load(tmp_path / "weights-epoch2.pt", weights_only=True)
    epoch3 = torch.load(tmp_path / "weights-epoch3.pt", weights_only=True)
    averaged, *_, payload = load_checkpoint(tmp_path / "averaged.pt")
    for name, value in averaged.state_dict().items():
        torch.testing.assert_close(value, (epoch2[name] + epoch3[name]) / 2)
    assert not torch.equal(epoch2["decoder.dense.weight"], epoch3["decoder.dense.weight"])
    assert payload["averaged_last"] == 2


def test_the_manifest_scores_the_exported_checkpoints_own_epoch(corpus_path, tmp_path):
    from s2s_batch.export.bundle import build_manifest
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.trainer import train

    train(tiny_config(epochs=2, max_pairs=200), corpus_path, tmp_path, progress=False,
          log=lambda m: None)
    _, cfg, sv, tv, payload = load_checkpoint(tmp_path / "checkpoint.pt")
    payload["history"][0]["dev_bleu"] = 99.0  # an earlier epoch, scored higher
    metrics = build_manifest(cfg, sv, tv, payload, {}, 0.0, {"encoder.onnx": {}, "decoder_step.onnx": {}})["metrics"]
    assert metrics["dev_epoch"] == 2 and metrics["dev_bleu"] == payload["history"][-1]["dev_bleu"]


def test_warm_start_inherits_matching_weights_and_adds_new_layers(corpus_path, tmp_path):
    from s2s_batch.train.checkpoint import load_checkpoint
    from s2s_batch.train.trainer import train, warm_start

    quiet = dict(progress=False, log=lambda m: None)
    base_cfg = tiny_config(epochs=1, max_pairs=200)
    train(base_cfg, corpus_path, tmp_path / "base", **quiet)
    base, *_, base_payload = load_checkpoint(tmp_path / "base" / "checkpoint.pt")
    attn_cfg = tiny_config(epochs=1, max_pairs=200, attention="additive")
    net, cfg, src_vocab, _, payload = warm_start(attn_cfg, tmp_path / "base" / "checkpoint.pt", "cpu")
    inherited = base.state_dict()
    for name, value in net.state_dict().items():
        if name.startswith("decoder.attention."):
            assert name not in inherited
        else:
            torch.testing.assert_close(value, inherited[name], rtol=0, atol=0)
    assert payload["pretraining"]["warm_start"]["fresh"] == sorted(
        n for n in net.state_dict() if n.startswith("decoder.attention."))
    assert cfg.model.attention == "additive" and cfg.model.src_vocab_size == len(src_vocab)

    train(attn_cfg, corpus_path, tmp_path / "attn", init_from=tmp_path / "base" / "checkpoint.pt", **quiet)
    _, trained_cfg, _, _, trained = load_checkpoint(tmp_path / "attn" / "checkpoint.pt")
    assert trained_cfg.model.attention == "additive" and trained["epoch"] == 0
    assert trained["data"]["command"].count("s2s-train") == 2  # its recipe, then this run's
    assert trained["lexicon"].keys() == base_payload["lexicon"].keys()
    for key, value in base_payload["lexicon"].items():
        assert (trained["lexicon"][key] == value).all()

    with pytest.raises(ValueError, match="dev_permille"):
        warm_start(tiny_config(dev_permille=50), tmp_path / "base" / "checkpoint.pt", "cpu")


def test_provenance_is_what_the_user_or_the_corpus_says_never_a_guess(tmp_path):
    from s2s_batch.train.provenance import data_provenance

    corpus = tmp_path / "mine" / "corpus.tsv"
    corpus.parent.mkdir()
    corpus.write_text("Hi.\tSalut.\n")
    plain = data_provenance(corpus)
    assert (plain["attribution"], plain["license"]) == ("unknown", "unknown")
    given = data_provenance(corpus, attribution="ACME support tickets", license="proprietary")
    assert (given["attribution"], given["license"]) == ("ACME support tickets", "proprietary")
    (corpus.parent / "_about.txt").write_text("Terms\nhttp://creativecommons.org/licenses/by/2.0\n"
                                              "Attribution: www.manythings.org/anki and tatoeba.org\n")
    about = data_provenance(corpus)
    assert about["attribution"] == "www.manythings.org/anki and tatoeba.org"
    assert about["license"] == "http://creativecommons.org/licenses/by/2.0"


def test_the_bundle_carries_the_recorded_provenance(trained, tmp_path):
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.runtime.bundle.manifest import load_manifest
    from s2s_batch.train.checkpoint import load_checkpoint

    net, cfg, sv, tv, payload = load_checkpoint(trained())
    payload["data"].update(attribution="ACME support tickets", license="proprietary")
    write_bundle(net, cfg, sv, tv, payload, tmp_path / "b")
    data = load_manifest(tmp_path / "b").data
    assert (data["data_attribution"], data["data_license"]) == ("ACME support tickets", "proprietary")
