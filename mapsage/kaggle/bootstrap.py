"""The bootstrap kernel's work (``kaggle/mapsage-bootstrap``): leave in ``/kaggle/working``
everything later runs need to go with the internet off, and measure the real recipe.

- :func:`leave_mmcv_wheel`: the mmcv wheel for this image, with its ``manifest.json`` key, in
  the working wheelhouse (``mapsage-wheelhouse/<key>/``): the one provisioning just built or
  found, else one built now by provisioning's own plan;
- :func:`dependency_wheels`: the wheels of everything the pinned stack needs that this image
  lacks (mmengine, mmseg, ..., and their own dependencies the image does not have), hashed in
  ``requirements-lock.txt``, left by the provisioning cell;
- :func:`stage_pretrained_weights`: the backbone weights the recipe starts from;
- :func:`measuring_config` + :func:`summarize`: a short run of the real recipe (the measured
  run's own config: its ``config`` parameter, else its model's) with
  ``RunMeasureHook`` (``mapsage.training.hooks.measure``), turned into ``bootstrap.json``: seconds per
  iteration, images per second, peak GPU memory per device, data-loader wait share, and the
  projected wall time of the full run.

A training kernel attaches the bootstrap kernel's output through ``kernel_sources``; Kaggle
mounts it under ``/kaggle/input``, where provisioning finds the wheels by their keys.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from pathlib import Path

from mapsage.errors import MapSageError
from mapsage.provision import mmcv, wheelhouse
from mapsage.safe_write import write_text
from mapsage.training.hooks import MEASURE_HOOK

BOOTSTRAP_JSON = "bootstrap.json"
WARMUP_SHARE = 0.1
"""Share of the first iterations left out of the timings (cuDNN autotuning, worker start)."""


def leave_mmcv_wheel(dest: Path, roots: list[Path], *, python: str | None = None,
                     jobs: int | None = None, log=print) -> wheelhouse.CachedWheel:
    """The wheelhouse entry for this image's mmcv key in ``dest`` (copied from ``roots`` or
    built with provisioning's plan when no wheel for the key exists anywhere)."""
    facts = mmcv.probe_torch(python)
    target = mmcv.ops_target(facts)
    key = mmcv.wheel_key(facts, target)
    here, _ = wheelhouse.find(key, [dest])
    if here is not None:
        log(f"mmcv wheel for {key.slug} already in {dest}")
        return here
    hit, refused = wheelhouse.find(key, [r for r in roots if r != dest], mmcv.attached_inputs())
    for line in refused:
        log(f"  - refused {line}")
    if hit is not None:
        log(f"mmcv wheel for {key.slug}: copying {hit.wheel}")
        return wheelhouse.store(hit.wheel, key, dest)
    with tempfile.TemporaryDirectory(prefix="mapsage-mmcv-") as tmp:
        steps, notes = mmcv.plan(facts, target, installed=(False, "the bootstrap leaves a wheel"),
                                 roots=[], jobs=jobs or 1, build_dir=Path(tmp), python=python)
        for note in notes:
            log(f"  - {note}")
        if steps[-1].strategy != "source":
            raise MapSageError(
                f"no mmcv wheel to leave for {key.slug}: provisioning would use "
                f"'{steps[-1].strategy}' ({steps[-1].description}), which leaves no wheel file")
        for step in steps:
            mmcv.run_step(step, log)
        built = sorted(Path(tmp).glob("mmcv-*.whl"))
        if not built:
            raise MapSageError(f"the mmcv build finished but left no wheel in {tmp}")
        return wheelhouse.store(built[0], key, dest)


