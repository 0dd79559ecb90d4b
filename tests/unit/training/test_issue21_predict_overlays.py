"""Issue 21 asks for ``mapsage predict``'s overlays "drawn from both domains". Today they are the
first ``--overlays`` images in sorted path order, so on a LoveDA split every one is a Rural tile
(docs/recipes.md says so). The model is stood in for (every pixel class 0): what is tested is
which images get an overlay, not the segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mapsage.training import predict as predict_module

PALETTE = [[255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 0, 255], [159, 129, 183],
           [0, 255, 0], [255, 195, 128]]


@pytest.fixture()
def no_model(monkeypatch):
    import torch

    class Segmentor:
        dataset_meta = {"palette": PALETTE}

    def segment(image):
        width, height = Image.open(image).size
        return torch.zeros((height, width), dtype=torch.int64)

    monkeypatch.setattr(predict_module, "load_model", lambda *a, **k: (Segmentor(), "tiny"))
    monkeypatch.setattr(predict_module, "segmenter", lambda segmentor, options: segment)


# the checkpoint's folder (tmp_path) holds no saved config: LoveDA, as for a checkpoint without one


def _domains(synthetic_root, overlays) -> set[str]:
    where = {p.with_suffix(".png").name: p.parts[-3]
             for p in (synthetic_root / "Val").glob("*/images_png/*")}
    return {where[p.name] for p in overlays}


def test_every_image_is_labelled_and_the_overlays_are_counted(synthetic_root, tmp_path, no_model):
    result = predict_module.predict(tmp_path / "unused.pth", synthetic_root, tmp_path / "out",
                                    split="Val", overlays=2, progress=None)
    images = list((synthetic_root / "Val").glob("*/images_png/*.png"))
    assert len(result.labels) == len(images) and all(p.is_file() for p in result.labels)
    assert len(result.overlays) == 2 and all(p.is_file() for p in result.overlays)
    assert np.asarray(Image.open(result.labels[0])).max() == 1, "class 0 is written as 1"


@pytest.mark.xfail(strict=True, reason="issue 21, not done: overlays are the first N images in "
                   "sorted path order, all from Rural/ on a LoveDA split (mapsage/training/"
                   "predict.py); drop this mark when they are drawn from both domains")
def test_two_overlays_of_a_loveda_split_show_both_domains(synthetic_root, tmp_path, no_model):
    result = predict_module.predict(tmp_path / "unused.pth", synthetic_root, tmp_path / "out",
                                    split="Val", overlays=2, progress=None)
    assert _domains(synthetic_root, result.overlays) == {"Urban", "Rural"}
