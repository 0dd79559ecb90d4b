"""Assemble a runnable mmengine Config from a config file and the training parameters.

The config files in ``configs/`` hold the recipe (schedule, batch, crop, learning rate, backbone
initialisation); a parameter of :data:`mapsage.params.RECIPE_OWNED` left at None keeps the
config's value, a value given overrides it. This module also applies what a run decides: where
the data is (the data set's folders found on disk, :func:`apply_dataset`), checkpointing, device-dependent normalisation and
precision, and where pretrained weights come from (:mod:`mapsage.training.pretrained`).
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path
from typing import Any

from mmengine.config import Config, DictAction

from mapsage.data.layout import DataLayout, FolderPair, find_layout
from mapsage.errors import MapSageError, ParamError
from mapsage.models import MODEL_CONFIGS
from mapsage.params import TrainParams, check_intervals
from mapsage.paths import CONFIG_DIR
from mapsage.training.hooks import (
    FINAL_VALIDATION_HOOK,
    FINITE_LOSS_HOOK,
    RESULTS_HOOK,
    TIME_BUDGET_HOOK,
    VALIDATION_PROBE_HOOK,
)
from mapsage.training.hooks import RESUME_GUARD_HOOK as GUARD_HOOK
from mapsage.training.loader import loader_settings
from mapsage.training.metrics import PER_CLASS_IOU_METRIC as METRIC
from mapsage.training.pretrained import apply_pretrained
from mapsage.training.tracking import apply_tracking

MIN_WARMUP = 10  # iterations; see apply_schedule



def _walk(node: Any):
    """Yield every dict inside nested dicts/lists (mmengine ConfigDicts included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk(value)


def _sub_datasets(dataset: dict) -> list[dict]:
    return list(dataset["datasets"]) if dataset.get("type") == "ConcatDataset" else [dataset]


DATASET_TYPE = "BaseSegDataset"
"""What every data set becomes: mmseg's own folder data set, told the description's classes,
palette, suffixes and label convention (LoveDA's ``LoveDADataset`` is exactly this with its
metainfo), so the saved config trains under mmseg's ``tools/train.py`` too."""
SPLIT_OF_LOADER = (("train_dataloader", "train"), ("val_dataloader", "val"),
                   ("test_dataloader", "val"))
"""Each loader and the split it reads (the test split may have no masks: tests use val)."""


def _dataset_for(template: dict, layout: DataLayout, part: FolderPair) -> dict:
    d = layout.description
    root = layout.root.resolve()  # the saved config runs from any folder
    return dict(type=DATASET_TYPE, data_root=str(root), metainfo=d.metainfo(),
                img_suffix=d.img_suffix, seg_map_suffix=d.seg_map_suffix,
                reduce_zero_label=d.reduce_zero_label, ignore_index=d.ignore_index,
                data_prefix=dict(img_path=str(part.images.resolve().relative_to(root)),
                                 seg_map_path=str(part.masks.resolve().relative_to(root))),
                pipeline=copy.deepcopy(template.get("pipeline", [])))


def apply_dataset(cfg: Config, layout: DataLayout) -> None:
    """Swap the data set in: every loader reads ``layout``'s folders of its split as mmseg
    ``BaseSegDataset``s (one per folder pair, in a ConcatDataset when there are several) with
    the description's metainfo, suffixes, ``reduce_zero_label`` and ignore index; the config's
    pipelines stay, but their ``LoadAnnotations`` take the label convention from the data set;
    every head predicts the description's classes and ignores its ignore index, and so does
    the evaluator."""
    d = layout.description
    for loader, split in SPLIT_OF_LOADER:
        template = _sub_datasets(cfg[loader]["dataset"])[0]
        parts = [_dataset_for(template, layout, p) for p in layout.split(split)]
        cfg[loader]["dataset"] = parts[0] if len(parts) == 1 else \
            dict(type="ConcatDataset", datasets=parts)
    for key in ("train_pipeline", "test_pipeline", "train_dataloader", "val_dataloader",
                "test_dataloader"):
        for node in _walk(cfg.get(key, [])):
            if node.get("type") == "LoadAnnotations":
                node.pop("reduce_zero_label", None)  # mmseg then takes the data set's
            elif node.get("type") == "RandomCrop":
                node["ignore_index"] = d.ignore_index  # cat_max_ratio leaves it out
    for node in _walk(cfg.model):
        if "num_classes" in node and node.get("type", "").endswith("Head"):
            node["num_classes"] = d.num_classes
            node["ignore_index"] = d.ignore_index
    if "data_preprocessor" in cfg.model:
        cfg.model.data_preprocessor["seg_pad_val"] = d.ignore_index  # padding is not scored
    for key in ("val_evaluator", "test_evaluator"):
        for node in _walk(cfg.get(key, {})):
            if "Metric" in str(node.get("type", "")):
                node["ignore_index"] = d.ignore_index
    cfg["dataset_description"] = d.as_dict()  # recorded with the run (metrics.json, report)


def config_crop(cfg: Config) -> tuple[int, int] | None:
    """The training crop a config declares: its ``crop_size``, else its RandomCrop's."""
    if cfg.get("crop_size"):
        return tuple(cfg["crop_size"])
    for node in _walk(cfg["train_dataloader"]):
        if node.get("type") == "RandomCrop":
            return tuple(node["crop_size"])
    return None


def apply_crop(cfg: Config, crop: int | tuple[int, int] | None) -> None:
    """Crop ``crop`` (the parameter, or the config's ``crop_size`` when None) everywhere the
    training pipeline and the data preprocessor need it."""
    if crop is None:
        crop = config_crop(cfg)
        if crop is None:
            return
    size = (crop, crop) if isinstance(crop, int) else tuple(crop)
    for node in _walk(cfg["train_dataloader"]):
        if node.get("type") == "RandomCrop":
            node["crop_size"] = size
        elif node.get("type") == "RandomResize":
            # LoveDA's recipe: scale (2048, 512) for 512 crops -> keep the 4:1 ratio
            node["scale"] = (4 * size[1], size[0])
    cfg.model.data_preprocessor["size"] = size
    cfg["crop_size"] = size


def apply_test_scale(cfg: Config) -> None:
    scale = cfg.get("test_scale")
    if scale is None:
        return
    for key in ("val_dataloader", "test_dataloader", "test_pipeline"):
        for node in _walk(cfg.get(key, [])):
            if node.get("type") == "Resize":
                node["scale"] = tuple(scale)


def apply_schedule(cfg: Config, p: TrainParams) -> None:
    """Schedule length, validation and checkpoint intervals, learning rate: the config's unless
    a parameter overrides them."""
    if p.max_iters is not None:
        cfg.train_cfg.max_iters = p.max_iters
        schedulers = cfg.get("param_scheduler") or []
        warm = [s for s in schedulers if s.get("type") == "LinearLR"]
        decay = [s for s in schedulers if s.get("type") == "PolyLR"]
        if warm and decay:
            # The recipe warms up for 1500 iterations; a shorter run keeps at most 10 % warm-up
            # and decays to its own end. mmengine's LinearLR stops one step short of its end
            # factor (at 1 - 1/n of the lr after n steps): a warm-up under MIN_WARMUP steps would
            # leave the whole run at a fraction of its lr, so a run that short has none (a
            # constant factor 1 for one step keeps the schedulers' layout for resume).
            warmup = min(int(warm[0].get("end", 1500)), p.max_iters // 10)
            if warmup < MIN_WARMUP:
                warmup = 1
                warm[0]["start_factor"] = warm[0]["end_factor"] = 1.0
            warm[0]["end"] = warmup
            decay[0]["begin"] = warmup
            decay[0]["end"] = p.max_iters
    max_iters = cfg.train_cfg.max_iters
    if p.val_interval is not None:
        cfg.train_cfg.val_interval = p.val_interval
    elif cfg.train_cfg.val_interval > max_iters:
        cfg.train_cfg.val_interval = max_iters  # a run shorter than the recipe's interval
    check_intervals(max_iters, cfg.train_cfg.val_interval)
    if p.lr is not None:
        cfg.optim_wrapper.optimizer.lr = p.lr
    # lr is given for the recipe's base batch; mmengine rescales it to the effective batch
    base = cfg.get("auto_scale_lr", {}).get("base_batch_size", 16)
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=base)
    hooks = cfg.default_hooks
    if p.checkpoint_interval is not None:
        hooks.checkpoint.interval = p.checkpoint_interval
    elif hooks.checkpoint.interval > max_iters:
        hooks.checkpoint.interval = max_iters
    hooks.logger.interval = max(1, min(int(hooks.logger.get("interval", 50)), max_iters // 30))


def apply_loader(cfg: Config, p: TrainParams, *, device: str = "cpu", processes: int = 1) -> None:
    """Batch size (when given), and the worker count, pinned memory and persistent workers of
    every loader (mapsage.training.loader decides them)."""
    settings = loader_settings(p.num_workers, device=device, processes=processes)
    if p.batch_size is not None:
        cfg.train_dataloader.batch_size = p.batch_size
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].num_workers = settings.num_workers
        cfg[loader].persistent_workers = settings.persistent_workers
        cfg[loader].pin_memory = settings.pin_memory


def amp_dtype_for(capability: tuple[int, int]) -> str:
    """bfloat16 where the GPU computes it natively (Ampere, 8.0, and newer), else float16
    (T4 is 7.5, P100 6.0; both run float16 with dynamic loss scaling)."""
    return "bfloat16" if tuple(capability) >= (8, 0) else "float16"


def apply_device(cfg: Config, *, device: str, distributed: bool, amp: bool,
                 amp_dtype: str | None = None) -> None:
    """Normalisation, distributed backend and precision for the device the run will use."""
    norm = "SyncBN" if (distributed and device == "cuda") else "BN"
    for node in _walk(cfg.model):
        if node.get("type") in ("SyncBN", "BN") and "requires_grad" in node:
            node["type"] = norm
    cfg.env_cfg.dist_cfg = dict(backend="nccl" if device == "cuda" else "gloo")
    if device != "cuda":
        cfg.env_cfg.cudnn_benchmark = False
        if distributed:
            cfg.model_wrapper_cfg = dict(type="CPUDistributedDataParallel")
    if amp:
        if device != "cuda":
            raise ParamError(
                "amp=True needs a CUDA GPU, but this run uses the CPU. Set amp=False, or turn on "
                "a GPU (Kaggle: Settings > Accelerator > GPU) and use device='auto' or 'cuda'."
            )
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.dtype = amp_dtype or "float16"
        if cfg.optim_wrapper.dtype == "float16":
            cfg.optim_wrapper.loss_scale = "dynamic"


PLUGINS = "mapsage.training.plugins"  # registers MapSage's training additions (hooks, metric, ...)
RESULTS_PLUGIN = "mapsage.results.hook"  # registers RESULTS_HOOK (results sit above training)


def resolved_params(cfg: Config, p: TrainParams) -> dict[str, Any]:
    """The run's parameters with the recipe-owned ones (None: the config's) as the config has
    them: what metrics.json records."""
    values = p.as_dict()
    crop = cfg.get("crop_size")
    values.update(max_iters=cfg.train_cfg.max_iters, val_interval=cfg.train_cfg.val_interval,
                  checkpoint_interval=cfg.default_hooks.checkpoint.interval,
                  batch_size=cfg.train_dataloader.batch_size,
                  crop_size=crop[0] if crop and crop[0] == crop[1] else crop,
                  lr=cfg.optim_wrapper.optimizer.lr)
    return values


def apply_run(cfg: Config, p: TrainParams, config_file: Path) -> None:
    """Where the run writes, what it loads, its seed, and MapSage's plugins.

    Every module the config names is listed in ``custom_imports``, so the config mmengine saves
    in work_dir runs under mmseg's own ``tools/train.py`` too.
    """
    cfg.work_dir = str(Path(p.work_dir).resolve())
    cfg.load_from = str(Path(p.load_from).resolve()) if p.load_from else None
    # resume=True/'auto' is resolved by mapsage.training.checkpoint.resume to the newest *valid* checkpoint
    cfg.resume = False
    # write checkpoints atomically (mapsage.training.checkpoint.atomic), unless the config chose a backend
    checkpoint = cfg.default_hooks.checkpoint
    if not checkpoint.get("backend_args") and not checkpoint.get("file_client_args"):
        checkpoint.backend_args = dict(backend="mapsage_atomic_local")
    cfg.randomness = dict(seed=p.seed, deterministic=False)
    for key in ("val_evaluator", "test_evaluator"):
        if cfg[key].get("type") == "IoUMetric":
            cfg[key]["type"] = METRIC
    ours = (RESULTS_HOOK, GUARD_HOOK, FINAL_VALIDATION_HOOK, TIME_BUDGET_HOOK, FINITE_LOSS_HOOK,
            VALIDATION_PROBE_HOOK)
    hooks = [h for h in cfg.get("custom_hooks", []) if h.get("type") not in ours]
    model = p.model if p.config is None else Path(config_file).stem  # what the report names
    cfg.custom_hooks = [*hooks, dict(type=RESULTS_HOOK, model=model, config=str(config_file),
                                     params=resolved_params(cfg, p)),
                        # vets a loaded checkpoint's metadata before mmengine acts on it
                        dict(type=GUARD_HOOK, priority="HIGHEST"),
                        dict(type=VALIDATION_PROBE_HOOK),  # one val batch before training
                        # a run resumed at its end still reports a validation of its last iteration
                        dict(type=FINAL_VALIDATION_HOOK),
                        # the time_limit parameter: inert without a limit off Kaggle
                        dict(type=TIME_BUDGET_HOOK, time_limit=p.time_limit),
                        # a NaN or infinite loss fails the run (status "failed"), unsaved
                        dict(type=FINITE_LOSS_HOOK)]
    imports = list(cfg.get("custom_imports", {}).get("imports", []))
    cfg.custom_imports = dict(imports=[*imports, *(m for m in (PLUGINS, RESULTS_PLUGIN)
                                                   if m not in imports)],
                              allow_failed_imports=False)


def drivable_problems(cfg: Config) -> list[str]:
    """What a loaded config lacks that MapSage needs to drive it (empty: nothing), checked
    before anything is applied, so a config written for another purpose is refused by name
    rather than failing inside mmengine with a KeyError."""
    problems = []
    model = cfg.get("model")
    if not isinstance(model, dict):
        problems.append("it has no model")
    else:
        if not any("num_classes" in n and str(n.get("type", "")).endswith("Head")
                   for n in _walk(model)):
            problems.append("its model has no decode head with num_classes (model.decode_head)")
        if not isinstance(model.get("data_preprocessor"), dict):
            problems.append("its model has no data_preprocessor (model.data_preprocessor, "
                            "e.g. dict(type='SegDataPreProcessor', ...))")
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if not isinstance(cfg.get(loader), dict) or not isinstance(cfg[loader].get("dataset"),
                                                                     dict):
            problems.append(f"it has no {loader} with a dataset")
    train_cfg = cfg.get("train_cfg")
    if not isinstance(train_cfg, dict) or "max_iters" not in train_cfg \
            or train_cfg.get("type", "IterBasedTrainLoop") != "IterBasedTrainLoop":
        problems.append("its train_cfg is not iteration-based (MapSage's time budget, "
                        "checkpoints and resume count iterations: train_cfg=dict("
                        "type='IterBasedTrainLoop', max_iters=N, val_interval=M))")
    if not isinstance(cfg.get("val_evaluator"), dict):
        problems.append("it has no val_evaluator (e.g. dict(type='IoUMetric', "
                        "iou_metrics=['mIoU']))")
    optimizer = (cfg.get("optim_wrapper") or {}).get("optimizer")
    if not isinstance(optimizer, dict) or "lr" not in optimizer:
        problems.append("it has no optim_wrapper.optimizer with an lr")
    hooks = cfg.get("default_hooks") or {}
    for hook in ("checkpoint", "logger"):
        if not isinstance(hooks.get(hook), dict):
            problems.append(f"it has no default_hooks.{hook}")
    return problems


CONFIG_SYNTAX = frozenset("(){}")
"""Characters of Python config syntax (``dict(...)``, ``{...}``) that ``--cfg-options`` cannot
express: mmengine's DictAction would keep such a value as a string."""


def parse_options(options: dict[str, str]) -> dict[str, Any]:
    """Dotted ``key=value`` overrides as mmengine's own ``--cfg-options`` reads them (its
    :class:`~mmengine.config.DictAction`: numbers, booleans, None, ``[a,b]`` lists and
    ``(a,b)`` tuples, strings otherwise). A value it cannot read (unbalanced brackets), or one
    it would keep as the text of a ``dict(...)``/``{...}``, is refused with a ParamError."""
    parsed: dict[str, Any] = {}
    for key, text in options.items():
        namespace = argparse.Namespace()
        action = DictAction(option_strings=["--cfg-options"], dest="cfg_options")
        try:
            action(argparse.ArgumentParser(), namespace, [f"{key}={text}"])
        except (AssertionError, ValueError) as exc:
            raise ParamError(
                f"Config option {key}={text!r} cannot be read as mmengine's --cfg-options value "
                f"({exc}). Expected a number, True/False, None, a string, or a [a,b] list or "
                f"(a,b) tuple of those with balanced brackets, e.g. {key}=[1,2].") from None
        value = namespace.cfg_options[key]
        if any(isinstance(leaf, str) and CONFIG_SYNTAX & set(leaf) for leaf in _leaves(value)):
            raise ParamError(
                f"Config option {key}={text!r} holds Python config syntax (dict(...) or {{...}}), "
                "which mmengine's --cfg-options syntax cannot express: it would become the text "
                f"{value!r}. Set the nested keys one by one instead (e.g. "
                f"{key}.0.type=NAME), put the change in a config file given with --config, or, "
                "for experiment tracking, use the tracking parameter "
                "(tracking=tensorboard, wandb or none).")
        parsed[key] = value
    return parsed


def _leaves(value: Any):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def apply_options(cfg: Config, options: dict[str, str]) -> None:
    """Dotted ``key=value`` overrides (:func:`parse_options`), merged last."""
    if options:
        cfg.merge_from_dict(parse_options(options))


def build_config(config_file: str | Path, params: TrainParams, options: dict[str, str] | None = None,
                 *, device: str = "cpu", distributed: bool = False,
                 amp_dtype: str | None = None, layout: DataLayout | None = None,
                 require_data: bool = True) -> Config:
    """The runnable Config: ``config_file``'s recipe plus what this run decides (data layout,
    parameters, device, precision, plugins), then the dotted ``options`` on top.
    ``require_data=False`` (``--print-config``) keeps the config's data paths under
    ``data_root`` when no data set is found there."""
    config_file = Path(config_file)
    if not config_file.is_file():
        raise MapSageError(
            f"Config file {str(config_file)!r} does not exist. Use one of "
            f"{', '.join(sorted(MODEL_CONFIGS.values()))} from {CONFIG_DIR}, or your own."
        )
    try:
        cfg = Config.fromfile(str(config_file))
    except Exception as exc:  # a config is Python (and _base_ files): any error can come out
        raise MapSageError(
            f"Config file {str(config_file)!r} cannot be loaded by mmengine: "
            f"{type(exc).__name__}: {exc}. Fix the file (its _base_ paths are relative to it), "
            "or leave --config out to use the one for model=."
        ) from exc
    missing = drivable_problems(cfg)
    if missing:
        raise MapSageError(
            f"Config {str(config_file)!r} cannot be driven by MapSage: "
            + "; ".join(missing) + ". MapSage trains mmseg configs written like mmseg's own "
            "(an EncoderDecoder model, iteration-based train_cfg, the three dataloaders, "
            "val_evaluator, optim_wrapper and default_hooks); start from one of them, e.g. "
            "config='mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py', and change it.")
    if layout is None:
        try:
            layout = find_layout(params.data_root, params.dataset)
        except MapSageError:
            if require_data:
                raise
    if layout is not None:
        apply_dataset(cfg, layout)
    else:
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            for dataset in _sub_datasets(cfg[loader]["dataset"]):
                dataset["data_root"] = str(params.data_root)
    apply_crop(cfg, params.crop_size)
    apply_test_scale(cfg)
    apply_schedule(cfg, params)
    apply_loader(cfg, params, device=device,
                 processes=int(os.environ.get("WORLD_SIZE", "1")) if distributed else 1)
    apply_device(cfg, device=device, distributed=distributed, amp=params.amp, amp_dtype=amp_dtype)
    apply_run(cfg, params, config_file)
    apply_pretrained(cfg, params.pretrained, load_from=params.load_from)
    apply_tracking(cfg, params.tracking)
    apply_options(cfg, options or {})
    return cfg