def dependency_wheels(dest: Path, log=print) -> list[str]:
    """The wheels of the pinned stack's closure that the provisioning cell downloaded into
    ``dest`` (``mapsage-wheelhouse/python``) and installed from: everything a training kernel on
    this image lacks, each file hashed in the lock (:mod:`mapsage.provision.dependencies`)."""
    names = sorted(p.name for p in Path(dest).glob("*.whl"))
    if names:
        return names
    from mapsage.provision.dependencies import environment_of, missing_requirements
    from mapsage.provision.requirements import kaggle_requirements

    _, installed = environment_of(None)
    if missing_requirements(kaggle_requirements(), installed):
        raise MapSageError(f"no dependency wheels in {dest}: run `python -m mapsage.provision "
                           "--with-deps` first (the provisioning cell does)")
    log(f"python dependencies: this image had the whole pinned stack before provisioning, so "
        f"{dest} holds no wheels; a training kernel on a fresh image of the same kind needs "
        "the internet")
    return []


def stage_pretrained_weights(dest: Path, log=print) -> dict:
    """Make the measured run download the recipe's pretrained backbone weights into ``dest``.

    :mod:`mapsage.training.pretrained` fetches the weights a config's ``init_cfg`` names into the
    folder its ``CACHE_ENV`` variable names, when training starts; pointing that variable at
    ``dest`` (in ``/kaggle/working``) leaves them in this kernel's output, where a training
    kernel finds them by file name under ``/kaggle/input``.
    """
    from mapsage.training.pretrained import CACHE_ENV

    dest.mkdir(parents=True, exist_ok=True)
    os.environ[CACHE_ENV] = str(dest)
    log(f"pretrained weights: the measured run fetches them into {dest} ({CACHE_ENV})")
    return {"status": "fetched by the measured run", "dir": dest.name}


def staged_weights(dest: Path) -> list[str]:
    """The weights files the measured run left in ``dest``."""
    return sorted(p.name for p in Path(dest).glob("*.pth"))


def measure_config(model_config: Path, out: Path) -> Path:
    """``model_config`` plus ``RunMeasureHook``, written whole to ``out``.

    The config is read with mmengine and its ``custom_hooks`` extended, then written out as
    mmengine writes the config it saves in a work_dir: a ``_base_`` file overriding
    ``custom_hooks`` would replace the recipe's own hooks (mmengine merges dicts but replaces
    lists), and the measured run would no longer be the recipe. The hook is registered by
    :mod:`mapsage.training.plugins`, which every run imports.
    """
    from mmengine.config import Config

    cfg = Config.fromfile(str(model_config))
    cfg.custom_hooks = [*cfg.get("custom_hooks", []), dict(type=MEASURE_HOOK)]
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_text(out, f"# Written by the MapSage bootstrap: {Path(model_config).name} "
                           "plus the measuring hook.\n" + cfg.pretty_text)


def measuring_config(params, out_dir: Path) -> Path:
    """The config the bootstrap trains: the measured run's own (its ``config`` parameter, else
    the config of its ``model``) plus ``RunMeasureHook``, written into ``out_dir`` under the
    recipe's file name (the name the run's report gives the model). ``params``: the run's
    parameters as this platform sees them (``/kaggle`` paths mapped)."""
    from mapsage.models import config_path

    recipe = config_path(params.config, params.model)
    return measure_config(recipe, Path(out_dir) / recipe.name)


def _after_warmup(values: list[float]) -> list[float]:
    skip = min(len(values) - 1, math.ceil(len(values) * WARMUP_SHARE)) if values else 0
    return values[skip:]


def validations(max_iters: int, val_interval: int) -> int:
    """How many validations a run of ``max_iters`` makes (every ``val_interval``, and at the end)."""
    return math.ceil(max_iters / val_interval)


