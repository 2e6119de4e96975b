"""Checkpoints: weights, config, vocabularies and training state in one atomic file.

A checkpoint may come from anyone, so it is read with torch's weights-only unpickler:
tensors, plain containers, strings, numbers and bytes, plus numpy arrays (the lexical
table of checkpoints written before 2026-11-30), whose three types are allow-listed.
Nothing in a checkpoint can name a class or function to run; one that tries is refused.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from s2s_batch.runtime.bundle.tokens import Vocab
from s2s_batch.runtime.files.output import atomic_write
from s2s_batch.train.config import TrainConfig
from s2s_batch.train.model import Seq2Seq

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, net: Seq2Seq, cfg: TrainConfig, src_vocab: Vocab, tgt_vocab: Vocab,
                    **state) -> None:
    """Write the checkpoint to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "model": net.state_dict(),
        "src_vocab": src_vocab.idx_to_token,
        "tgt_vocab": tgt_vocab.idx_to_token,
        **state,
    }
    with atomic_write(path) as f:
        torch.save(payload, f)


# What a checkpoint may hold besides torch's own safe types: numpy arrays of numbers, and
# `bytes` (pickle protocol 2 writes an empty byte string as a call to it).
_SAFE_TYPES = [bytes, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
                *(type(np.dtype(t)) for t in ("int32", "int64", "float32", "float64", "bool"))]


def read_payload(path: Path, device: str = "cpu") -> dict:
    """The checkpoint's content, read without running code; ValueError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise ValueError(f"{path}: not an s2s-train checkpoint (not a torch zip archive); pass a "
                         "checkpoint.pt, best.pt or averaged.pt from an s2s-train run")
    try:
        with torch.serialization.safe_globals(_SAFE_TYPES):
            payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = f"it names {found.group(1)}" if found else "an object that is not data"
        raise ValueError(f"{path}: refused: the checkpoint holds more than data ({what}); "
                         "only checkpoints written by s2s-train can be read") from None
    except Exception as exc:  # noqa: BLE001 - any byte string reaches the unpickler
        raise ValueError(f"{path}: not a readable s2s-train checkpoint ({str(exc)[:160]}); "
                         "pass a checkpoint.pt, best.pt or averaged.pt from an s2s-train run") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an s2s-train checkpoint of format {CHECKPOINT_FORMAT}")
    return payload


def load_checkpoint(path: Path, device: str = "cpu"):
    """(model in eval mode, TrainConfig, src Vocab, tgt Vocab, the raw payload)."""
    payload = read_payload(path, device)
    cfg = TrainConfig.from_dict(payload["config"])
    net = Seq2Seq(cfg.model).to(device)
    net.load_state_dict(payload["model"])
    net.eval()
    return net, cfg, Vocab(payload["src_vocab"]), Vocab(payload["tgt_vocab"]), payload
