"""compute_type, as CTranslate2 users pass it: the bundle's int8 graphs, auto's choice by
the dev BLEU recorded at export, and one-line refusals."""

from __future__ import annotations

import json

import pytest

from s2s_batch.runtime.bundle.manifest import MANIFEST
from s2s_batch.runtime.errors import UsageError
from s2s_batch.runtime.translator import Translator
from tests.helpers import run
from tests.toy import make_pairs

LINES = [en for en, _ in make_pairs(60, seed=21)]


def _set_dev_bleu(bundle_dir, float32, int8):
    path = bundle_dir / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    data["compute_types"]["float32"]["dev_bleu"] = float32
    data["compute_types"]["int8"]["dev_bleu"] = int8
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("variant", [("gru", False, "none"), ("gru", False, "general+after"),
                                     ("gru", False, "dot+bi"), ("lstm", False, "none")])
def test_int8_runs_its_own_graph_and_mostly_writes_float32s_lines(bundle, variant):
    exact = Translator(bundle(*variant))
    fast = Translator(bundle(*variant), compute_type="int8")
    assert (exact.compute_type, fast.compute_type) == ("float32", "int8")
    assert fast.manifest.graphs["decoder_step"].file == "decoder_step.int8.onnx"
    assert fast.manifest.graphs["encoder"].file == "encoder.int8.onnx"
    assert exact.manifest.graphs["decoder_step"].file == "decoder_step.onnx"
    same = sum(a == b for a, b in zip(exact.translate_lines(LINES), fast.translate_lines(LINES)))
    # the committed bundles' export measured 83-98% of dev lines equal; a broken int8 step
    # (wrong weights, scales or argmax) writes other lines nearly everywhere
    assert same >= 0.7 * len(LINES)


def test_int8_serves_every_search_and_scoring(bundle):
    translator = Translator(bundle("gru", False, "general+after"), compute_type="int8_float32")
    assert translator.compute_type == "int8"
    greedy = translator.translate_lines(LINES[:8])
    beam = translator.translate_batch(LINES[:8], beam_size=3, num_hypotheses=2, return_scores=True)
    sampled = translator.translate_batch(LINES[:8], sampling_topk=3, return_scores=True)
    assert all(greedy) and all(len(r.hypotheses) == 2 for r in beam) and all(r.hypotheses for r in sampled)
    assert all(r.scores[0] >= r.scores[1] for r in beam)
    scored = translator.score_batch(LINES[:8], greedy)
    assert all(s.log_probs and all(p <= 0 for p in s.log_probs) for s in scored)
    # greedy search with scores reads the int8 logits and takes their argmax on the host:
    # it must pick what the graph's grouped argmax picks without them
    for tokens, result in zip(greedy, translator.translate_batch(LINES[:8], return_scores=True)):
        assert result.hypotheses[0] == tokens


def test_auto_takes_int8_only_within_the_bleu_margin(bundle):
    path = bundle("gru", False, "none")
    _set_dev_bleu(path, 30.0, 29.8)
    assert Translator(path, compute_type="auto").compute_type == "int8"
    _set_dev_bleu(path, 30.0, 29.6)
    assert Translator(path, compute_type="auto").compute_type == "float32"
    _set_dev_bleu(path, 30.0, None)  # not measured (exported without --data): the exact type
    assert Translator(path, compute_type="auto").compute_type == "float32"
    assert Translator(path).compute_type == "float32"  # default: the bundle's own


def test_refusals_name_the_fix(bundle, tmp_path):
    with pytest.raises(UsageError, match="no bfloat16 matmul kernel.*use int8"):
        Translator(bundle(), compute_type="bfloat16")
    with pytest.raises(UsageError, match="unknown; use one of default, auto"):
        Translator(bundle(), compute_type="int4")
    path = bundle("gru", True, "none")
    data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    del data["compute_types"]
    (path / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UsageError, match="no int8 graphs.*s2s_batch.export.compute_types BUNDLE --add int8"):
        Translator(path, compute_type="int8")
    assert Translator(path, compute_type="auto").compute_type == "float32"


def test_cli_compute_type(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(LINES[:5]) + "\n", encoding="utf-8")
    path = bundle("gru", False, "general+after")
    fast = run("translate", src, "--bundle", path, "--compute-type", "int8", "-q")
    assert fast.exit_code == 0, fast.output
    assert fast.output.splitlines() == Translator(path, compute_type="int8").translate_lines(LINES[:5])
    refused = run("translate", src, "--bundle", path, "--compute-type", "bfloat16", "-q")
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    tgt = tmp_path / "tgt.txt"
    tgt.write_text(fast.output, encoding="utf-8")
    scored = run("score", src, tgt, "--bundle", path, "--compute-type", "int8")
    assert scored.exit_code == 0 and len(scored.output.splitlines()) == 5
    info = run("info", "--bundle", path).output
    bleu = Translator(path).manifest.compute_types["int8"][1]
    assert "float32 (the bundle's own), dev BLEU" in info and f"int8, dev BLEU {bleu}" in info


def test_settings_rebuild_the_same_compute_type(bundle):
    translator = Translator(bundle("gru", False, "general+after"), compute_type="auto")
    again = Translator(bundle("gru", False, "general+after"), **translator.settings())
    assert again.compute_type == translator.compute_type


@pytest.mark.parametrize("value", [{"int8": {"dev_bleu": 10 ** 400}}, {"int8": {"dev_bleu": "41"}}, "int8",
                                   {"int8": {"graphs": {"decoder_step": {"file": "../decoder_step.onnx"}}}}])
def test_a_malformed_compute_types_entry_is_a_bundle_error(bundle, value, tmp_path):
    import shutil

    from s2s_batch.runtime.bundle.manifest import load_manifest
    from s2s_batch.runtime.errors import BundleError

    path = tmp_path / "bundle"
    shutil.copytree(bundle("gru", False, "none"), path)
    data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    data["compute_types"] = value
    (path / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BundleError):
        load_manifest(path)


def test_auto_ignores_bleu_measured_on_another_corpus(bundle, tmp_path):
    import shutil

    path = tmp_path / "bundle"
    shutil.copytree(bundle("gru", False, "none"), path)
    _set_dev_bleu(path, 30.0, 30.0)
    data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    data["metrics"]["compute_types_dev"]["same_corpus_as_training"] = False
    (path / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    assert Translator(path, compute_type="auto").compute_type == "float32"


def test_int8_with_a_shortlist_is_refused_naming_the_compute_type(bundle):
    with pytest.raises(UsageError, match="--shortlist with compute type int8"):
        Translator(bundle("gru", False, "general+after"), compute_type="int8", shortlist=True)
