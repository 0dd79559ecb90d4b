"""Kaggle rehearsal of the first push (issue 13): the bootstrap kernel leaves a wheelhouse and
``bootstrap.json``; the training kernel finds that wheelhouse through its ``kernel_sources``
mount; and with no LoveDA attached the training notebook stops in its first checks, before
provisioning.

Stand-ins only for what cannot exist here: ``MAPSAGE_KAGGLE_ROOT`` is Kaggle's file system (a
``/kaggle`` tree in a temporary folder), and Kaggle's mount of a kernel's output under
``/kaggle/input`` is a copy of the bootstrap's ``working/`` folder. papermill, the notebooks,
provisioning's plan, pip and training run for real, on the CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from mapsage.kaggle.build import build
from mapsage.paths import KERNELS_DIR
from mapsage.provision import mmcv, wheelhouse

pytestmark = pytest.mark.slow
TINY = {"model": "tiny", "batch_size": 2, "crop_size": 64, "lr": 0.002, "seed": 0,
        "num_workers": 0, "device": "cpu", "amp": False, "data_root": "/kaggle/input"}
BOOTSTRAP_FIELDS = ("seconds_per_iteration", "images_per_second", "peak_gpu_memory_bytes",
                    "data_loader_wait_share", "projected_full_run_seconds")


def _kaggle_root(base: Path, synthetic_root: Path | None) -> Path:
    root = base / "kaggle"
    (root / "working").mkdir(parents=True)
    (root / "input").mkdir()
    if synthetic_root is not None:
        for split in ("Train", "Val"):
            shutil.copytree(synthetic_root / split,
                            root / "input" / "datasets" / "alice" / "loveda" / split / split)
    return root


def _cell(nb, tag: str):
    return next(c for c in nb.cells if tag in c.metadata.get("tags", []))


def test_without_loveda_the_training_notebook_stops_in_its_first_checks(tmp_path, monkeypatch):
    root = _kaggle_root(tmp_path, None)
    (root / "input" / "some-other-data").mkdir()
    bundle = build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=tmp_path / "b",
                   parameters={**TINY, "max_iters": 4, "val_interval": 4,
                               "checkpoint_interval": 4})
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(root))
    executed = root / "working" / "executed.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(bundle / f"{bundle.name}.ipynb"), str(executed),
                                   kernel_name="python3", progress_bar=False,
                                   cwd=str(root / "working"), execution_timeout=30)
    assert err.value.ename == "FirstChecksFailed"
    assert "LoveDA not found" in err.value.evalue and "alice/loveda" in err.value.evalue
    nb = nbformat.read(executed, as_version=4)
    checks = _cell(nb, "mapsage-first-checks")
    assert any(o.get("ename") == "FirstChecksFailed" for o in checks.outputs)
    provision = _cell(nb, "mapsage-provision")
    assert provision.execution_count is None and provision.outputs == []
    assert not (root / "working" / "run").exists()


def _cached_wheel_for_this_torch() -> wheelhouse.CachedWheel:
    facts = mmcv.probe_torch()
    key = mmcv.wheel_key(facts, mmcv.ops_target(facts))
    hit, _ = wheelhouse.find(key, [wheelhouse.default_root()])
    if hit is None:
        pytest.skip(f"no mmcv wheel for {key.slug} in {wheelhouse.default_root()} (building one "
                    "takes ~10 min on 2 cores): run `python -m mapsage.provision` once")
    return hit


def attach_cached_wheel(kaggle_root: Path, monkeypatch) -> wheelhouse.CachedWheel:
    """This machine's mmcv wheel for this torch, attached to a Kaggle session as an earlier
    wheel data set and vouched for (the session's owner built it): the bootstrap copies it
    instead of compiling mmcv for ~10 min."""
    monkeypatch.delenv("MAPSAGE_WHEELHOUSE", raising=False)
    cached = _cached_wheel_for_this_torch()
    attached = kaggle_root / "input" / "older-wheelhouse" / cached.key.slug
    attached.mkdir(parents=True)
    shutil.copy(cached.wheel, attached / cached.wheel.name)
    shutil.copy(cached.wheel.parent / wheelhouse.MANIFEST, attached / wheelhouse.MANIFEST)
    monkeypatch.setenv("MAPSAGE_TRUSTED_WHEELS", cached.sha256)  # this machine's own wheel
    return cached


def test_bootstrap_leaves_a_wheelhouse_the_training_kernel_finds(synthetic_root, tmp_path,
                                                                 monkeypatch):
    # --- the bootstrap session: an earlier wheel data set attached, LoveDA attached
    first = _kaggle_root(tmp_path / "bootstrap", synthetic_root)
    cached = attach_cached_wheel(first, monkeypatch)
    bootstrap = build(KERNELS_DIR / "mapsage-bootstrap", owner="alice", out_dir=tmp_path / "b",
                      parameters={**TINY, "max_iters": 12, "val_interval": 12,
                                  "checkpoint_interval": 12})
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(first))
    papermill.execute_notebook(str(bootstrap / f"{bootstrap.name}.ipynb"),
                               str(first / "working" / "executed.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(first / "working"))
    working = first / "working"
    summary = json.loads((working / "bootstrap.json").read_text())
    for field in BOOTSTRAP_FIELDS:
        assert field in summary, field
    assert summary["seconds_per_iteration"] > 0 and summary["images_per_second"] > 0
    assert summary["peak_gpu_memory_bytes"] == [{"device": "cpu", "name": None, "bytes": None}]
    assert 0 <= summary["data_loader_wait_share"] < 1
    assert summary["measured"]["iterations"] == 12
    assert summary["measured"]["timed_iterations"] == 12 - summary["measured"]["warmup_iterations"]
    projection = summary["projection"]
    assert projection["max_iters"] == 16000  # the training definition's full run
    assert summary["projected_full_run_seconds"] == pytest.approx(
        projection["train_seconds"] + projection["validation_seconds"], abs=0.2)
    assert summary["wheelhouse"]["mmcv"]["key"] == cached.key.slug
    assert summary["pretrained"]["files"] == sorted(
        p.name for p in (working / "pretrained").glob("*.pth"))
    wheel_dir = working / "mapsage-wheelhouse"
    entry = wheelhouse.read_entry(wheel_dir / cached.key.slug)
    assert entry is not None and entry.sha256 == cached.sha256
    # this environment has the pinned stack: no closure to leave (the Kaggle-image rehearsal,
    # test_kaggle_image_rehearsal.py, checks the closure in an image that lacks it)
    python_wheels = sorted(p.name for p in (wheel_dir / "python").glob("*.whl"))
    assert python_wheels == summary["wheelhouse"]["python"]

    # --- the training session: the bootstrap's output mounted through kernel_sources
    second = _kaggle_root(tmp_path / "training", synthetic_root)
    mount = second / "input" / "notebooks" / "alice" / "mapsage-bootstrap"
    shutil.copytree(working, mount, ignore=shutil.ignore_patterns("bootstrap-run"))
    downloads = tmp_path / "runs" / "kaggle"  # where `mapsage push` downloads the output
    shutil.copytree(working, downloads / "mapsage-bootstrap",
                    ignore=shutil.ignore_patterns("bootstrap-run"))
    training = build(KERNELS_DIR / "train-segformer-loveda", owner="alice",
                     out_dir=tmp_path / "b", downloads=downloads)
    meta = json.loads((training / "kernel-metadata.json").read_text())
    assert meta["kernel_sources"] == ["alice/mapsage-bootstrap"]
    nb = nbformat.read(training / f"{training.name}.ipynb", as_version=4)
    assert cached.sha256 in _cell(nb, "mapsage-first-checks").source, "the bootstrap's wheel"
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(second))
    # mmcv is installed in this environment; a fresh Kaggle image has none, which is what the
    # plan is asked about (nothing is installed into the shared environment)
    facts = mmcv.probe_torch()
    target = mmcv.ops_target(facts)
    monkeypatch.setenv("MAPSAGE_TRUSTED_WHEELS", summary["wheelhouse"]["mmcv"]["sha256"])
    steps, notes = mmcv.plan(facts, target, installed=(False, "a fresh Kaggle image"),
                             roots=mmcv.search_roots(), jobs=1, build_dir=tmp_path,
                             attached=mmcv.attached_inputs())
    assert [s.strategy for s in steps] == ["wheelhouse"], notes
    assert steps[0].command[-1] == str(mount / "mapsage-wheelhouse" / cached.key.slug /
                                       cached.wheel.name)
    assert "--no-index" in steps[0].command
    # a notebook built without the bootstrap's downloaded output trusts no attached wheel
    monkeypatch.setenv("MAPSAGE_TRUSTED_WHEELS", "")
    steps, notes = mmcv.plan(facts, target, installed=(False, "a fresh Kaggle image"),
                             roots=mmcv.search_roots(), jobs=1, build_dir=tmp_path / "x",
                             attached=mmcv.attached_inputs())
    assert steps[-1].strategy == "source"
    assert any("nobody vouched for" in n for n in notes), notes
