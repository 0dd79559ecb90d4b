"""The mmcv wheelhouse and provisioning plan, on real wheels and real pip."""

from __future__ import annotations

from pathlib import Path

import pytest

from envcheck.ops_target import Toolkit
from mapsage.provision import mmcv as provision
from mapsage.provision import wheelhouse
from mapsage.provision.mmcv import TorchFacts

HERE = provision.probe_torch()  # this environment's torch: a CPU build, or PyPI's CUDA one
HERE_OPS = provision.ops_target(HERE)
NVCC_128 = Toolkit("/usr/local/cuda/bin/nvcc", "12.8", "/usr/local/cuda")


def test_key_mismatch_names_each_difference():
    mine = wheelhouse.WheelKey("2.1.0", "cp311", "2.13.0+cpu", "cpu")
    other = wheelhouse.WheelKey("2.1.0", "cp312", "2.10.0+cu128", "12.8", "7.5")
    assert mine.mismatch(mine) == []
    assert mine.mismatch(other) == ["python_tag cp312 (need cp311)",
                                    "torch 2.10.0+cu128 (need 2.13.0+cpu)", "cuda 12.8 (need cpu)"]
    t4 = wheelhouse.WheelKey("2.1.0", "cp312", "2.10.0+cu128", "12.8", "7.5")
    p100 = wheelhouse.WheelKey("2.1.0", "cp312", "2.10.0+cu128", "12.8", "6.0")
    assert t4.mismatch(p100) == ["built for CUDA archs 6.0 (need 7.5)"]


def test_stored_wheel_is_found_by_its_tags_and_other_torch_is_refused(cached_wheel, tmp_path):
    other = wheelhouse.WheelKey("2.1.0", cached_wheel.key.python_tag, "2.10.0+cu128", "12.8",
                                ops="cpu")
    wheelhouse.store(cached_wheel.wheel, other, tmp_path)
    hit, refused = wheelhouse.find(cached_wheel.key, [tmp_path])
    assert hit is None
    assert len(refused) == 1 and "torch 2.10.0+cu128 (need" in refused[0]
    wheelhouse.store(cached_wheel.wheel, cached_wheel.key, tmp_path)
    hit, _ = wheelhouse.find(cached_wheel.key, [tmp_path])
    assert hit is not None and hit.sha256 == cached_wheel.sha256
    assert (hit.wheel.parent / "dataset-metadata.json").is_file()


def test_a_corrupted_wheel_is_refused(cached_wheel, tmp_path):
    entry = wheelhouse.store(cached_wheel.wheel, cached_wheel.key, tmp_path)
    with open(entry.wheel, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0" * 16)
    hit, refused = wheelhouse.find(cached_wheel.key, [tmp_path])
    assert hit is None and "sha256 differs" in refused[0]


def test_installed_mmcv_is_detected_in_this_environment():
    ok, why = provision.installed_mmcv()
    assert ok, why


@pytest.mark.parametrize(("gpu", "capability", "arch"), [("T4", (7, 5), "7.5"),
                                                         ("P100", (6, 0), "6.0")])
def test_source_build_command_for_kaggle_gpus(gpu, capability, arch, tmp_path):
    facts = TorchFacts("2.10.0+cu128", "12.8", (capability,))
    target = provision.ops_target(facts, NVCC_128, {})
    steps, notes = provision.plan(facts, target, installed=(False, "absent"), roots=[tmp_path],
                                  jobs=4, build_dir=tmp_path / "out", python="/usr/bin/python3")
    assert [s.strategy for s in steps] == ["source", "source", "source"]
    assert steps[0].command[-2:] == ["setuptools<82", "wheel"]
    assert steps[1].command[-2:] == ["install", "ninja"]
    build = steps[2]
    assert build.env == {"MMCV_WITH_OPS": "1", "MAX_JOBS": "4", "FORCE_CUDA": "1",
                         "TORCH_CUDA_ARCH_LIST": arch, "PATH": build.env["PATH"]}
    assert build.env["PATH"].startswith("/usr/bin:"), "the interpreter's bin (ninja) first"
    assert build.command == ["/usr/bin/python3", "-m", "pip", "wheel", "--no-build-isolation",
                             "--no-deps", "--no-cache-dir", "--no-binary", "mmcv",
                             "--require-hashes", "-w", str(tmp_path / "out"),
                             "-r", str(tmp_path / "out" / "requirements" / "mmcv-sdist.txt")]
    assert any("no mmcv 2.1.0 wheel for torch 2.10.0+cu128" in n for n in notes)


def test_prebuilt_index_is_used_where_openmmlab_has_a_wheel(tmp_path):
    facts = TorchFacts("2.1.0+cu121", "12.1", ((7, 5),), "3.11")  # OpenMMLab: 3.8-3.11
    target = provision.ops_target(facts, Toolkit("nvcc", "12.1"), {})
    steps, _ = provision.plan(facts, target, installed=(False, "absent"), roots=[tmp_path],
                              jobs=2, build_dir=tmp_path, python="python")
    assert [s.strategy for s in steps] == ["prebuilt"]
    assert "https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html" in steps[0].command


def test_no_build_refuses_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("MAPSAGE_WHEELHOUSE", str(tmp_path))
    monkeypatch.setattr(provision, "probe_torch", lambda python=None: HERE)
    monkeypatch.setattr(provision, "installed_mmcv", lambda python=None, target=None: (False, "absent"))
    with pytest.raises(provision.MapSageError, match="--no-build was given"):
        provision.provision(allow_build=False, log=lambda *_: None)
    assert not list(Path(tmp_path).iterdir())


def test_dry_run_prints_the_plan_without_changing_anything(capsys):
    assert provision.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "installed - mmcv 2.1.0 with compiled ops is installed" in out
