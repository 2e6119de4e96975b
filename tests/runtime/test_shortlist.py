"""Vocabulary shortlists in the runtime: greedy search chooses only among them, and a
covering shortlist changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_batch.runtime.bundle.manifest import SHORTLIST_FILE
from s2s_batch.runtime.bundle.shortlist import LexicalTable, Shortlist
from s2s_batch.runtime.errors import BundleError, UsageError
from s2s_batch.runtime.translator import Translator


def _covering(table_of: Translator, ids: list[list[int]], extra: int = 0) -> Shortlist:
    """A shortlist holding every id of `ids` (and the reserved ones) for every source id."""
    union = np.array(sorted({i for row in ids for i in row} | {0, 1, 2, 3}), dtype=np.int32)
    n_src = table_of.config.src_vocab_size
    table = LexicalTable(np.arange(n_src + 1, dtype=np.int32) * len(union), np.tile(union, n_src))
    return Shortlist(table, frequent=4 + extra, per_source=len(union))


@pytest.mark.parametrize("attention", ["none", "additive", "dot+bi"])
def test_greedy_with_a_shortlist_that_covers_the_output_is_unchanged(bundle, toy_sentences, attention):
    full = Translator(bundle("gru", attention=attention))
    expected = full.translate_ids(toy_sentences)
    assert max(max(row, default=0) for row in expected) > 3
    short = Translator(bundle("gru", attention=attention), shortlist=_covering(full, expected))
    assert short.translate_ids(toy_sentences) == expected
    scored = short.translate_batch(toy_sentences, return_scores=True)
    assert [r.ids[0] for r in scored] == expected


def test_greedy_with_a_shortlist_chooses_only_among_it(bundle, toy_sentences):
    full = Translator(bundle())
    expected = full.translate_ids(toy_sentences)
    # Without any of the model's first words, every sentence starts differently, within the list.
    first = {row[0] for row in expected if row}
    allowed = sorted({i for row in expected for i in row} - first)
    short = Translator(bundle(), shortlist=_covering(full, [allowed]))
    got = short.translate_ids(toy_sentences)
    assert all(not row or row[0] not in first for row in got) and got != expected
    assert {i for row in got for i in row} <= set(allowed) | {0, 1, 2, 3}


def test_bundles_ship_the_table_and_a_decoder_that_takes_a_shortlist(bundle):
    folder = bundle()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["shortlist"]["file"] == SHORTLIST_FILE and SHORTLIST_FILE in manifest["files"]
    assert "shortlist_ids" in manifest["graphs"]["decoder_step"]["inputs"]
    assert Translator(folder, shortlist=True).shortlist.per_source > 0


def test_a_table_that_does_not_fit_the_vocabularies_is_a_bundle_error(tmp_path):
    path = tmp_path / SHORTLIST_FILE
    LexicalTable(np.array([0, 1, 2], dtype=np.int32), np.array([5, 99], dtype=np.int32)).save(path)
    assert LexicalTable.load(path, 2, 100).source_size == 2
    with pytest.raises(BundleError, match="does not fit"):
        LexicalTable.load(path, 2, 50)
    path.write_bytes(b"not an npz")
    with pytest.raises(BundleError, match="unreadable"):
        LexicalTable.load(path, 2, 100)


def test_shortlist_serves_greedy_search_only(bundle, toy_sentences):
    with pytest.raises(UsageError, match="greedy search only"):
        Translator(bundle(), shortlist=True).translate_batch(toy_sentences[:2], beam_size=2)
