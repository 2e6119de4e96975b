"""python -m s2s_batch.export.upgrade: an older manifest rewritten at today's revision."""

from __future__ import annotations

import json
import shutil

from s2s_batch.export.upgrade import main, upgrade_manifest
from s2s_batch.runtime.bundle.manifest import MANIFEST, REVISION, load_manifest
from s2s_batch.runtime.translator import Translator


def test_a_revision_3_bundle_gets_its_optional_inputs_back(bundle, tmp_path):
    root = tmp_path / "old"
    shutil.copytree(bundle(), root)
    data = json.loads((root / MANIFEST).read_text())
    data["revision"] = 3
    for entry in data["graphs"].values():
        entry.pop("optional_inputs")
    (root / MANIFEST).write_text(json.dumps(data))
    assert not Translator(root, threads=1).graphs.takes_row_candidates

    assert upgrade_manifest(root) == (3, REVISION)
    upgraded, fresh = load_manifest(root), load_manifest(bundle())
    assert upgraded.revision == REVISION
    assert upgraded.graphs == fresh.graphs  # what a fresh export of the same model lists
    assert upgraded.files == fresh.files  # graphs and vocabularies untouched
    assert upgraded.data["upgraded_from_revision"] == 3
    assert Translator(root, threads=1).graphs.takes_row_candidates
    assert upgrade_manifest(root) == (REVISION, REVISION)


def test_a_damaged_bundle_is_refused_and_left_alone(bundle, tmp_path, capsys):
    root = tmp_path / "damaged"
    shutil.copytree(bundle(), root)
    with (root / "src_vocab.txt").open("a") as f:
        f.write("extra\n")
    before = (root / MANIFEST).read_bytes()
    assert main([str(root)]) == 4
    assert "sha256 does not match" in capsys.readouterr().err
    assert (root / MANIFEST).read_bytes() == before
