"""The runtime's tests read committed tiny bundles (tests/fixtures/bundles), so they run
in a runtime-only install, without torch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.make_bundles import BUNDLES, VARIANTS, variant_name
from tests.helpers import RESUME_LINES, resume_cli
from tests.toy import make_pairs


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """bundle(cell, seed_semantics, attention) → a copy of that committed bundle (a test
    may damage its copy; the committed one stays as it is)."""
    copies: dict[tuple, Path] = {}
    root = tmp_path_factory.mktemp("bundles")

    def get(cell: str = "gru", seed_semantics: bool = False, attention: str = "none") -> Path:
        key = (cell, seed_semantics, attention)
        if key not in VARIANTS:
            pytest.fail(f"no committed bundle {variant_name(*key)}; add it to VARIANTS in "
                        "tests/fixtures/make_bundles.py and run that script")
        if key not in copies:
            copies[key] = root / variant_name(*key)
            shutil.copytree(BUNDLES / variant_name(*key), copies[key])
        return copies[key]

    return get


@pytest.fixture(scope="session")
def trained():
    pytest.fail("tests/runtime must not train: use the committed bundles (the bundle fixture)")


@pytest.fixture(scope="module")
def job(bundle, tmp_path_factory):
    """(bundle, a 3,000-line input with blanks, its uninterrupted translation): what the
    resume tests stop and resume."""
    root = tmp_path_factory.mktemp("resume")
    src = root / "in.txt"
    lines = [en for en, _ in make_pairs(RESUME_LINES, seed=9)][:RESUME_LINES]
    lines[::97] = [""] * len(lines[::97])
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = root / "reference.txt"
    proc = subprocess.run(resume_cli(bundle(), src, reference), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return bundle(), src, reference.read_bytes()
