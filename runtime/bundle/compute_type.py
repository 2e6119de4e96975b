"""CTranslate2's `compute_type`: which of a bundle's graphs run, by the type asked for.

A bundle's own graphs compute in its precision (fp32, the exact path, unless exported
with `--quantize`). A bundle may also carry graphs for other types (manifest
`compute_types`, export/compute_types.py): today int8, whose decoder step runs every
weight matmul in int8. "auto" takes the fastest type whose dev BLEU, measured at
export, is within AUTO_BLEU_MARGIN of the bundle's own.
"""

from __future__ import annotations

import dataclasses

from s2s_batch.runtime.bundle.manifest import Manifest
from s2s_batch.runtime.errors import UsageError

# CTranslate2's names → the precision names of bundles; int8_float32 is CTranslate2's
# spelling of int8 with float32 for the rest, which is what int8 is here.
PRECISION_OF = {"float32": "fp32", "int8": "int8", "int8_float32": "int8", "float16": "fp16", "bfloat16": "bf16"}
COMPUTE_TYPES = ("default", "auto", *PRECISION_OF)
NAME_OF = {"fp32": "float32", "int8": "int8", "fp16": "float16"}
# Fastest first on the CPU provider (bench/RESULTS.md: int8 1.3-1.4x the exact fp32 path).
CPU_SPEED_ORDER = ("int8", "float32")
AUTO_BLEU_MARGIN = 0.3
ADD_INT8 = "python -m s2s_batch.export.compute_types BUNDLE --add int8"


def _refuse(compute_type: str, why: str) -> UsageError:
    return UsageError(f"compute_type {compute_type!r}: {why}")


def _auto(manifest: Manifest, device: str) -> str:
    own = NAME_OF.get(manifest.precision, manifest.precision)
    if device != "cpu":
        return own
    own_bleu = manifest.compute_types.get(own, ({}, None))[1]
    dev = manifest.data.get("metrics", {}).get("compute_types_dev", {}) if isinstance(
        manifest.data.get("metrics"), dict) else {}
    if isinstance(dev, dict) and dev.get("same_corpus_as_training") is False:
        return own  # scored on another corpus's dev split: no basis for the choice
    for name in CPU_SPEED_ORDER:
        if name == own:
            return own
        bleu = manifest.compute_types.get(name, ({}, None))[1]
        if bleu is not None and own_bleu is not None and bleu >= own_bleu - AUTO_BLEU_MARGIN:
            return name
    return own


def select_compute_type(manifest: Manifest, compute_type: str, device: str) -> tuple[str, Manifest]:
    """(the compute type that will run, the manifest whose graphs run it). UsageError,
    naming the fix, for a type this bundle or device cannot run."""
    if compute_type not in COMPUTE_TYPES:
        raise _refuse(compute_type, f"unknown; use one of {', '.join(COMPUTE_TYPES)}")
    own = NAME_OF.get(manifest.precision, manifest.precision)
    if compute_type == "default":
        return own, manifest
    name = _auto(manifest, device) if compute_type == "auto" else ("int8" if compute_type == "int8_float32"
                                                                     else compute_type)
    if name == own:
        return own, manifest
    if name == "bfloat16":
        raise _refuse(compute_type, "onnxruntime has no bfloat16 matmul kernel for this CPU or for this "
                                    "bundle's graphs; use int8 (the fast type on CPU) or float32 (exact)")
    if name not in manifest.compute_types or not manifest.compute_types[name][0]:
        fix = f"add them with `{ADD_INT8}`" if name == "int8" else "export another bundle with s2s-export --quantize"
        raise _refuse(compute_type, f"this bundle has no {name} graphs (its own precision is {own}); {fix}, "
                                    "or pass compute_type='default'")
    if name == "int8" and device != "cpu":
        raise _refuse(compute_type, "the int8 graphs run on the CPU provider only; use --device cpu, or "
                                    "float32 on cuda")
    replaced, _ = manifest.compute_types[name]
    return name, dataclasses.replace(manifest, graphs={**manifest.graphs, **replaced}, precision=PRECISION_OF[name])