def summarize(measure_dir: Path, full_run: dict, measured: dict) -> dict:
    """``bootstrap.json`` from the per-process files ``RunMeasureHook`` wrote."""
    records = [json.loads(p.read_text()) for p in sorted(Path(measure_dir).glob("rank*.json"))]
    if not records:
        raise MapSageError(f"no measurements in {measure_dir}: did the run use RunMeasureHook?")
    records.sort(key=lambda r: r["rank"])
    main = records[0]
    times = _after_warmup(main["iter_time_s"])
    waits = _after_warmup(main["data_time_s"])
    if not times:
        raise MapSageError(f"{measure_dir}: the run recorded no training iterations")
    s_per_iter = statistics.fmean(times)
    images_per_iter = sum(r["batch_size"] for r in records)
    val_s = statistics.fmean(main["val_time_s"]) if main["val_time_s"] else None
    n_val = validations(full_run["max_iters"], full_run["val_interval"])
    train_s = s_per_iter * full_run["max_iters"]
    same_recipe = {k: measured.get(k) == full_run.get(k)
                   for k in ("config", "model", "batch_size", "crop_size", "amp", "device")}
    return {
        "seconds_per_iteration": round(s_per_iter, 4),
        "images_per_second": round(images_per_iter / s_per_iter, 2),
        "peak_gpu_memory_bytes": [{"device": r["device"], "name": r["device_name"],
                                   "bytes": r["peak_memory_bytes"]} for r in records],
        "data_loader_wait_share": round(sum(waits) / sum(times), 4),
        "validation_seconds": round(val_s, 2) if val_s is not None else None,
        "projected_full_run_seconds": round(train_s + (val_s or 0.0) * n_val, 1),
        "projection": {
            "max_iters": full_run["max_iters"], "val_interval": full_run["val_interval"],
            "validations": n_val, "train_seconds": round(train_s, 1),
            "validation_seconds": round((val_s or 0.0) * n_val, 1),
            "same_recipe": same_recipe,
            "note": ("seconds_per_iteration x max_iters + validation_seconds x validations; "
                     "checkpoint saves and the session's setup are not included"),
        },
        "measured": {"iterations": main["iterations"], "timed_iterations": len(times),
                     "warmup_iterations": len(main["iter_time_s"]) - len(times),
                     "processes": len(records), "images_per_iteration": images_per_iter,
                     "devices": [r["device_name"] or r["device"] for r in records],
                     "parameters": measured},
    }


def write_summary(path: Path, summary: dict) -> Path:
    return write_text(path, json.dumps(summary, indent=2) + "\n")


def one_line(path: Path) -> str:
    """A downloaded ``bootstrap.json`` in one line (checked: it comes from a remote session)."""
    try:
        data = json.loads(Path(path).read_text())
        s_per_iter = float(data["seconds_per_iteration"])
        images = float(data["images_per_second"])
        wait = float(data["data_loader_wait_share"])
        projected = float(data["projected_full_run_seconds"])
        peaks = [d["bytes"] for d in data["peak_gpu_memory_bytes"]]
        if not all(p is None or isinstance(p, int) for p in peaks):
            raise TypeError("peak_gpu_memory_bytes")
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return f"{path}: not a MapSage bootstrap summary ({type(exc).__name__}: {exc})"
    memory = ", ".join("n/a" if p is None else f"{p / 2**30:.1f} GiB" for p in peaks)
    return (f"{path}: {s_per_iter:.3f} s/iteration, {images:.1f} images/s, data wait "
            f"{wait:.0%}, peak GPU memory {memory}; full run projected at "
            f"{projected / 3600:.1f} h")


def vouched_wheels(folder: Path) -> list[str]:
    """sha256 of the mmcv wheel a bootstrap's downloaded output (``folder``, where ``mapsage
    push`` put it) reports in its ``bootstrap.json``: the wheel a training kernel attaching that
    output may install. [] when there is no such file; a malformed one is an error."""
    path = Path(folder) / BOOTSTRAP_JSON
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        digest = data["wheelhouse"]["mmcv"]["sha256"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise MapSageError(f"{path} is not a MapSage bootstrap summary ({type(exc).__name__}: "
                           f"{exc}); download the bootstrap's output again with mapsage push, "
                           "or delete it") from None
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise MapSageError(f"{path}: wheelhouse.mmcv.sha256 {digest!r} is not a sha256")
    return [digest]
