"""Checkpoints: weights, config, vocabularies and training state in one atomic file."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from s2s_batch.runtime.output import atomic_write
from s2s_batch.runtime.vocab import Vocab
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


def load_checkpoint(path: Path, device: str = "cpu"):
    """(model in eval mode, TrainConfig, src Vocab, tgt Vocab, the raw payload)."""
    try:
        payload = torch.load(Path(path), map_location=device, weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable s2s-train checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an s2s-train checkpoint of format {CHECKPOINT_FORMAT}")
    cfg = TrainConfig.from_dict(payload["config"])
    net = Seq2Seq(cfg.model).to(device)
    net.load_state_dict(payload["model"])
    net.eval()
    return net, cfg, Vocab(payload["src_vocab"]), Vocab(payload["tgt_vocab"]), payload
