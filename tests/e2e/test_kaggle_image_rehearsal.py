"""The Kaggle-image rehearsal (issue 19): the built bootstrap notebook, then the built training
notebook, each executed by papermill inside a virtual environment made like Kaggle's GPU image
(``kaggle/gpu-image.json``: its Python, its CUDA build of torch, papermill; no OpenMMLab
package). The training notebook runs in a *fresh* environment of the same image, with the
bootstrap's output mounted as ``kernel_sources`` mounts it, provisions offline from it (pip's
index switched off) and trains to a ``metrics.json``.

Stand-ins only for what cannot exist here: ``MAPSAGE_KAGGLE_ROOT`` is Kaggle's file system, the
mount of a kernel's output is a copy, and the GPU image runs on the CPU (no GPU here: the
decision table gives CPU ops, the path a CPU Kaggle session takes). Everything else is real:
the image's torch from PyPI, pip, the mmcv build (or a wheel this machine built before, attached
as a wheel data set, which is checked like any other), papermill and training.

The interpreter and uv come from nox (``MAPSAGE_IMAGE_PYTHON``, ``UV``); without them the test
is skipped, naming what is missing. Each part's wall time is printed (bench/RESULTS.md keeps the
measured figures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from mapsage.data.synth_folders import CLASSES, generate_folders
from mapsage.data.synth_folders import NAME as FOLDERS_NAME
from mapsage.kaggle.build import build
from mapsage.paths import KERNELS_DIR, PROJECT_ROOT
from mapsage.provision import wheelhouse
from mapsage.provision.dependencies import PYTHON_WHEELS

pytestmark = pytest.mark.slow
IMAGE = json.loads((PROJECT_ROOT / "kaggle" / "gpu-image.json").read_text())
TINY = {"model": "tiny", "batch_size": 2, "crop_size": 64, "lr": 0.002, "seed": 0,
        "num_workers": 0, "device": "cpu", "amp": False, "data_root": "/kaggle/input"}
CACHE_DATASET = "mapsage-wheel-cache"
"""An input holding a wheel this machine built for the image before (the rehearsal's build
cache, attached like a wheel data set; it is checked like any attached wheel)."""


def _image_python() -> str:
    python = os.environ.get("MAPSAGE_IMAGE_PYTHON")
    if not python or not Path(python).is_file():
        pytest.skip(f"no Python {IMAGE['python']} for the Kaggle-image rehearsal: run it through "
                    f"nox (make test, or nox -s kaggle_rehearsal), which finds one")
    return python


def make_image(venv: Path) -> Path:
    """A virtual environment like Kaggle's GPU image; returns its python."""
    uv = os.environ.get("UV") or shutil.which("uv")
    base = _image_python()
    started = time.perf_counter()
    python = venv / "bin" / "python"
    packages = [f"torch=={IMAGE['torch']}", *IMAGE["packages"]]
    if uv:
        subprocess.run([uv, "venv", "--quiet", "--seed", "--python", base, str(venv)],
                       check=True, timeout=300)
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *packages],
                       check=True, timeout=1800)
    else:
        subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True,
                       timeout=1800)
    print(f"image venv {venv.name}: {time.perf_counter() - started:.0f} s")
    return python


def _kaggle_root(base: Path, synthetic_root: Path) -> Path:
    root = base / "kaggle"
    (root / "working").mkdir(parents=True)
    for split in ("Train", "Val"):  # the doubled layout public LoveDA copies unpack to
        shutil.copytree(synthetic_root / split,
                        root / "input" / "datasets" / "alice" / "loveda" / split / split)
    return root


def _execute(python: Path, notebook: Path, root: Path, offline: bool = False,
             vouched: str | None = None) -> float:
    """papermill inside the image venv, as Kaggle runs a notebook; returns the wall time."""
    # a Kaggle session is not CI: under CI=true envcheck's ci profile would hold the image's own
    # packages to the lock (on Kaggle only the OpenMMLab pins are checked)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MAPSAGE_WHEELHOUSE", "VIRTUAL_ENV", "CI")}
    env.update(MAPSAGE_KAGGLE_ROOT=str(root),
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
    env.pop("MAPSAGE_TRUSTED_WHEELS", None)
    if vouched:  # the person running the session trusts this wheel (their own build)
        env["MAPSAGE_TRUSTED_WHEELS"] = vouched
    if offline:  # no index: what is installed must come from the attached outputs
        env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull)
        env.pop("PIP_FIND_LINKS", None)
    started = time.perf_counter()
    executed = root / "working" / f"executed-{notebook.name}"
    proc = subprocess.run([str(python), "-m", "papermill", str(notebook), str(executed),
                           "--cwd", str(root / "working"), "-k", "python3",
                           "--no-progress-bar", "--log-output"],
                          capture_output=True, text=True, timeout=3600, env=env)
    assert proc.returncode == 0, (proc.stdout[-4000:] + proc.stderr[-4000:])
    return time.perf_counter() - started


def _attach_cached_wheel(root: Path, image_python: Path) -> wheelhouse.CachedWheel | None:
    """Copy a wheel this machine built for the image into an input data set (the build cache)."""
    from mapsage.provision import mmcv

    facts = mmcv.probe_torch(str(image_python))
    key = mmcv.wheel_key(facts, mmcv.ops_target(facts))
    hit, _ = wheelhouse.find(key, [wheelhouse.default_root()])
    if hit is None:
        return None
    return wheelhouse.store(hit.wheel, key, root / "input" / CACHE_DATASET)


