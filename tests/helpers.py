"""Helpers the test modules share (plain functions and data; the fixtures live in the
conftest.py files): the CLI run in process, the resume tests' subprocess runs, and
bundle copies with an edited manifest."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from s2s_batch.runtime.bundle.manifest import MANIFEST
from s2s_batch.runtime.cli.main import main

LINES = ["I see the dog.", "", "   ", "She likes a big red car!", "We want the bread?",
         "unknownword zzz", "They eat the apple."]
RESUME_LINES = 3000  # the resume job's input: long enough to be killed mid-file


def run(*args, input=None, env=None):
    """The CLI in process; args may be paths or numbers."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)


def resume_cli(bundle_dir, src, dst, *extra) -> list[str]:
    """The translate command as a subprocess, slow enough to be stopped mid-file."""
    # one sentence at a time and small chunks make the run long enough to be killed mid-file
    return [sys.executable, "-m", "s2s_batch.runtime.cli.main", "translate", str(src), "-o", str(dst),
            "--bundle", str(bundle_dir), "--batch-size", "1", "--chunk-lines", "100", "--threads", "1",
            "-q", *extra]


def _default_sigint():
    # A job started in the background by a non-interactive shell inherits SIGINT ignored
    # (and Python then keeps ignoring it); the user's Ctrl-C case needs the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop_at(args, progress_file, target_lines, sig):
    """Run `args`, send `sig` once its progress file counts `target_lines`; (its exit
    code, its stderr)."""
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


def copy_bundle(bundle, tmp_path: Path) -> Path:
    """A copy of the default test bundle, to damage."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle(), copy)
    return copy


def list_file(root: Path, name: str, digest: str = "0" * 64) -> None:
    """List `name` in a bundle's manifest with `digest`."""
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"][name] = digest
    (root / MANIFEST).write_text(json.dumps(manifest))
