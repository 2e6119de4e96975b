"""What the translate command tells a user about their input: the format it guessed from
the name, standard input on a terminal, an output that needs no resume, blank jsonl rows."""

from __future__ import annotations

import json
import os

from tests.helpers import run


def test_the_input_format_follows_the_file_name_with_a_notice(bundle, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I see the dog.", "id": 1}\n')
    guessed = run("translate", src, "--bundle", bundle(), "--output-format", "jsonl")
    assert guessed.exit_code == 0, guessed.output
    assert f"reading {src} as jsonl (by its name" in guessed.stderr
    row = json.loads(guessed.stdout)
    assert row["id"] == 1 and row["text"] == "I see the dog." and row["translation"]
    raw = run("translate", src, "--bundle", bundle(), "--input-format", "text", "-q")
    assert raw.exit_code == 0 and "reading" not in raw.stderr  # asked for: no guess, no notice
    tsv = tmp_path / "in.tsv.gz"
    import gzip

    tsv.write_bytes(gzip.compress(b"7\tI see the dog.\n"))
    by_column = run("translate", tsv, "--bundle", bundle(), "--column", 2, "--output-format", "tsv")
    assert by_column.exit_code == 0 and "as tsv" in by_column.stderr
    assert by_column.stdout.startswith("7\tI see the dog.\t")


def test_standard_input_on_a_terminal_gets_a_hint(bundle, monkeypatch):
    from s2s_batch.runtime.cli import main as cli

    monkeypatch.setattr(cli, "_is_terminal", lambda stream: True)
    result = run("translate", "--bundle", bundle(), input="I see the dog.\n")
    assert result.exit_code == 0 and "reading standard input" in result.stderr
    quiet = run("translate", "--bundle", bundle(), "-q", input="I see the dog.\n")
    assert "reading standard input" not in quiet.stderr
    monkeypatch.setattr(cli, "_is_terminal", lambda stream: False)
    piped = run("translate", "--bundle", bundle(), input="I see the dog.\n")
    assert piped.exit_code == 0 and "reading standard input" not in piped.stderr


def test_resume_on_a_finished_output_says_so_and_does_nothing(bundle, tmp_path):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("I see the dog.\n\nWe eat a big cat.\n")
    assert run("translate", src, "-o", dst, "--bundle", bundle(), "-q").exit_code == 0
    dst.write_text("kept\nas\nit is\n")  # an answer per line: left alone
    os.utime(dst, ns=(os.stat(src).st_mtime_ns + 10**9,) * 2)
    again = run("translate", src, "-o", dst, "--bundle", bundle(), "--resume")
    assert again.exit_code == 0 and "nothing to resume" in again.stderr
    assert dst.read_text() == "kept\nas\nit is\n"
    dst.write_text("one line short\n")  # not a finished answer: translated again
    redo = run("translate", src, "-o", dst, "--bundle", bundle(), "--resume", "-q")
    assert redo.exit_code == 0 and len(dst.read_text().splitlines()) == 3
    nbest = tmp_path / "out.nbest"
    args = ("translate", src, "-o", nbest, "--bundle", bundle(), "-q", "--output-format", "nbest",
            "--beam-size", 2, "--num-hypotheses", 2)
    assert run(*args).exit_code == 0
    assert "nothing to resume" in run(*args, "--resume").stderr  # 6 lines, 3 IDs: finished


def test_a_blank_jsonl_row_keeps_the_inputs_key(bundle, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"en": "I see the dog."}\n\n')
    result = run("translate", src, "--bundle", bundle(), "-q", "--field", "en", "--output-format", "jsonl")
    assert result.exit_code == 0, result.output
    first, blank = (json.loads(line) for line in result.stdout.splitlines())
    assert set(first) == set(blank) and blank["en"] == "" and "source" not in blank
