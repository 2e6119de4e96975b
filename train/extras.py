"""The training extra's packages, checked before a command that needs them starts."""

from __future__ import annotations

import importlib.util
import sys

TRAIN_PACKAGES = ("torch", "onnx")


def require_train_extra(command: str) -> None:
    """Exit with one line (code 2) naming the install when torch or onnx is missing: a
    runtime-only install (`pip install .` from a clone) has neither."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        print(f"{command}: needs {' and '.join(missing)}, which a runtime-only install lacks; "
              "pip install torch==2.13.0 (a CPU wheel), then from the s2s-batch clone pip install '.[train]'",
              file=sys.stderr)
        sys.exit(2)
