"""Bundles and atomically written files get the modes open() would give them, not the
0700/0600 of the temporary folders and files they are staged in: a bundle exported by one
user must be readable by the service that runs it."""

from __future__ import annotations

import os
import stat

import pytest

from s2s_batch.runtime.files.output import atomic_write

torch = pytest.importorskip("torch")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_exported_bundle_and_its_manifest_are_readable_by_others(trained, tmp_path, umask_022):
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.export.compute_types import add_compute_types
    from s2s_batch.train.checkpoint import load_checkpoint

    net, cfg, sv, tv, payload = load_checkpoint(trained("gru", False, "general+after"))
    root = tmp_path / "bundle"
    write_bundle(net, cfg, sv, tv, payload, root)
    assert _mode(root) == 0o755
    assert {p.name: _mode(p) for p in root.iterdir()} == {p.name: 0o644 for p in root.iterdir()}
    add_compute_types(root, ["int8"])  # rewrites the manifest through a staged file
    assert _mode(root / "manifest.json") == 0o644


def test_atomic_write_keeps_an_existing_mode_and_gives_new_files_the_umasks(tmp_path, umask_022):
    new = tmp_path / "new.txt"
    with atomic_write(new) as f:
        f.write(b"x")
    assert _mode(new) == 0o644
    private = tmp_path / "private.txt"
    private.write_bytes(b"old")
    private.chmod(0o600)
    with atomic_write(private) as f:
        f.write(b"new")
    assert private.read_bytes() == b"new" and _mode(private) == 0o600


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_a_new_files_mode_follows_the_umask_and_reading_it_leaves_it_alone(tmp_path, mask):
    from s2s_batch.runtime.files.output import readable_mode

    old = os.umask(mask)
    try:
        assert readable_mode(0o666) == 0o666 & ~mask and readable_mode(0o777) == 0o777 & ~mask
        with atomic_write(tmp_path / f"{mask:o}.txt") as f:
            f.write(b"x")
        assert _mode(tmp_path / f"{mask:o}.txt") == 0o666 & ~mask
        assert os.umask(mask) == mask  # still the caller's
    finally:
        os.umask(old)
