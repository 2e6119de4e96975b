"""Killed mid-file, the output path keeps its old content; --resume finishes it exactly."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.toy import make_pairs

KILL_FRACTIONS = [0.1, 0.35, 0.6, 0.85]
N_LINES = 3000


@pytest.fixture(scope="module")
def job(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    src = root / "in.txt"
    lines = [en for en, _ in make_pairs(N_LINES, seed=9)][:N_LINES]
    lines[::97] = [""] * len(lines[::97])
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = root / "reference.txt"
    proc = subprocess.run(cli(bundle(), src, reference), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return bundle(), src, reference.read_bytes()


def cli(bundle_dir, src, dst, *extra):
    # one sentence at a time and small chunks make the run long enough to be killed mid-file
    return [sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", str(src), "-o", str(dst),
            "--bundle", str(bundle_dir), "--batch-size", "1", "--chunk-lines", "100", "--threads", "1",
            "-q", *extra]


def _default_sigint():
    # A job started in the background by a non-interactive shell inherits SIGINT ignored
    # (and Python then keeps ignoring it); the user's Ctrl-C case needs the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop_at(args, progress_file, target_lines, sig):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(progress_file.read_text())["lines"] >= target_lines:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be stopped"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err


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
