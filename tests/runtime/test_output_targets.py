"""Where -o points: a device or a pipe is written as a stream, never replaced; a folder,
an empty name or the input itself is refused before any work (exit 2); an existing
file keeps its permissions. Every device and FIFO here is made in the test's own folder."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli.main import main

LINES = "I see the dog.\nShe likes a big red car!\n"


def run(bundle, *args):
    return CliRunner().invoke(main, ["translate", *map(str, args), "--bundle", str(bundle()), "-q"])


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text(LINES, encoding="utf-8")
    return path


def _device(path, major: int, minor: int):
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("no permission to make a device node here")
    return path


def test_a_character_device_is_written_not_replaced(bundle, source, tmp_path):
    null = _device(tmp_path / "null", 1, 3)  # what /dev/null is
    result = run(bundle, source, "-o", null)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat(null).st_mode)
    full = _device(tmp_path / "full", 1, 7)  # what /dev/full is: every write fails
    result = run(bundle, source, "-o", full)
    assert result.exit_code == 6 and "No space left" in result.output
    assert stat.S_ISCHR(os.stat(full).st_mode)
    assert run(bundle, source, "-o", null, "--resume").exit_code == 2


def test_a_fifo_reader_gets_the_translation(bundle, source, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = run(bundle, source, "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert len(got[0].decode().splitlines()) == 2
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("target", ["folder", "empty", "input", "link to input"])
def test_refused_before_any_work(bundle, source, tmp_path, target, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.txt").symlink_to(source)
    dst = {"folder": tmp_path, "empty": "", "input": source, "link to input": tmp_path / "link.txt"}[target]
    calls = []
    monkeypatch.setattr("s2s_batch.runtime.translator.Translator._search", lambda *a: calls.append(a))
    result = run(bundle, source, "-o", dst)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert not calls and source.read_text(encoding="utf-8") == LINES


def test_an_existing_output_keeps_its_mode_and_a_link_its_target(bundle, source, tmp_path):
    private = tmp_path / "private.txt"
    private.write_text("old\n")
    private.chmod(0o600)
    assert run(bundle, source, "-o", private).exit_code == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert len(private.read_text().splitlines()) == 2
    link = tmp_path / "link.txt"
    link.symlink_to(private)
    assert run(bundle, source, "-o", link).exit_code == 0
    assert link.is_symlink() and stat.S_IMODE(private.stat().st_mode) == 0o600
