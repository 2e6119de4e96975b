"""Killed mid-file, the output path keeps its old content; --resume finishes it exactly."""

import json
import signal
import subprocess

import pytest

from tests.helpers import RESUME_LINES as N_LINES
from tests.helpers import resume_cli as cli
from tests.helpers import start_and_stop_at

KILL_FRACTIONS = [0.1, 0.35, 0.6, 0.85]
@pytest.mark.parametrize("fraction", KILL_FRACTIONS)
def test_sigkill_then_resume_equals_an_uninterrupted_run(job, tmp_path, fraction):
    bundle_dir, src, reference = job
    dst = tmp_path / "out.txt"
    dst.write_text("previous complete output\n")
    progress = tmp_path / ".out.txt.progress.json"
    code, _ = start_and_stop_at(cli(bundle_dir, src, dst), progress, int(fraction * N_LINES),
                                signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert dst.read_text() == "previous complete output\n"  # never a partial file
    done = json.loads(progress.read_text())["lines"]
    assert 0 < done < N_LINES
    proc = subprocess.run(cli(bundle_dir, src, dst, "--resume"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert dst.read_bytes() == reference
    assert not progress.exists() and not (tmp_path / ".out.txt.partial").exists()


def test_sigint_stops_cleanly_and_resumes(job, tmp_path):
    bundle_dir, src, reference = job
    dst = tmp_path / "out.txt"
    code, err = start_and_stop_at(cli(bundle_dir, src, dst), tmp_path / ".out.txt.progress.json",
                                  N_LINES // 2, signal.SIGINT)
    assert code == 130
    message = err.strip()
    assert "\n" not in message and "--resume" in message and "Traceback" not in message
    assert not dst.exists()
    # threads and batching never change a translation: a resume may change them
    proc = subprocess.run(cli(bundle_dir, src, dst, "--resume", "--threads", "1", "--batch-size", "7"),
                          capture_output=True, text=True)
    assert proc.returncode == 0 and dst.read_bytes() == reference


def test_resume_refuses_changed_decoding_options(job, tmp_path):
    bundle_dir, src, _ = job
    dst = tmp_path / "out.txt"
    start_and_stop_at(cli(bundle_dir, src, dst), tmp_path / ".out.txt.progress.json", 500,
                      signal.SIGKILL)
    for changed in (["--beam-size", "2"], ["--no-split-sentences"]):
        proc = subprocess.run(cli(bundle_dir, src, dst, "--resume", *changed), capture_output=True, text=True)
        assert proc.returncode == 2 and "rerun without --resume" in proc.stderr, changed


def test_resume_refuses_a_changed_input(job, tmp_path):
    bundle_dir, src, _ = job
    dst = tmp_path / "out.txt"
    start_and_stop_at(cli(bundle_dir, src, dst), tmp_path / ".out.txt.progress.json", 500,
                      signal.SIGKILL)
    changed = tmp_path / "in.txt"
    changed.write_text(src.read_text() + "one more line\n")
    proc = subprocess.run(cli(bundle_dir, changed, dst, "--resume"), capture_output=True, text=True)
    assert proc.returncode == 2 and "rerun without --resume" in proc.stderr


def test_resume_without_a_record_starts_from_the_beginning(job, tmp_path):
    bundle_dir, src, reference = job
    dst = tmp_path / "out.txt"
    proc = subprocess.run(cli(bundle_dir, src, dst, "--resume"), capture_output=True, text=True)
    assert proc.returncode == 0 and dst.read_bytes() == reference
