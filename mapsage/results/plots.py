"""Pictures of a run: the training curve, the confusion matrix and image / ground truth /
prediction rows, in the run's own classes and palette (any number of classes)."""

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


def save(fig, path: str | Path, dpi: int, description: str | None = None) -> None:
    """Write ``fig`` as a PNG to ``path`` (atomically, never through a symbolic link:
    :mod:`mapsage.safe_write`) and close it; ``description`` also goes into the PNG's
    ``Description`` text (what the picture shows, readable by programs)."""
    metadata = {"Description": description} if description else None
    try:
        with replacing(path) as fh:
            fig.savefig(fh, format="png", dpi=dpi, metadata=metadata)
    finally:
        plt.close(fig)


def colourise(labels: np.ndarray, palette: Sequence[Sequence[int]],
              ignore_index: int = IGNORE) -> np.ndarray:
    """Class indices (0..N-1; ``ignore_index`` = not scored, no data) to an RGB image with the
    data set's palette (the ignored value, and any value no class has, in the no-data colour)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = NO_DATA_COLOUR
    lut[: len(palette)] = np.asarray(palette, np.uint8).reshape(-1, 3)
    if ignore_index >= len(palette):
        lut[ignore_index] = NO_DATA_COLOUR
    return lut[np.clip(labels, 0, 255).astype(np.uint8)]


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


PREDICTION_COLUMNS = ("image", "ground truth", "prediction", "prediction over the image")


def prediction_overlays(samples: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                        classes: Sequence[str], palette: Sequence[Sequence[int]],
                        path: str | Path, alpha: float = OVERLAY_ALPHA,
                        source: str | None = None, ignore_index: int = IGNORE) -> Path:
    """One row per sample: the image, the ground truth and the prediction in the legend's own
    colours (unblended), and the prediction blended over the image; ``source`` (which
    checkpoint on which split) as the figure's title. The legend lists every class of the
    data set (``classes``, ``palette``) and the ignored value."""
    if len(classes) != len(palette):
        raise ValueError(f"{len(classes)} classes but {len(palette)} palette colours")
    rows = len(samples)
    top = 0.5 if source else 0.0
    fig, axes = plt.subplots(rows, len(PREDICTION_COLUMNS),
                             figsize=(12, 3.3 * rows + 0.7 + top), squeeze=False)
    for row, (name, image, truth, pred) in zip(axes, samples, strict=True):
        truth_rgb = colourise(truth, palette, ignore_index)
        pred_rgb = colourise(pred, palette, ignore_index)
        pictures = (image, truth_rgb, pred_rgb,
                    ((1 - alpha) * image + alpha * pred_rgb).astype(np.uint8))
        for ax, picture, title in zip(row, pictures, PREDICTION_COLUMNS, strict=True):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(f"{name}" if title == "image" else title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])  # the frame stays: white (background) label areas keep an edge
            for spine in ax.spines.values():
                spine.set_color("0.6")
    handles = [Patch(facecolor=np.asarray(c) / 255, edgecolor="0.4", label=n)
               for n, c in zip(classes, palette, strict=True)]
    handles.append(Patch(facecolor=np.asarray(NO_DATA_COLOUR) / 255, edgecolor="0.4",
                         label=f"no-data (ignored, {ignore_index})"))
    columns = min(len(handles), 6)
    legend_rows = -(-len(handles) // columns)
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8, frameon=False)
    if source:
        fig.suptitle(source, fontsize=10)
    legend_height = 0.25 + 0.22 * legend_rows  # inches under the rows for the legend
    fig.set_figheight(fig.get_figheight() - 0.7 + legend_height)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=legend_height / height,
                        top=1 - (0.3 + top) / height, wspace=0.05, hspace=0.15)
    save(fig, path, dpi=100, description=source)
    return Path(path)


def confusion_matrix(matrix: Sequence[Sequence[int]], classes: Sequence[str],
                     path: str | Path, source: str | None = None) -> Path:
    """Row-normalised confusion matrix (each ground-truth class sums to 100 %); ``source``
    (which split, which iteration's checkpoint) under the title."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) * 100
    n = len(classes)
    if counts.shape != (n, n):
        raise ValueError(f"a {counts.shape} confusion matrix for {n} classes")
    side = max(6.4, 1.6 + 0.42 * n)  # room for every class's label, any count
    fig, ax = plt.subplots(figsize=(side, side * 0.875))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    title = "confusion matrix (% of each row)" + (f"\n{source}" if source else "")
    ax.set(xlabel="prediction", ylabel="ground truth")
    ax.set_title(title, fontsize=10)
    for i in range(n if n <= 30 else 0):  # beyond 30 classes the colours say it
        for j in range(n):
            if counts[i].sum():
                ax.text(j, i, f"{share[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 60 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    save(fig, path, dpi=110, description=source)
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
