"""Where a training run's data came from, recorded in the checkpoint and the bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from s2s_batch.runtime.manifest import sha256_of

# Used when the corpus folder has no _about.txt to quote.
DEFAULT_ATTRIBUTION = ("Tatoeba project (tatoeba.org) via manythings.org/anki, "
                       "licence CC-BY 2.0 FR")


def attribution_for(data_path: Path) -> str:
    """The corpus's own attribution (its _about.txt 'Attribution:' line), else the default."""
    about = Path(data_path).parent / "_about.txt"
    if about.is_file():
        for line in about.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip().lower().startswith("attribution:"):
                return (f"{line.split(':', 1)[1].strip()}; licence CC-BY 2.0 FR "
                        "(creativecommons.org/licenses/by/2.0); see _about.txt of the corpus")
    return DEFAULT_ATTRIBUTION


def data_provenance(data_path: Path) -> dict:
    """File name, sha256 and attribution of the corpus, and the command that trained on it."""
    data_path = Path(data_path)
    return {
        "file": data_path.name,
        "sha256": sha256_of(data_path),
        "attribution": attribution_for(data_path),
        "command": " ".join(["s2s-train", *sys.argv[1:]]),
    }
