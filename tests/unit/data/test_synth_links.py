"""The synthetic data set is written through mapsage.safe_write: a symbolic link planted at a
tile's or the manifest's name is replaced, never written through."""

from __future__ import annotations

import json

from mapsage.data.synth import MANIFEST, SynthSpec, generate

VICTIM = "the victim's own content\n"


def test_generate_never_writes_through_a_link(tmp_path):
    out, outside = tmp_path / "synthetic", tmp_path / "outside"
    tiles = out / "Train" / "Urban" / "images_png"
    tiles.mkdir(parents=True)
    outside.mkdir()
    (outside / "victim").write_text(VICTIM)
    spec = SynthSpec(size=32, train_per_domain=2, val_per_domain=1)
    first_tile = spec.files("Train", "Urban")[0]
    (tiles / first_tile).symlink_to(outside / "victim")
    (out / MANIFEST).symlink_to(outside / "dangling")
    generate(out, spec, progress=None)
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "nothing created outside"
    assert (outside / "victim").read_text() == VICTIM
    assert not (tiles / first_tile).is_symlink() and (tiles / first_tile).stat().st_size > 0
    assert not (out / MANIFEST).is_symlink()
    assert json.loads((out / MANIFEST).read_text())["size"] == 32
