"""Vocabulary shortlists: the lexical table, the decoder step's shortlist branch, the runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2s_batch.runtime.errors import BundleError, UsageError
from s2s_batch.runtime.manifest import SHORTLIST_FILE
from s2s_batch.runtime.shortlist import LexicalTable, Shortlist
from s2s_batch.runtime.tokenize import tokenize
from s2s_batch.runtime.translator import Translator
from s2s_batch.train.data import Pair
from s2s_batch.train.learned_tables import build_vocab
from s2s_batch.train.lexicon import build_lexical_table
from tests.conftest import make_pairs
from tests.test_cli import input_file, run  # noqa: F401 (a fixture)


def _toy_table(skip_frequent: int = 4):
    pairs = [Pair(tokenize(en), tokenize(fr)) for en, fr in make_pairs(600)]
    sv = build_vocab((p.src for p in pairs), 1)
    tv = build_vocab((p.tgt for p in pairs), 1)
    return build_lexical_table(pairs, sv, tv, per_source=10, skip_frequent=skip_frequent), sv, tv


def test_lexical_table_ranks_each_words_translation_first():
    table, sv, tv = _toy_table()
    for en, fr in [("cat", "chat"), ("dog", "chien"), ("bread", "pain"), ("big", "grand"),
                   ("eat", "mange"), ("red", "rouge")]:
        s = sv.token_to_idx[en]
        assert tv.idx_to_token[table.targets[table.offsets[s]]] == fr
    assert table.source_size == len(sv) and table.offsets[-1] == len(table.targets)


def test_lexical_table_leaves_out_the_frequent_words_every_shortlist_has():
    table, _, tv = _toy_table(skip_frequent=12)
    assert len(table.targets) and table.targets.min() >= 12


def test_shortlist_is_the_frequent_ids_and_each_source_words_first_candidates():
    table, sv, tv = _toy_table()
    shortlist = Shortlist(table, frequent=4, per_source=1)
    src = np.array([[sv.token_to_idx["cat"], sv.token_to_idx["dog"], sv.eos, sv.pad]])
    got = shortlist.candidates(src, len(tv))
    assert got.dtype == np.int64 and list(got) == sorted(got)
    assert set(tv.decode(got)) == {"<unk>", "<pad>", "<bos>", "<eos>", "chat", "chien"}


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


def test_cli_shortlist(bundle, trained, input_file, tmp_path):  # noqa: F811 (a fixture)
    out = tmp_path / "out.txt"
    result = run("translate", input_file, "-o", out, "--bundle", bundle(), "--shortlist", "-q")
    assert result.exit_code == 0
    assert len(out.read_text().splitlines()) == len(input_file.read_text().splitlines())
    result = run("translate", input_file, "--bundle", bundle(), "--shortlist", "--beam-size", "2")
    assert result.exit_code == 2 and "greedy search only" in result.stderr
    plain = tmp_path / "plain-bundle"
    from click.testing import CliRunner

    from s2s_batch.export.cli import main as export_main

    exported = CliRunner().invoke(export_main, [str(trained()), "-o", str(plain), "--no-shortlist"])
    assert exported.exit_code == 0, exported.output
    result = run("translate", input_file, "--bundle", plain, "--shortlist")
    assert result.exit_code == 2 and "no shortlist table" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
