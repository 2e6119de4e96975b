"""Checkpoints and corpora from elsewhere: a checkpoint that holds code runs nothing,
old numpy tables still load, and a bad corpus or a failed resume leaves no damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")


class _RunsCode:
    """Unpickling this would create the marker file: what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_holds_code_is_refused_and_runs_nothing(tmp_path):
    from s2s_batch.export.cli import main as s2s_export
    from s2s_batch.train.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": 1, "config": {}, "payload": _RunsCode(marker)}, evil)
    with pytest.raises(ValueError, match="holds more than data"):
        load_checkpoint(evil)
    result = CliRunner().invoke(s2s_export, [str(evil), "-o", str(tmp_path / "bundle")])
    assert result.exit_code == 4 and len(result.output.strip().splitlines()) == 1
    assert "holds more than data" in result.output
    assert not marker.exists() and not (tmp_path / "bundle").exists()


def test_checkpoints_with_numpy_tables_still_load(trained):
    from s2s_batch.train.checkpoint import load_checkpoint

    *_, payload = load_checkpoint(trained())
    assert isinstance(payload["lexicon"]["offsets"], np.ndarray)


def _train(tmp_path: Path, data: Path):
    from s2s_batch.train.cli import main as s2s_train

    out = tmp_path / "run"
    result = CliRunner().invoke(s2s_train, ["--data", str(data), "--out", str(out), "--quiet",
                                            "--epochs", "1", "--hidden-size", "8", "--embed-size", "8"])
    return result, out


@pytest.mark.parametrize("content,expected", [
    (b"Hello.\tBonjour.\nno tab on this line\n", ":2: has no tab; each line must be English, a tab, then French"),
    (b"Hello.\tBonjour.\n\tVide.\n", ":2: has an empty side"),
    (b"Hello.\tBonjour.\nCaf\xe9.\tCaf\xe9.\n", ":2: not UTF-8 (byte 4 of the line); convert the corpus to UTF-8"),
    (b"", ": no sentence pairs (the file is empty or blank)"),
    (b"\n\n  \n", ": no sentence pairs (the file is empty or blank)"),
    (b"Hello.\tBonjour.\nThanks.\tMerci.\n", "leave the dev split empty"),
], ids=["no-tab", "empty-side", "latin-1", "empty", "blank", "smaller-than-split"])
def test_a_bad_corpus_is_one_line_naming_file_and_line_and_leaves_no_folder(tmp_path, content, expected):
    data = tmp_path / "corpus.tsv"
    data.write_bytes(content)
    result, out = _train(tmp_path, data)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(f"s2s-train: {data}") and expected in result.output
    assert not out.exists()


def test_a_missing_corpus_is_one_line_and_leaves_no_folder(tmp_path):
    result, out = _train(tmp_path, tmp_path / "nowhere.tsv")
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.startswith(f"s2s-train: corpus not found: {tmp_path / 'nowhere.tsv'}; ")
    assert "manythings.org/anki" in message and "\n" not in message  # where the data comes from
    assert not out.exists()


def test_a_failed_resume_keeps_the_existing_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    from s2s_batch.train.cli import main as s2s_train

    result = CliRunner().invoke(s2s_train, ["--data", str(tmp_path / "nowhere.tsv"), "--out", str(out),
                                            "--quiet"])
    assert result.exit_code == 2 and (out / "notes.txt").read_text() == "mine"


def test_s2s_train_and_s2s_export_show_their_version_and_choices():
    from click.testing import CliRunner

    from s2s_batch.export.cli import main as export_main
    from s2s_batch.train.cli import main as train_main

    for entry, name in ((train_main, "s2s-train"), (export_main, "s2s-export")):
        assert CliRunner().invoke(entry, ["--version"], prog_name=name).output.startswith(f"{name}, version ")
    help_text = CliRunner().invoke(train_main, ["--help"]).output
    assert "--cell [rnn|gru|lstm]" in help_text and "--curriculum [none|length|rarity]" in help_text
    bad = CliRunner().invoke(train_main, ["--data", "x", "--out", "y", "--cell", "transformer"])
    assert bad.exit_code == 2 and "'transformer' is not one of" in bad.output
