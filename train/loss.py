"""The seed's masked softmax cross-entropy."""

from __future__ import annotations

import torch
from torch import nn


def sequence_mask(valid_len: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) float mask, 1 where position < valid_len."""
    positions = torch.arange(width, device=valid_len.device)
    return (positions[None, :] < valid_len[:, None]).float()


class MaskedSoftmaxCELoss(nn.Module):
    """Per-token cross-entropy, zeroed past each valid length, mean over the time axis.

    Returns one loss per sequence (B,), as the seed does; the trainer sums them. With
    label_smoothing > 0 the target distribution puts that mass uniformly on all tokens.
    """

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor):
        per_token = nn.functional.cross_entropy(logits.permute(0, 2, 1), label, reduction="none",
                                                label_smoothing=self.label_smoothing)
        return (per_token * sequence_mask(valid_len, label.shape[1])).mean(dim=1)
