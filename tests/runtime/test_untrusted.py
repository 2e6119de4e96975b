"""Bundles and runs from elsewhere: names and links that point outside the bundle folder,
graphs with external data, and two runs on one output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from s2s_batch.runtime.bundle.manifest import SRC_VOCAB_FILE, load_manifest, sha256_of
from s2s_batch.runtime.cli.main import main as s2s_batch
from s2s_batch.runtime.errors import BundleError, OutputError
from s2s_batch.runtime.files.output import FileJob, OutputLock
from tests.helpers import copy_bundle, list_file


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/hostname", "sub/file.txt", "..", ""])
def test_a_manifest_name_outside_the_folder_is_refused(bundle, tmp_path, name):
    root = copy_bundle(bundle, tmp_path)
    (tmp_path / "secret.txt").write_text("not yours")
    list_file(root, name, sha256_of(tmp_path / "secret.txt"))
    with pytest.raises(BundleError, match="not a plain file name"):
        load_manifest(root)
    result = CliRunner().invoke(s2s_batch, ["translate", "-", "--bundle", str(root), "-q"], input="Hi.\n")
    assert result.exit_code == 4 and "not a plain file name" in result.output


def test_a_symlink_out_of_the_folder_is_refused(bundle, tmp_path):
    root = copy_bundle(bundle, tmp_path)
    outside = tmp_path / "vocab-elsewhere.txt"
    shutil.move(root / SRC_VOCAB_FILE, outside)
    (root / SRC_VOCAB_FILE).symlink_to(outside)
    with pytest.raises(BundleError, match="symlink that leads out"):
        load_manifest(root)


def test_a_second_run_on_the_same_output_is_refused_at_once_naming_the_first(bundle, tmp_path):
    dst = tmp_path / "out.txt"
    src = tmp_path / "in.txt"
    src.write_text("I see the dog.\n")
    lock = OutputLock(dst)
    try:
        result = CliRunner().invoke(s2s_batch, ["translate", str(src), "-o", str(dst), "--bundle",
                                                str(bundle()), "-q"])
        assert result.exit_code == 6
        assert result.output.strip().splitlines() == [
            f"s2s-batch: error: {dst}: another run (pid {os.getpid()}) is writing this output; wait for it "
            "to finish, or write to another -o path"]
        assert not dst.exists()
    finally:
        lock.release()
    result = CliRunner().invoke(s2s_batch, ["translate", str(src), "-o", str(dst), "--bundle",
                                            str(bundle()), "-q"])
    assert result.exit_code == 0 and dst.read_text().count("\n") == 1
    assert not (tmp_path / ".out.txt.lock").exists()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path):
    dst = tmp_path / "out.txt"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from s2s_batch.runtime.files.output import OutputLock; "
        f"OutputLock(Path({str(dst)!r})); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(OutputError, match=f"pid {holder.pid}"):
        OutputLock(dst)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / ".out.txt.lock").exists()  # left behind, as SIGKILL leaves it
    lock = OutputLock(dst)
    assert (tmp_path / ".out.txt.lock").read_text().strip() == str(os.getpid())
    lock.release()


def test_the_folder_is_fsynced_after_the_final_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") and os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    job = FileJob(tmp_path / "out.txt", {"job": 1}, resume=False)
    job.write_chunk(b"line\n", 1)
    monkeypatch.setattr(os, "fsync", recording_fsync)
    job.commit()
    assert (tmp_path / "out.txt").read_bytes() == b"line\n"
    assert str(tmp_path) in synced
