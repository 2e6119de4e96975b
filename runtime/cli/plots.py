"""PNG figures: an attention heatmap and training curves (matplotlib, imported on demand)."""

from __future__ import annotations

from pathlib import Path

from s2s_batch.runtime.errors import UsageError


def pyplot():
    """matplotlib.pyplot, imported on demand; UsageError naming the install if it is missing."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("drawing a PNG needs matplotlib; pip install matplotlib (or from the s2s-batch "
                         "clone, pip install '.[explain]')") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def attention_heatmap(source: list[str], target: list[str], weights: list[list[float]],
                      path: Path) -> None:
    """Rows: target tokens; columns: source tokens; cell: the attention weight."""
    plt = pyplot()
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