def _keep_built_wheel(house: Path) -> None:
    """Store the mmcv wheel the bootstrap built in this machine's wheelhouse (store checks its
    compiled ops against its key), for the next rehearsal to attach."""
    found, _ = wheelhouse.entries([house])
    for entry in found:
        if entry.wheel.is_file() and wheelhouse.sha256(entry.wheel) == entry.sha256:
            wheelhouse.store(entry.wheel, entry.key, wheelhouse.default_root())


def test_bootstrap_then_training_in_fresh_kaggle_images(synthetic_root, tmp_path):
    timings = {}
    # --- the bootstrap session, in an image without any OpenMMLab package
    python_a = make_image(tmp_path / "image-bootstrap")
    root_a = _kaggle_root(tmp_path / "bootstrap", synthetic_root)
    cached = _attach_cached_wheel(root_a, python_a)
    bootstrap = build(KERNELS_DIR / "mapsage-bootstrap", owner="alice", out_dir=tmp_path / "b",
                      parameters={**TINY, "max_iters": 8, "val_interval": 8,
                                  "checkpoint_interval": 8})
    working = root_a / "working"
    try:
        timings["bootstrap notebook"] = _execute(
            python_a, bootstrap / f"{bootstrap.name}.ipynb", root_a,
            vouched=cached and cached.sha256)
    finally:  # keep a wheel the bootstrap built, even when a later cell failed: 15 min saved
        if cached is None:
            _keep_built_wheel(working / "mapsage-wheelhouse")
    summary = json.loads((working / "bootstrap.json").read_text())
    slug = summary["wheelhouse"]["mmcv"]["key"]
    assert slug.endswith("-cpu-ops") and f"torch{IMAGE['torch']}" in slug, slug
    assert cached is None or cached.key.slug == slug
    entry = wheelhouse.read_entry(working / "mapsage-wheelhouse" / slug)
    assert entry is not None and entry.key.ops == "cpu"
    assert wheelhouse.compiled_archs(entry.wheel) == [], "CPU ops, as the key says"
    closure = {p.name.split("-")[0].lower() for p in
               (working / "mapsage-wheelhouse" / PYTHON_WHEELS).glob("*.whl")}
    assert {"mmengine", "mmsegmentation", "rich", "opencv_python"} <= closure, closure

    # --- the training session: a fresh image, the bootstrap's output mounted, no index
    python_b = make_image(tmp_path / "image-training")
    root_b = _kaggle_root(tmp_path / "training", synthetic_root)
    mount = root_b / "input" / "notebooks" / "alice" / "mapsage-bootstrap"
    shutil.copytree(working, mount, ignore=shutil.ignore_patterns("bootstrap-run", "executed-*"))
    downloads = tmp_path / "runs" / "kaggle"  # where `mapsage push` downloads the output
    shutil.copytree(working, downloads / "mapsage-bootstrap",
                    ignore=shutil.ignore_patterns("bootstrap-run", "executed-*"))
    training = build(KERNELS_DIR / "train-segformer-loveda", owner="alice",
                     out_dir=tmp_path / "b", downloads=downloads,
                     parameters={**TINY, "max_iters": 8, "val_interval": 4,
                                 "checkpoint_interval": 4, "work_dir": "/kaggle/working/run"})
    timings["training notebook (offline)"] = _execute(
        python_b, training / f"{training.name}.ipynb", root_b, offline=True)
    metrics = json.loads((root_b / "working" / "run" / "metrics.json").read_text())
    env = metrics["environment"]
    assert env["python"].startswith(IMAGE["python"]) and env["torch"].startswith(IMAGE["torch"])
    assert env["torch_cuda"] == IMAGE["torch_cuda"] and env["mmcv"] == "2.1.0"
    assert metrics["iterations"] == 8
    executed = nbformat.read(root_b / "working" / f"executed-{training.name}.ipynb", 4)
    provision = next(c for c in executed.cells
                     if "mapsage-provision" in c.metadata.get("tags", []))
    log = "".join(o.get("text", "") for o in provision.outputs)
    assert "installing offline" in log and "wheelhouse" in log, log[-3000:]

    # --- your own data on the same image (issue 23): a folder data set of another shape
    # (img_dir/ann_dir, JPEG images, 5 classes, 255 ignored) and an FCN instead of a SegFormer,
    # through the train-own-data definition; the image is the one just provisioned
    root_c = tmp_path / "own-data" / "kaggle"
    (root_c / "working").mkdir(parents=True)
    generate_folders(root_c / "input" / "datasets" / "alice" / "roofs", progress=None)
    shutil.copytree(working, root_c / "input" / "notebooks" / "alice" / "mapsage-bootstrap",
                    ignore=shutil.ignore_patterns("bootstrap-run", "executed-*"))
    own = build(KERNELS_DIR / "train-own-data", owner="alice", out_dir=tmp_path / "b",
                downloads=downloads, data_source="alice/roofs",
                parameters={**TINY, "config": "fcn_tiny-128x128.py", "crop_size": None,
                            "lr": None, "batch_size": 4, "max_iters": 8, "val_interval": 4,
                            "checkpoint_interval": 4, "work_dir": "/kaggle/working/run"})
    timings["own-data training notebook (offline)"] = _execute(
        python_b, own / f"{own.name}.ipynb", root_c, offline=True)
    own_metrics = json.loads((root_c / "working" / "run" / "metrics.json").read_text())
    assert list(own_metrics["per_class_IoU"]) == list(CLASSES)
    assert own_metrics["dataset"]["name"] == FOLDERS_NAME
    assert own_metrics["environment"]["torch"].startswith(IMAGE["torch"])
    assert own_metrics["iterations"] == 8
    for part, seconds in timings.items():
        print(f"{part}: {seconds:.0f} s")
