"""A wheelhouse that reaches a Kaggle session as another kernel's output (``kernel_sources``)
is found by provisioning in each mount layout, and a key from another image is refused with
the part that differs."""

from __future__ import annotations

import pytest

from envcheck.ops_target import Toolkit
from mapsage.provision import mmcv as provision
from mapsage.provision import wheelhouse
from mapsage.provision.mmcv import TorchFacts
from tests.stand_in_wheels import mmcv_wheel

KAGGLE_T4 = TorchFacts("2.10.0+cu128", "12.8", ((7, 5),), "3.12")
T4_TOOLKIT = Toolkit("/usr/local/cuda/bin/nvcc", "12.8", "/usr/local/cuda")  # Kaggle's image


def _bootstrap_output(folder, facts: TorchFacts):
    """What the bootstrap kernel leaves in /kaggle/working: mapsage-wheelhouse/<key>/..."""
    built = mmcv_wheel(folder.parent / "built", "cp312", cubins=[75])
    key = provision.wheel_key(facts, provision.ops_target(facts, T4_TOOLKIT, {}))
    return wheelhouse.store(built, key, folder / "mapsage-wheelhouse")


@pytest.mark.parametrize("mount", ["mapsage-bootstrap", "notebooks/alice/mapsage-bootstrap"])
def test_wheel_in_a_kernel_output_mount_is_planned(tmp_path, monkeypatch, mount):
    root = tmp_path / "kaggle"
    entry = _bootstrap_output(root / "input" / mount, KAGGLE_T4)
    (root / "working").mkdir()
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(root))
    monkeypatch.delenv("MAPSAGE_WHEELHOUSE", raising=False)
    steps, notes = provision.plan(KAGGLE_T4, provision.ops_target(KAGGLE_T4, T4_TOOLKIT, {}),
                                  installed=(False, "fresh image"),
                                  roots=provision.search_roots(), jobs=4, build_dir=tmp_path)
    assert [s.strategy for s in steps] == ["wheelhouse"], notes
    assert steps[0].command[-1] == str(entry.wheel)
    assert "--no-index" in steps[0].command


def test_a_wheel_for_another_image_is_refused_naming_the_difference(tmp_path, monkeypatch):
    root = tmp_path / "kaggle"
    _bootstrap_output(root / "input" / "mapsage-bootstrap", KAGGLE_T4)
    (root / "working").mkdir()
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(root))
    monkeypatch.delenv("MAPSAGE_WHEELHOUSE", raising=False)
    newer = TorchFacts("2.11.0+cu128", "12.8", ((7, 5),), "3.12")
    steps, notes = provision.plan(newer, provision.ops_target(newer, T4_TOOLKIT, {}),
                                  installed=(False, "fresh image"),
                                  roots=provision.search_roots(), jobs=4, build_dir=tmp_path)
    assert steps[-1].strategy == "source"
    assert any("refused" in n and "torch 2.10.0+cu128 (need 2.11.0+cu128)" in n for n in notes)
