"""The bundle spec: a typed manifest with a revision and a JSON Schema, read by the runtime."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest

from s2s_batch.runtime.bundle.manifest import MANIFEST, REVISION, load_manifest, manifest_schema
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.translator import Translator, default_bundle_dir


def test_the_default_and_a_fresh_export_follow_the_schema(bundle):
    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for root in (default_bundle_dir(), bundle()):
        jsonschema.validate(json.loads((root / MANIFEST).read_text()), schema)
    fresh = json.loads((bundle() / MANIFEST).read_text())
    assert fresh["revision"] == REVISION
    assert load_manifest(default_bundle_dir()).revision == REVISION


def test_a_manifest_without_a_revision_reads_as_revision_1(bundle, tmp_path):
    """Bundles exported before revisions were recorded (the default until 2026-11-30) still load."""
    root = _edited(bundle, tmp_path, lambda d: d.pop("revision"))
    assert load_manifest(root).revision == 1
    assert len(Translator(root).translate_lines(["x"])) == 1


def _edited(bundle, tmp_path, change) -> object:
    root = tmp_path / "b"
    shutil.copytree(bundle(), root)
    data = json.loads((root / MANIFEST).read_text())
    change(data)
    (root / MANIFEST).write_text(json.dumps(data))
    return root


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(revision=REVISION + 1), "newer than this runtime"),
    (lambda d: d.update(revision=0), "not a revision number"),
    (lambda d: d.update(revision=True), "not a revision number"),
    (lambda d: d["graphs"].pop("encoder"), "malformed manifest"),
    (lambda d: d["special_tokens"]["tgt"].pop("eos"), "malformed manifest"),
    (lambda d: d["vocabularies"].update(src="other.txt"), "lists no checksum for other.txt"),
])
def test_a_manifest_the_runtime_cannot_trust_is_refused(bundle, tmp_path, change, message):
    root = _edited(bundle, tmp_path, change)
    with pytest.raises(BundleError, match=message):
        load_manifest(root)


def test_what_the_manifest_says_is_checked_against_the_files(bundle, tmp_path):
    swapped = _edited(bundle, tmp_path, lambda d: d["special_tokens"]["tgt"].update(eos=0, unk=3))
    with pytest.raises(BundleError, match="special token ids"):
        Translator(swapped, threads=1)
    shutil.rmtree(tmp_path / "b")
    renamed = _edited(bundle, tmp_path, lambda d: d["graphs"]["decoder_step"]["inputs"].append("extra"))
    with pytest.raises(BundleError, match=r"disagree on \['extra'\]"):
        Translator(renamed, threads=1)


def _as_revision_3(data: dict) -> None:
    data["revision"] = 3
    for entry in data["graphs"].values():
        entry.pop("optional_inputs", None)


def test_graph_features_are_what_the_manifest_lists_not_what_the_graph_has(bundle, tmp_path, toy_sentences):
    """A revision-3 manifest does not list the step's optional inputs: the runtime leaves them
    unfed (host-side bans, full logits for beam search), though the graph has them, and the
    words are the same."""
    today = Translator(bundle(), threads=1)
    assert today.graphs.takes_banned and today.graphs.takes_row_candidates and today.graphs._logits_only
    old = Translator(_edited(bundle, tmp_path, _as_revision_3), threads=1)
    assert not (old.graphs.takes_banned or old.graphs.takes_row_candidates or old.graphs._logits_only)
    assert old.graphs.takes_shortlist and old.graphs.takes_prescore  # required inputs, listed since revision 1
    for opts in ({}, {"beam_size": 3}, {"beam_size": 2, "disable_unk": True}, {"disable_unk": True}):
        assert ([r.hypotheses for r in old.translate_batch(toy_sentences[:12], **opts)]
                == [r.hypotheses for r in today.translate_batch(toy_sentences[:12], **opts)]), opts


def test_an_optional_input_the_manifest_lists_must_be_in_the_graph(bundle, tmp_path):
    root = _edited(bundle, tmp_path, lambda d: d["graphs"]["decoder_step"]["optional_inputs"].append("temperature"))
    with pytest.raises(BundleError, match=r"disagree on \['temperature'\]"):
        Translator(root, threads=1)


def test_a_required_input_the_manifest_leaves_out_is_refused(bundle, tmp_path):
    root = _edited(bundle, tmp_path, lambda d: d["graphs"]["decoder_step"]["inputs"].remove("prescore"))
    with pytest.raises(BundleError, match=r"disagree on \['prescore'\]"):
        Translator(root, threads=1)
