"""Where a training run's data came from, recorded in the checkpoint and the bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from s2s_batch.runtime.bundle.manifest import sha256_of

UNKNOWN = "unknown"


def _about_lines(data_path: Path) -> list[str]:
    about = Path(data_path).parent / "_about.txt"
    if not about.is_file():
        return []
    return about.read_text(encoding="utf-8", errors="replace").splitlines()


def attribution_for(data_path: Path) -> str:
    """The corpus's own attribution (the 'Attribution:' line of an _about.txt beside it,
    as manythings.org ships one), else "unknown"."""
    for line in _about_lines(data_path):
        if line.strip().lower().startswith("attribution:"):
            return line.split(":", 1)[1].strip()
    return UNKNOWN


def license_for(data_path: Path) -> str:
    """The licence an _about.txt beside the corpus links to (a creativecommons.org URL),
    else "unknown"."""
    for line in _about_lines(data_path):
        if "creativecommons.org/licenses/" in line:
            return line.strip()
    return UNKNOWN


def data_provenance(data_path: Path, attribution: str | None = None, license: str | None = None) -> dict:
    """File name, sha256, attribution and licence of the corpus, and the command that
    trained on it. The attribution and licence are the user's (s2s-train
    --data-attribution, --data-license), else what the corpus folder says, else
    "unknown": never a guess."""
    data_path = Path(data_path)
    return {
        "file": data_path.name,
        "sha256": sha256_of(data_path),
        "attribution": attribution or attribution_for(data_path),
        "license": license or license_for(data_path),
        "command": " ".join(["s2s-train", *sys.argv[1:]]),
    }
