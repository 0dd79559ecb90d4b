"""Issue 21 asks for ``mapsage predict``'s overlays "drawn from both domains": the images that
get one are taken in turn from each folder (LoveDA's Rural and Urban), so even two overlays show
both. The choice is made on the real image list ``find_images`` returns for a LoveDA split."""

from __future__ import annotations

from pathlib import Path

from mapsage.training.predict import find_images, overlay_choice


def test_two_overlays_of_a_loveda_split_show_both_domains(synthetic_root):
    images = find_images(synthetic_root, "Val")
    chosen = overlay_choice(images, 2)
    assert {images[i].parts[-3] for i in chosen} == {"Urban", "Rural"}
    assert chosen == sorted(chosen)


def test_one_folder_gives_its_first_images_and_counts_are_kept():
    images = [Path("d/a.png"), Path("d/b.png"), Path("d/c.png")]
    assert overlay_choice(images, 2) == [0, 1]
    assert overlay_choice(images, 10) == [0, 1, 2]
    assert overlay_choice(images, 0) == [] and overlay_choice([], 3) == []
    mixed = [Path("r/1"), Path("r/2"), Path("r/3"), Path("u/1")]
    assert overlay_choice(mixed, 3) == [0, 1, 3]
