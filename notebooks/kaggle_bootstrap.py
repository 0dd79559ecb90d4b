# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: mapsage/notebooks///ipynb,notebooks///py:percent
#     notebook_metadata_filter: kernelspec,language_info
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   language_info:
#     name: python
# ---

# %% [markdown]
# # MapSage bootstrap: provision once, measure the recipe
#
# A short Kaggle GPU session, built by `mapsage build kaggle --kernel kaggle/mapsage-bootstrap`,
# which puts cells in front of this one that check the inputs and provision mmcv for this image.
# This notebook then leaves in `/kaggle/working` what later runs need to go with the internet off
# (the mmcv wheel and its `manifest.json`, the pinned pure-Python wheels, the pretrained weights),
# trains the real recipe for a few hundred iterations with a measuring hook, and writes
# `bootstrap.json`. The training kernel attaches this kernel's output through `kernel_sources`.
# The notebook is generated from `notebooks/kaggle_bootstrap.py` in the MapSage
# repository (jupytext).

# %% tags=["parameters"]
train = {}
full_run = {}

# %% [markdown]
# ## Parameters
# `train`: the measured run (the training definition's parameters with this definition's
# `max_iters`, `work_dir`, ...); `full_run`: the run being measured, for the projection.

# %%
from mapsage.params import validate

params = validate(train)
full = validate(full_run or train)
what = f"config={params.config}" if params.config else f"model={params.model}"
print(f"measuring {params.max_iters} iterations of {what} "
      f"batch_size={params.batch_size} crop_size={params.crop_size} amp={params.amp}; "
      f"projecting {full.max_iters} iterations")

# %% [markdown]
# ## Leave the wheelhouse
# The mmcv wheel for this image (built by the provisioning cell, or built here) and the wheels
# of everything else the pinned stack needs that this image lacks (the provisioning cell
# downloaded them, hash-checked against the lock), in `/kaggle/working/mapsage-wheelhouse`.

# %%
from mapsage import kaggle_platform
from mapsage.kaggle import bootstrap
from mapsage.provision import mmcv, wheelhouse
from mapsage.provision.dependencies import PYTHON_WHEELS

wheel_dir = wheelhouse.default_root()
mmcv_wheel = bootstrap.leave_mmcv_wheel(wheel_dir, mmcv.search_roots())
python_wheels = bootstrap.dependency_wheels(wheel_dir / PYTHON_WHEELS)
pretrained_dir = kaggle_platform.working_dir() / "pretrained"
pretrained = bootstrap.stage_pretrained_weights(pretrained_dir)
print(f"mmcv: {mmcv_wheel.wheel.name} ({mmcv_wheel.key.slug})")
print(f"python wheels: {', '.join(python_wheels)}")

# %% [markdown]
# ## Measure the recipe
# The same training process as the training notebook, on the run's own config (its `config`
# parameter, else the config of its `model`) extended by `RunMeasureHook`
# (`mapsage.training.hooks.measure`).

# %%
import tempfile
from pathlib import Path

from mapsage.notebook.launch import for_this_platform, run_training

run = for_this_platform(params)
config = bootstrap.measuring_config(run, Path(tempfile.mkdtemp(prefix="mapsage-bootstrap-")))
metrics = run_training(params, config=str(config))

# %% [markdown]
# ## bootstrap.json

# %%
import json

summary = bootstrap.summarize(Path(run.work_dir) / "measure", full.as_dict(), params.as_dict())
summary["wheelhouse"] = {"mmcv": {"key": mmcv_wheel.key.slug, "wheel": mmcv_wheel.wheel.name,
                                  "sha256": mmcv_wheel.sha256},
                         "python": python_wheels}
summary["pretrained"] = {**pretrained, "files": bootstrap.staged_weights(pretrained_dir)}
summary["mIoU"] = metrics["mIoU"]
path = bootstrap.write_summary(kaggle_platform.working_dir() / bootstrap.BOOTSTRAP_JSON, summary)
print(json.dumps({k: v for k, v in summary.items() if k != "measured"}, indent=2))
print(f"wrote {path}")
