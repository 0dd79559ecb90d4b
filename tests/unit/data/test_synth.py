import numpy as np
from PIL import Image

from mapsage.data.layout import find_loveda
from mapsage.data.synth import SynthSpec, generate


def test_layout_counts_and_mask_values(synthetic_root):
    layout = find_loveda(synthetic_root)
    spec = SynthSpec()
    for part in layout.parts:
        images = sorted(p.name for p in part.images.glob("*.png"))
        masks = sorted(p.name for p in part.masks.glob("*.png"))
        assert images == masks
        assert len(images) == (spec.train_per_domain if part.split == "train"
                               else spec.val_per_domain)
    values = set()
    for mask in synthetic_root.glob("*/*/masks_png/*.png"):
        array = np.asarray(Image.open(mask))
        assert array.shape == (spec.size, spec.size) and array.dtype == np.uint8
        values |= set(np.unique(array).tolist())
    assert values == set(range(8)), "all 7 classes and no-data (0) occur"


def test_same_spec_gives_identical_bytes(tmp_path):
    spec = SynthSpec(size=64, train_per_domain=2, val_per_domain=1, seed=3)
    a, b = generate(tmp_path / "a", spec, progress=None), generate(tmp_path / "b", spec, progress=None)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_other_seed_gives_other_tiles(tmp_path):
    a = generate(tmp_path / "a", SynthSpec(size=64, train_per_domain=1, val_per_domain=1),
                 progress=None)
    b = generate(tmp_path / "b", SynthSpec(size=64, train_per_domain=1, val_per_domain=1, seed=1),
                 progress=None)
    name = "Train/Urban/images_png/1000.png"
    assert (a / name).read_bytes() != (b / name).read_bytes()


def test_no_data_pixels_are_black_in_the_image(synthetic_root):
    for mask_path in sorted(synthetic_root.glob("Train/*/masks_png/*.png")):
        mask = np.asarray(Image.open(mask_path))
        if (mask == 0).any():
            image = np.asarray(Image.open(str(mask_path).replace("masks_png", "images_png")))
            assert (image[mask == 0] == 0).all()
            return
    raise AssertionError("no tile with a no-data band")
