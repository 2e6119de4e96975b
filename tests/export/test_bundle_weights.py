"""The eager model rebuilt from a bundle's ONNX weights is the checkpoint it came from."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from s2s_batch.export.bundle_weights import eager_from_bundle  # noqa: E402
from s2s_batch.train.checkpoint import load_checkpoint  # noqa: E402


@pytest.mark.parametrize(("seed_semantics", "attention"), [
    (False, "none"), (True, "none"), (False, "general+after"), (False, "dot+after")])
def test_rebuilt_weights_equal_the_checkpoints_bit_for_bit(trained, bundle, seed_semantics, attention):
    net, *_ = load_checkpoint(trained("gru", seed_semantics, attention))
    rebuilt = eager_from_bundle(bundle("gru", seed_semantics, attention))
    assert rebuilt.config == net.config
    expected, got = net.state_dict(), rebuilt.state_dict()
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name
    assert not rebuilt.training


def test_bundles_it_cannot_rebuild_are_refused(bundle):
    for cell, attention in (("lstm", "none"), ("gru", "additive"), ("gru", "general+bi+after")):
        with pytest.raises(ValueError, match="only fp32 unidirectional GRU bundles"):
            eager_from_bundle(bundle(cell, False, attention))


def _manifest_without_run_details(path) -> dict:
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    for key in ("files", "exported_at"):
        manifest.pop(key)
    manifest["metrics"].pop("parity_max_abs_diff")
    return manifest


def test_s2s_export_of_a_bundle_writes_the_same_bundle_again(bundle, tmp_path):
    from click.testing import CliRunner

    from s2s_batch.export.cli import main

    source = bundle("gru", False)
    result = CliRunner().invoke(main, [str(source), "-o", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    again = tmp_path / "again"
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in source.iterdir())
    for path in source.iterdir():
        if path.name != "manifest.json":
            assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    assert _manifest_without_run_details(again) == _manifest_without_run_details(source)


def test_s2s_export_refuses_a_bundle_it_cannot_rebuild(bundle, tmp_path):
    from click.testing import CliRunner

    from s2s_batch.export.cli import main

    result = CliRunner().invoke(main, [str(bundle("lstm")), "-o", str(tmp_path / "out")])
    assert result.exit_code == 4
    assert "only fp32 unidirectional GRU bundles" in result.output
    assert not (tmp_path / "out").exists()


def test_s2s_export_refuses_a_bundle_without_its_recipe(bundle, tmp_path):
    import shutil

    from click.testing import CliRunner

    from s2s_batch.export.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(bundle("gru", False), copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["recipe"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = CliRunner().invoke(main, [str(copy), "-o", str(tmp_path / "out")])
    assert result.exit_code == 4
    assert "records no training recipe" in result.output


def test_a_run_can_start_from_a_bundle_folder(trained, bundle):
    from s2s_batch.train.trainer import warm_start

    net, cfg, src_vocab, tgt_vocab, _ = load_checkpoint(trained("gru", False, "general+after"))
    started, started_cfg, started_src, started_tgt, payload = warm_start(
        cfg, bundle("gru", False, "general+after"), "cpu", log=lambda m: None)
    assert started_cfg.model == cfg.model
    assert started_src.idx_to_token == src_vocab.idx_to_token
    assert started_tgt.idx_to_token == tgt_vocab.idx_to_token
    for name, tensor in net.state_dict().items():
        assert torch.equal(started.state_dict()[name], tensor), name
    assert payload["pretraining"]["warm_start"]["fresh"] == []
    assert payload["data"]["command"].startswith("s2s-train")


def test_s2s_export_carries_a_subword_bundles_casing_table_or_learns_it_with_data(corpus_path, tmp_path):
    import shutil

    from click.testing import CliRunner

    from s2s_batch.export.cli import main
    from s2s_batch.runtime.bundle.manifest import SOURCE_CASE_FILE
    from s2s_batch.runtime.bundle.tokens import Recaser
    from s2s_batch.runtime.translator import default_bundle_dir

    # A copy of the shipped default without its table, as bundles exported before 2026-12-04.
    copy = tmp_path / "old"
    shutil.copytree(default_bundle_dir(), copy)
    (copy / SOURCE_CASE_FILE).unlink(missing_ok=True)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"].pop(SOURCE_CASE_FILE, None)
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    plain = CliRunner().invoke(main, [str(copy), "-o", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "plain" / SOURCE_CASE_FILE).exists()
    learned = CliRunner().invoke(main, [str(copy), "-o", str(tmp_path / "learned"), "--data", str(corpus_path)])
    assert learned.exit_code == 0, learned.output
    table = Recaser.load(tmp_path / "learned" / SOURCE_CASE_FILE).table
    assert table["dog"] == "dog" and table["the"] == "the"  # the toy corpus's English
    again = CliRunner().invoke(main, [str(tmp_path / "learned"), "-o", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output  # a bundle's table travels through s2s-export
    learned_bytes = (tmp_path / "learned" / SOURCE_CASE_FILE).read_bytes()
    assert (tmp_path / "again" / SOURCE_CASE_FILE).read_bytes() == learned_bytes
