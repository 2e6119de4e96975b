"""A bundle is closed: every file the runtime reads is listed and checksummed in the
manifest, a tokenizer model must hold pieces, and the manifest itself is bounded."""

from __future__ import annotations

import json
import shutil

import pytest

from s2s_batch.runtime.bundle.manifest import MANIFEST, SRC_SPM_FILE, load_manifest, sha256_of
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.translator import Translator, default_bundle_dir


@pytest.fixture
def subword_bundle(tmp_path):
    root = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), root)
    return root


def _edit_manifest(root, change) -> None:
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (root / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_a_tokenizer_model_missing_from_the_list_is_refused(subword_bundle):
    _edit_manifest(subword_bundle, lambda m: m["files"].pop(SRC_SPM_FILE))
    with pytest.raises(BundleError, match="src.spm.model: the bundle reads it but the manifest lists no checksum"):
        Translator(subword_bundle, threads=1)


def test_an_empty_sentencepiece_model_is_refused_at_load(subword_bundle):
    (subword_bundle / SRC_SPM_FILE).write_bytes(b"")
    _edit_manifest(subword_bundle, lambda m: m["files"].update({SRC_SPM_FILE: sha256_of(subword_bundle /
                                                                                          SRC_SPM_FILE)}))
    with pytest.raises(BundleError, match="an empty SentencePiece model"):
        Translator(subword_bundle, threads=1)


def test_a_manifest_too_large_or_too_deep_is_refused(subword_bundle):
    _edit_manifest(subword_bundle, lambda m: m.update(padding="x" * (2 << 20)))
    with pytest.raises(BundleError, match="more than a manifest holds"):
        load_manifest(subword_bundle)
    (subword_bundle / MANIFEST).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(BundleError, match="nested too deep|format version"):
        load_manifest(subword_bundle)
