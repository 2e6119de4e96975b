"""PNG figures: an attention heatmap and training curves (matplotlib, imported on demand)."""

from __future__ import annotations

from pathlib import Path

from s2s_batch.runtime.errors import UsageError


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UsageError("drawing a PNG needs matplotlib; pip install 's2s-batch[explain]'") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def attention_heatmap(source: list[str], target: list[str], weights: list[list[float]],
                      path: Path) -> None:
    """Rows: target tokens; columns: source tokens; cell: the attention weight."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(source), 1.0 + 0.45 * len(target)))
    image = ax.imshow(weights, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=45, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def training_curves(history: list[dict], path: Path) -> None:
    """Train and dev loss, and dev BLEU, per epoch."""
    plt = _pyplot()
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
