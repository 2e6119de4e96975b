"""Files from elsewhere and concurrent runs: checkpoints that hold code, bundles that point
outside their folder, two runs on one output, and bad training corpora."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from s2s_batch.runtime.cli import main as s2s_batch
from s2s_batch.runtime.errors import BundleError, OutputError
from s2s_batch.runtime.manifest import ENCODER_FILE, MANIFEST, SRC_VOCAB_FILE, load_manifest, sha256_of
from s2s_batch.runtime.output import FileJob, OutputLock

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


def _copy_bundle(bundle, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle(), copy)
    return copy


def _list_file(root: Path, name: str, digest: str = "0" * 64) -> None:
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"][name] = digest
    (root / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/hostname", "sub/file.txt", "..", ""])
def test_a_manifest_name_outside_the_folder_is_refused(bundle, tmp_path, name):
    root = _copy_bundle(bundle, tmp_path)
    (tmp_path / "secret.txt").write_text("not yours")
    _list_file(root, name, sha256_of(tmp_path / "secret.txt"))
    with pytest.raises(BundleError, match="not a plain file name"):
        load_manifest(root)
    result = CliRunner().invoke(s2s_batch, ["translate", "-", "--bundle", str(root), "-q"], input="Hi.\n")
    assert result.exit_code == 4 and "not a plain file name" in result.output


def test_a_symlink_out_of_the_folder_is_refused(bundle, tmp_path):
    root = _copy_bundle(bundle, tmp_path)
    outside = tmp_path / "vocab-elsewhere.txt"
    shutil.move(root / SRC_VOCAB_FILE, outside)
    (root / SRC_VOCAB_FILE).symlink_to(outside)
    with pytest.raises(BundleError, match="symlink that leads out"):
        load_manifest(root)


@pytest.mark.parametrize("location", ["weights.bin", "../weights.bin"])
def test_a_graph_with_external_data_is_refused(bundle, tmp_path, location):
    import onnx

    from s2s_batch.runtime.translator import Translator

    root = _copy_bundle(bundle, tmp_path)
    graph = onnx.load(str(root / ENCODER_FILE))
    onnx.save_model(graph, str(root / ENCODER_FILE), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    if location != "weights.bin":  # point the graph at a file outside the bundle
        shutil.move(root / "weights.bin", tmp_path / "weights.bin")
        graph = onnx.load(str(root / ENCODER_FILE), load_external_data=False)
        for tensor in graph.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(graph, str(root / ENCODER_FILE))
    _list_file(root, ENCODER_FILE, sha256_of(root / ENCODER_FILE))
    with pytest.raises(BundleError, match="onnxruntime cannot load it"):
        Translator(root, threads=1)


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
        "import sys, time; from pathlib import Path; from s2s_batch.runtime.output import OutputLock; "
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
    assert result.output.strip() == (f"s2s-train: corpus not found: {tmp_path / 'nowhere.tsv'}; pass "
                                     "--data PATH to a tab-separated English<TAB>French file, such as "
                                     "../shared/data/fra-eng/fra.txt")
    assert not out.exists()


def test_a_failed_resume_keeps_the_existing_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    from s2s_batch.train.cli import main as s2s_train

    result = CliRunner().invoke(s2s_train, ["--data", str(tmp_path / "nowhere.tsv"), "--out", str(out),
                                            "--quiet"])
    assert result.exit_code == 2 and (out / "notes.txt").read_text() == "mine"
