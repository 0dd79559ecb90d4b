"""Pictures of a run: the training curve and image / ground truth / prediction overlays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; the notebook displays the PNGs
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from mapsage.safe_write import replacing
from mapsage.training.predict import OVERLAY_ALPHA  # one blend for every overlay

IGNORE = 255
NO_DATA_COLOUR = (0, 0, 0)


def save(fig, path: str | Path, dpi: int) -> None:
    """Write ``fig`` as a PNG to ``path`` (atomically, never through a symbolic link:
    :mod:`mapsage.safe_write`) and close it."""
    try:
        with replacing(path) as fh:
            fig.savefig(fh, format="png", dpi=dpi)
    finally:
        plt.close(fig)


def colourise(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """Class indices (0..N-1, 255 = no-data) to an RGB image with the data set's palette."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette, np.uint8)
    lut[IGNORE] = NO_DATA_COLOUR
    return lut[labels.astype(np.uint8)]


def training_curve(metrics: dict, path: str | Path) -> Path:
    train = metrics["history"]["train"]
    val = metrics["history"]["val"]
    fig, (ax_loss, ax_iou) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax_loss.plot([r["iteration"] for r in train], [r["loss"] for r in train], color="tab:red")
    ax_loss.set(title="training loss", xlabel="iteration", ylabel="loss")
    ax_loss.grid(alpha=0.3)
    ax_iou.plot([r["iteration"] for r in val], [r["mIoU"] for r in val], "o-", label="mIoU")
    ax_iou.plot([r["iteration"] for r in val], [r["aAcc"] for r in val], "s--", label="aAcc")
    ax_iou.set(title="validation", xlabel="iteration", ylabel="%", ylim=(0, 100))
    ax_iou.grid(alpha=0.3)
    ax_iou.legend(loc="lower right")
    fig.tight_layout()
    save(fig, path, dpi=110)
    return Path(path)


def prediction_overlays(samples: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                        classes: Sequence[str], palette: Sequence[Sequence[int]],
                        path: str | Path, alpha: float = OVERLAY_ALPHA) -> Path:
    """One row per sample: image, ground truth over the image, prediction over the image."""
    rows = len(samples)
    fig, axes = plt.subplots(rows, 3, figsize=(9.5, 3.1 * rows + 0.6), squeeze=False)
    for row, (name, image, truth, pred) in zip(axes, samples, strict=True):
        row[0].imshow(image)
        row[0].set_title(name, fontsize=9)
        for ax, labels, title in ((row[1], truth, "ground truth"), (row[2], pred, "prediction")):
            blend = (1 - alpha) * image + alpha * colourise(labels, palette)
            ax.imshow(blend.astype(np.uint8))
            ax.set_title(title, fontsize=9)
        for ax in row:
            ax.axis("off")
    handles = [Patch(facecolor=np.asarray(c) / 255, edgecolor="0.4", label=n)
               for n, c in zip(classes, palette, strict=True)]
    handles.append(Patch(facecolor=np.asarray(NO_DATA_COLOUR) / 255, edgecolor="0.4",
                         label="no-data (ignored)"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save(fig, path, dpi=100)
    return Path(path)


def confusion_matrix(matrix: Sequence[Sequence[int]], classes: Sequence[str],
                     path: str | Path) -> Path:
    """Row-normalised confusion matrix (each ground-truth class sums to 100 %)."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) * 100
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="prediction", ylabel="ground truth", title="confusion matrix (% of each row)")
    for i in range(len(classes)):
        for j in range(len(classes)):
            if counts[i].sum():
                ax.text(j, i, f"{share[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 60 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    save(fig, path, dpi=110)
    return Path(path)


def compare_curves(runs: Sequence[tuple[str, dict]], path: str | Path) -> Path:
    """Training loss and validation mIoU of several runs on shared axes."""
    fig, (ax_loss, ax_iou) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, metrics in runs:
        train, val = metrics["history"]["train"], metrics["history"]["val"]
        ax_loss.plot([r["iteration"] for r in train], [r["loss"] for r in train], label=name)
        ax_iou.plot([r["iteration"] for r in val], [r["mIoU"] for r in val], "o-", label=name)
    ax_loss.set(title="training loss", xlabel="iteration", ylabel="loss")
    ax_iou.set(title="validation mIoU", xlabel="iteration", ylabel="%", ylim=(0, 100))
    for ax in (ax_loss, ax_iou):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save(fig, path, dpi=110)
    return Path(path)
