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
# # SegFormer on LoveDA (or any mmseg model on your data), trained for real
#
# This notebook trains an OpenMMLab segmentation model with mmengine's Runner, then reports
# per-class IoU, the training curve and predictions. By default that is SegFormer (mmseg
# `MixVisionTransformer` + `SegformerHead`) on the LoveDA land-cover data set; `config` takes any
# mmseg model (a config file, or one of mmseg's own as `mmseg::<folder>/<file>.py`) and
# `dataset` / a `dataset.yaml` beside the data any folder of images and masks (docs/datasets.md).
# It runs unchanged on a laptop, in CI and on Kaggle, driven by papermill:
#
# ```
# papermill mapsage/notebooks/train_segformer_loveda.ipynb out.ipynb -p model b2 -p data_root /data/LoveDA
# ```
#
# The run's values are the `parameters` cell's defaults, overridden by the injected-parameters
# cell papermill writes after it (a Kaggle kernel built by `mapsage build kaggle` has one, and its
# first cell sums the run up); "Check the parameters" prints the values this run uses. The
# defaults alone train a tiny SegFormer on generated synthetic LoveDA-layout data (`make demo`:
# about a minute on a CPU). The notebook is generated from
# `notebooks/train_segformer_loveda.py` in the MapSage repository (jupytext).

# %% [markdown]
# ## Preflight
# `envcheck` verifies Python, torch, CUDA, mmcv (with compiled ops), mmengine and mmseg before
# any GPU time is spent, and stops the run with the exact remedy for this machine if anything is
# wrong.

# %%
import envcheck

_preflight = envcheck.preflight(work_dir=".")

# %%
_names_before_parameters = set(globals())

# %% tags=["parameters"]
data_root = "synthetic"
dataset = None
config = None
work_dir = "runs/demo"
model = "tiny"
max_iters = None
val_interval = None
checkpoint_interval = None
batch_size = None
crop_size = None
lr = None
load_from = None
pretrained = "auto"
resume = False
seed = 0
num_workers = None
device = "auto"
amp = False
trust_checkpoint = False
gpus = 0
time_limit = None
tracking = "tensorboard"
check_all_data = False
predict_split = None

# %% [markdown]
# ## Check the parameters
# Every parameter is checked (name, type, range) before anything else runs: a misspelt
# `-p max_iter 100` stops here with the list of valid names instead of being ignored.
# `None` means "what the model's config says" (`config`, else MapSage's config for `model`): the
# tiny demo's config trains 300 iterations of
# 8 images at 128 px from scratch; the `b0`-`b5` configs hold the published SegFormer recipe
# (80k iterations, 512 px crops, AdamW lr 6e-5 at 16 images, ImageNet-pretrained MiT encoder).

# %%
_given = {k: v for k, v in globals().items()
          if k not in _names_before_parameters and not k.startswith("_")}
from mapsage.params import validate

params = validate(_given)
print("\n".join(f"{name:>20} = {value!r}" for name, value in params.as_dict().items()))

# %% [markdown]
# ## Train
# Training runs in its own process (`python -m mapsage.train`), its log streamed here: the kernel
# never imports torch or mmcv, so installing packages never needs a kernel restart. Its first
# lines show the effective recipe (iterations, crop, batch, learning rate after scaling, initial
# weights) before training starts.

# %%
from mapsage.notebook.launch import run_training

metrics = run_training(params)

# %% [markdown]
# ## Results

# %%
from IPython.display import Image, Markdown, display

from mapsage.artefacts import PICTURES, REPORT
from mapsage.results.report import metrics_table

display(Markdown(metrics_table(metrics)))
for picture in PICTURES:
    display(Image(filename=f"{metrics['work_dir']}/{picture}"))
print(f"Report: {metrics['work_dir']}/{REPORT}")

# %% [markdown]
# ## Predict (optional)
# With `predict_split` set (e.g. `"Test"`, or `"test"` for a folder data set), the best
# checkpoint segments every image of that split under `data_root` (`mapsage predict`, in its own
# process) and writes one label PNG per image, named as the image, in the data set's label
# convention (LoveDA: classes 1..7, ready to zip for the test server) into
# `work_dir/predictions-<split>`, plus colour overlays of a sample.

# %%
if params.predict_split:
    from mapsage.notebook.launch import run_prediction

    predictions = run_prediction(params, metrics)
    for picture in sorted((predictions / "overlays").glob("*.png"))[:4]:
        display(Image(filename=str(picture)))
