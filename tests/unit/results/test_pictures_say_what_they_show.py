"""Issue 21: the pictures say which split and checkpoint they show, and predictions.png draws
the label maps in the legend's own colours (unblended) beside the blend. Real matplotlib."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mapsage.results import plots

CLASSES = ("background", "building", "road", "water", "barren", "forest", "agricultural")
PALETTE = [[255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 0, 255], [159, 129, 183],
           [0, 255, 0], [255, 195, 128]]


def _share(picture: np.ndarray, colour) -> float:
    return float(np.all(picture == np.asarray(colour, np.uint8), axis=-1).mean())


def test_label_maps_are_drawn_in_the_legends_colours(tmp_path):
    image = np.full((64, 64, 3), 128, np.uint8)  # grey: any blend shifts the colours
    truth = np.full((64, 64), 3, np.uint8)  # water
    pred = np.full((64, 64), 1, np.uint8)  # building
    path = plots.prediction_overlays([("tile.png", image, truth, pred)], CLASSES, PALETTE,
                                     tmp_path / "predictions.png")
    picture = np.asarray(Image.open(path).convert("RGB"))
    # each label map fills a panel of about a fifth of the figure in its exact legend colour
    assert _share(picture, PALETTE[3]) > 0.05, "ground truth (water) unblended"
    assert _share(picture, PALETTE[1]) > 0.05, "prediction (building) unblended"
    blend = ((1 - plots.OVERLAY_ALPHA) * 128 + plots.OVERLAY_ALPHA * np.asarray(PALETTE[1]))
    assert _share(picture, blend.astype(np.uint8)) > 0.05, "and the blend beside it"


def test_pictures_carry_the_split_and_checkpoint(tmp_path):
    source = "LoveDA Val (6 images); final evaluation, iteration 20 (iter_20.pth)"
    path = plots.confusion_matrix(np.eye(7, dtype=int).tolist(), CLASSES,
                                  tmp_path / "confusion_matrix.png", source=source)
    assert Image.open(path).info["Description"] == source
    image = np.zeros((32, 32, 3), np.uint8)
    labels = np.zeros((32, 32), np.uint8)
    shown = "LoveDA Val (6 images), first 1 tiles; best checkpoint, iteration 8"
    path = plots.prediction_overlays([("t.png", image, labels, labels)], CLASSES, PALETTE,
                                     tmp_path / "predictions.png", source=shown)
    assert Image.open(path).info["Description"] == shown
