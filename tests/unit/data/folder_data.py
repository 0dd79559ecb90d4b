"""A tiny folder data set (not LoveDA) written with PIL: JPEG images, PNG masks, a dataset.yaml,
in one of the common shapes (``img_dir/<split>`` + ``ann_dir/<split>``, or ``<split>/images`` +
``<split>/masks``). For the data check's and the Kaggle first checks' tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("background", "roof", "tree")
SHAPES = {
    "img_dir": ("img_dir/{split}", "ann_dir/{split}"),
    "split": ("{split}/images", "{split}/masks"),
}


def folders(root: Path, shape: str, split: str) -> tuple[Path, Path]:
    images, masks = SHAPES[shape]
    return root / images.format(split=split), root / masks.format(split=split)


def write_dataset(root: Path, shape: str = "img_dir", *, counts=None, size: int = 16,
                  description: str | None = None) -> Path:
    """``root`` holding train (3), val (2) and test (2, no masks) pairs and a dataset.yaml
    (classes background/roof/tree, img_suffix .jpg, ignore_index 255). Masks hold every class
    value and some 255 (ignore)."""
    counts = counts or {"train": 3, "val": 2, "test": 2}
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        images, masks = folders(root, shape, split)
        images.mkdir(parents=True, exist_ok=True)
        if split != "test":
            masks.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(image).save(images / f"{split}_{index}.jpg", quality=90)
            if split != "test":
                mask = np.arange(size * size, dtype=np.uint8).reshape(size, size) % 3
                mask[0, 0] = 255
                Image.fromarray(mask).save(masks / f"{split}_{index}.png")
    (root / "dataset.yaml").write_text(description if description is not None else
                                       "name: roofs\nclasses: [background, roof, tree]\n"
                                       "img_suffix: .jpg\nseg_map_suffix: .png\n"
                                       "ignore_index: 255\n")
    return root
