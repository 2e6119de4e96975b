"""The training-curves figure written after each epoch."""

from __future__ import annotations

from pathlib import Path

from s2s_batch.runtime.cli.plots import pyplot


def training_curves(history: list[dict], path: Path) -> None:
    """Train and dev loss, and dev BLEU, per epoch."""
    plt = pyplot()
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig, (loss_ax, bleu_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, label in (("train_loss", "train loss"), ("dev_loss", "dev loss")):
        if all(key in h for h in history):
            loss_ax.plot(epochs, [h[key] for h in history], marker="o", label=label)
    loss_ax.set_xlabel("epoch")
    loss_ax.legend()
    bleu_ax.plot(epochs, [h.get("dev_bleu", 0.0) for h in history], marker="o", color="C2")
    bleu_ax.set_xlabel("epoch")
    bleu_ax.set_ylabel("dev BLEU (sacreBLEU)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
