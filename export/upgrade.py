"""Bring an older bundle's manifest to today's revision, its graphs untouched:

    python -m s2s_batch.export.upgrade BUNDLE_DIR

Revision 4 manifests list each graph's optional inputs (runtime/bundle/manifest.py); a
bundle of revisions 1-3 is read from its checked graphs and its manifest rewritten. The
graphs, vocabularies and their checksums stay as they are, so a bundle is not copied
again (the default's graphs are 28 MB). Needs onnx, not torch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from s2s_batch.export.graph_io import read_graph_io
from s2s_batch.runtime.bundle.manifest import MANIFEST, OPTIONAL_INPUTS_SINCE, REVISION, load_manifest
from s2s_batch.runtime.errors import BundleError


def upgrade_manifest(bundle_dir: Path) -> tuple[int, int]:
    """Rewrite `bundle_dir`'s manifest at REVISION (checksums verified first); returns
    (revision before, revision after). A bundle already at REVISION is left alone."""
    manifest = load_manifest(bundle_dir)
    before = manifest.revision
    if before == REVISION:
        return before, before
    data = dict(manifest.data)
    if before < OPTIONAL_INPUTS_SINCE:
        data["graphs"] = {role: {**entry, "optional_inputs": read_graph_io(manifest.path(entry["file"]))
                                 ["optional_inputs"]}
                          for role, entry in data["graphs"].items()}
    data["revision"] = REVISION
    data["upgraded_from_revision"] = before
    path = manifest.root / MANIFEST
    staged = path.with_name(MANIFEST + ".upgrading")
    staged.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staged, path)
    load_manifest(bundle_dir)  # the result reads as any bundle does
    return before, REVISION


def main(argv: list[str] | None = None) -> int:
    """Upgrade each bundle folder named on the command line; exit 4 on a bad bundle."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    for folder in args:
        try:
            before, after = upgrade_manifest(Path(folder))
        except BundleError as exc:
            print(f"s2s_batch.export.upgrade: {exc}", file=sys.stderr)
            return 4
        print(f"{folder}: revision {before} → {after}" if before != after else f"{folder}: already revision {after}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
