"""Truecasing of word-level output: the table's rules, its file, and the bundles that ship it."""

from __future__ import annotations

import pytest

from s2s_batch.runtime.bundle.manifest import TRUECASE_FILE
from s2s_batch.runtime.bundle.tokens import Recaser
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.translator import Translator
from tests.helpers import run


def test_apply_restores_names_and_capitalises_the_first_letter():
    recaser = Recaser({"tom": "Tom", "boston": "Boston", "l'italie": "l'Italie"})
    assert recaser.apply("tom est à boston .".split()) == ["Tom", "est", "à", "Boston", "."]
    assert recaser.apply(["«", "il", "aime", "l'italie", "»"]) == ["«", "Il", "aime", "l'Italie", "»"]
    assert recaser.apply(["été", "!"]) == ["Été", "!"] and recaser.apply([]) == []


def test_save_and_load_round_trip_and_a_bad_table_is_a_bundle_error(tmp_path):
    path = tmp_path / TRUECASE_FILE
    Recaser({"tom": "Tom", "ok": "OK"}).save(path)
    assert Recaser.load(path).table == {"tom": "Tom", "ok": "OK"}
    path.write_text("tom\tMary\n", encoding="utf-8")
    with pytest.raises(BundleError, match="not a casing"):
        Recaser.load(path)
    path.write_text("tom Tom\n", encoding="utf-8")
    with pytest.raises(BundleError, match="unreadable truecasing table"):
        Recaser.load(path)


def test_word_level_bundles_write_truecased_text_unless_asked_not_to(bundle, toy_sentences):
    folder = bundle()
    assert (folder / TRUECASE_FILE).is_file()
    cased = Translator(folder).translate_lines(toy_sentences)
    plain = Translator(folder, truecase=False).translate_lines(toy_sentences)
    assert any(c != p for c, p in zip(cased, plain))
    for c, p in zip(cased, plain):
        assert c.lower() == p and p == p.lower()
        assert not c or c[0] == c[0].upper()


def test_cli_no_truecase(bundle, input_file, tmp_path):  # noqa: F811
    cased, plain = tmp_path / "cased.txt", tmp_path / "plain.txt"
    assert run("translate", input_file, "-o", cased, "--bundle", bundle(), "-q").exit_code == 0
    assert run("translate", input_file, "-o", plain, "--bundle", bundle(), "-q",
               "--no-truecase").exit_code == 0
    assert cased.read_text().lower() == plain.read_text() != cased.read_text()
