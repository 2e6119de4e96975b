"""A checkpoint packed for a small pipe: weights only, in float16, cut into parts.

The GPU machine lent to some sessions returns at most 8 files of 16 MiB (64 MiB in all),
and a teacher's checkpoint with its optimizer state is several times that. `pack` keeps
all but the state for resuming (optimizer, schedule, random state): what export,
`--init-from` and distillation need. It stores the weights in float16 (the unpacked fp32
weights differ from the trained ones by float16 rounding, a relative 2^-11) and cuts the
file into parts with a small JSON index holding their sha256; `unpack` checks every part and writes
an ordinary fp32 checkpoint, read without running code like any other.

    python -m s2s_batch.train.transport pack runs/teacher/averaged.pt OUTDIR
    python -m s2s_batch.train.transport unpack OUTDIR runs/teacher-gpu/averaged.pt
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import torch

from s2s_batch.runtime.files.output import atomic_write
from s2s_batch.train.checkpoint import read_payload

PART_BYTES = 15 * 2**20  # under the device's 16 MiB a file
INDEX = "checkpoint.parts.json"
# The trainer's state for resuming (train/trainer.py), which export, --init-from and
# distillation do not read; everything else in the checkpoint travels.
TRAINING_STATE = ("optimizer", "schedule", "torch_rng")


def pack(checkpoint: Path, out_dir: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Write the checkpoint's weights-only float16 form to out_dir as parts and an index;
    returns the paths written (the index last)."""
    payload = read_payload(Path(checkpoint))
    kept = {key: value for key, value in payload.items() if key not in TRAINING_STATE}
    kept["model"] = {name: t.half() if t.is_floating_point() else t for name, t in payload["model"].items()}
    buffer = io.BytesIO()
    torch.save(kept, buffer)
    data = buffer.getvalue()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, parts = [], []
    for number, start in enumerate(range(0, len(data), part_bytes)):
        chunk = data[start:start + part_bytes]
        path = out_dir / f"checkpoint.part-{number:02d}"
        path.write_bytes(chunk)
        written.append(path)
        parts.append({"file": path.name, "sha256": hashlib.sha256(chunk).hexdigest()})
    index = out_dir / INDEX
    index.write_text(json.dumps({"source": Path(checkpoint).name, "bytes": len(data), "parts": parts}),
                     encoding="utf-8")
    return [*written, index]


def unpack(parts_dir: Path, out: Path) -> Path:
    """Join and check the parts that `pack` wrote in parts_dir; write an fp32 checkpoint to out."""
    parts_dir = Path(parts_dir)
    index_path = parts_dir / INDEX
    if not index_path.is_file():
        raise ValueError(f"{parts_dir}: no {INDEX}; pass the folder `pack` wrote")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    chunks = []
    for part in index["parts"]:
        name = Path(part["file"]).name  # a bare name: nothing outside the folder is read
        path = parts_dir / name
        if not path.is_file():
            raise ValueError(f"{path}: missing; copy every part `pack` wrote")
        chunk = path.read_bytes()
        if hashlib.sha256(chunk).hexdigest() != part["sha256"]:
            raise ValueError(f"{path}: its sha256 differs from the index; the part is damaged")
        chunks.append(chunk)
    data = b"".join(chunks)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:
        f.write(data)
    payload = read_payload(out)  # weights-only unpickling, as for any checkpoint
    payload["model"] = {name: t.float() if t.is_floating_point() else t for name, t in payload["model"].items()}
    with atomic_write(out) as f:
        torch.save(payload, f)
    return out


def main(argv: list[str] | None = None) -> None:
    """`pack CHECKPOINT OUTDIR` or `unpack PARTSDIR CHECKPOINT`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ("pack", "unpack"):
        sys.exit("usage: python -m s2s_batch.train.transport pack CHECKPOINT OUTDIR | unpack PARTSDIR CHECKPOINT")
    try:
        if args[0] == "pack":
            written = pack(Path(args[1]), Path(args[2]))
            print(f"wrote {len(written) - 1} parts and {INDEX} to {args[2]}")
        else:
            print(f"wrote {unpack(Path(args[1]), Path(args[2]))}")
    except ValueError as exc:
        sys.exit(f"transport: {exc}")


if __name__ == "__main__":
    main()
