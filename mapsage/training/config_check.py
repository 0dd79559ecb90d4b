"""Check an mmengine config before training: ``mapsage check-config CONFIG``.

- every ``type=`` resolves in the registry mmengine will build it from (models, data sets,
  transforms, samplers, collate functions, metrics, hooks, optimisers, optimiser wrappers,
  schedulers, loops, visualisers, model wrappers, weight initialisers (``init_cfg``) and pixel
  samplers (``TASK_UTILS``)); a miss names the nearest valid names, so the original notebook's
  ``LoggingHook`` comes back as "did you mean 'LoggerHook'?";
- LoveDA (a ``LoveDADataset`` or a 7-class head) must say ``reduce_zero_label=True``: its masks use
  0 for no-data, and mmseg 0.x set this in ``LoadAnnotations`` while 1.x moved it to the data set,
  so a config that names it nowhere depends on a version's default;
- SyncBN outside distributed training is reported (mmengine silently turns it into BN);
- the model's ``test_cfg`` is one mmseg's ``EncoderDecoder`` (and its subclasses) can apply at
  validation: a dict with ``mode`` 'whole' or 'slide', and for 'slide' a ``crop_size`` and a
  ``stride``, each a pair of positive ints, the stride no larger than the crop (mmseg 1.2.2's
  ``inference`` and ``slide_inference``; anything else fails only at the first validation, with
  an ``AttributeError``, a ``TypeError`` or a bare ``AssertionError``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmengine.config import Config

from mapsage.errors import MapSageError


@dataclass(frozen=True)
class ConfigFinding:
    severity: str  # "error" | "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.where}: {self.message}"


def _registries() -> dict[str, Any]:
    from mmengine.registry import FUNCTIONS
    from mmseg import registry as r

    return {
        "model": r.MODELS, "dataset": r.DATASETS, "transform": r.TRANSFORMS,
        "sampler": r.DATA_SAMPLERS, "metric": r.METRICS, "hook": r.HOOKS,
        "optimizer": r.OPTIMIZERS, "optim_wrapper": r.OPTIM_WRAPPERS,
        "scheduler": r.PARAM_SCHEDULERS, "loop": r.LOOPS, "visualizer": r.VISUALIZERS,
        "vis_backend": r.VISBACKENDS, "model_wrapper": r.MODEL_WRAPPERS,
        "log_processor": r.LOG_PROCESSORS, "weight initialiser": r.WEIGHT_INITIALIZERS,
        "task utility": r.TASK_UTILS, "function": FUNCTIONS,
    }


def _kind(path: tuple[str, ...]) -> str | None:
    """Which registry builds the dict found at ``path`` in the config."""
    head = path[0]
    if "init_cfg" in path:  # init_cfg=dict(type='Pretrained'|'Normal'|...), override= included
        return "weight initialiser"
    if head in ("model", "tta_model"):
        # a decode head's pixel sampler (OHEMPixelSampler) is built from TASK_UTILS
        return "task utility" if "sampler" in path else "model"
    if head.endswith("_dataloader"):
        if "pipeline" in path:
            return "transform"
        if "sampler" in path or "batch_sampler" in path:
            return "sampler"
        if "collate_fn" in path:
            return "function"
        return "dataset" if "dataset" in path else None
    if head.endswith("_pipeline"):
        return "transform"
    if head.endswith("_evaluator"):
        return "metric"
    if head in ("default_hooks", "custom_hooks"):
        return "hook"
    if head == "optim_wrapper":
        return "optimizer" if "optimizer" in path else "optim_wrapper"
    if head == "param_scheduler":
        return "scheduler"
    if head in ("train_cfg", "val_cfg", "test_cfg"):
        return "loop"
    if head == "visualizer":
        return "vis_backend" if "vis_backends" in path else "visualizer"
    if head == "vis_backends":
        return "vis_backend"
    if head == "model_wrapper_cfg":
        return "model_wrapper"
    if head == "log_processor":
        return "log_processor"
    return None


def _walk(node: Any, path: tuple[str, ...] = ()):
    if isinstance(node, dict):
        if "type" in node:
            yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def _names(registry) -> list[str]:
    names = []
    while registry is not None:
        names += list(registry.module_dict)
        registry = registry.parent
    return sorted(set(names))


def check_types(cfg: Config) -> list[ConfigFinding]:
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings

    from mapsage.training.config import PLUGINS, RESULTS_PLUGIN

    # what the Runner will import before building anything: MapSage's plugins, the config's own
    imports = cfg.get("custom_imports", {}).get("imports", [])
    import_modules_from_strings([PLUGINS, RESULTS_PLUGIN, *imports],
                                allow_failed_imports=False)

    registries = _registries()
    findings = []
    scope = cfg.get("default_scope", "mmseg")
    with DefaultScope.overwrite_default_scope(scope):
        for path, node in _walk(cfg.to_dict()):
            kind = _kind(path)
            name = node["type"]
            if kind is None or not isinstance(name, str):
                continue
            if path[0] == "model" and path[-1] in ("train_cfg", "test_cfg"):
                continue
            registry = registries[kind]
            if registry.get(name) is not None:
                continue
            close = difflib.get_close_matches(name, _names(registry), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            findings.append(ConfigFinding(
                "error", ".".join(path),
                f"type {name!r} is not a registered {kind} in mmengine/mmseg.{hint}"))
    return findings


def _loveda_datasets(cfg: dict):
    for path, node in _walk(cfg):
        if path and path[0].endswith("_dataloader") and "pipeline" not in path \
                and node.get("type") == "LoveDADataset":
            yield path, node


def check_loveda(cfg: Config) -> list[ConfigFinding]:
    data = cfg.to_dict()
    datasets = list(_loveda_datasets(data))
    heads = [n for p, n in _walk(data.get("model", {})) if "num_classes" in n]
    if not datasets and not any(h.get("num_classes") == 7 for h in heads):
        return []
    findings = []
    for path, dataset in datasets:
        in_pipeline = [t.get("reduce_zero_label") for t in dataset.get("pipeline", [])
                       if isinstance(t, dict) and t.get("type") == "LoadAnnotations"]
        said = dataset.get("reduce_zero_label")
        if said is False or False in in_pipeline:
            findings.append(ConfigFinding(
                "error", ".".join(path),
                "reduce_zero_label=False on LoveDA: its masks use 0 for no-data and 1..7 for the "
                "classes, so training would learn no-data as class 0 and shift every class. "
                "Set reduce_zero_label=True."))
        elif said is not True and True not in in_pipeline:
            findings.append(ConfigFinding(
                "error", ".".join(path),
                "LoveDA with 7 classes needs reduce_zero_label=True (masks: 0 = no-data, 1..7 = "
                "classes) and this config does not say it: mmseg 0.x set it in LoadAnnotations, "
                "1.x in the data set, so the result depends on the version's default. Add "
                "reduce_zero_label=True to the data set."))
    return findings


def check_norm(cfg: Config, distributed: bool) -> list[ConfigFinding]:
    if distributed:
        return []
    return [ConfigFinding(
        "warning", ".".join(path),
        "SyncBN on a single device: mmengine turns it into plain BN when training is not "
        "distributed. Use type='BN' (MapSage switches to SyncBN itself for multi-GPU runs).")
        for path, node in _walk(cfg.to_dict().get("model", {}), ("model",))
        if node.get("type") == "SyncBN"]


def _is_encoder_decoder(model_type: Any, scope: str) -> bool:
    """Whether ``model_type`` builds mmseg's EncoderDecoder or a subclass of it
    (CascadeEncoderDecoder): the segmentors whose ``inference`` reads ``test_cfg``."""
    from mmengine.registry import DefaultScope
    from mmseg.models.segmentors import EncoderDecoder
    from mmseg.registry import MODELS

    if isinstance(model_type, type):
        return issubclass(model_type, EncoderDecoder)
    if not isinstance(model_type, str):
        return False
    with DefaultScope.overwrite_default_scope(scope):
        cls = MODELS.get(model_type)
    return isinstance(cls, type) and issubclass(cls, EncoderDecoder)


def _is_pair(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value))


def _suggested_stride(window: Any) -> str:
    """mmseg's own slide configs step two thirds of the window (512 -> 341)."""
    if _is_pair(window):
        return f"stride=({window[0] * 2 // 3}, {window[1] * 2 // 3}) for crop_size={tuple(window)}"
    return "stride=(341, 341) for crop_size=(512, 512)"


def _fails(error: str) -> str:
    return (f"the run would train until its first validation and fail there (mmseg's "
            f"EncoderDecoder: {error})")


def check_test_cfg(cfg: Config) -> list[ConfigFinding]:
    """The model's ``test_cfg`` as mmseg 1.2.2's ``EncoderDecoder.inference`` applies it at
    every validation (see the module docstring); other segmentor types are not checked."""
    model = cfg.get("model")
    if not isinstance(model, dict) or not _is_encoder_decoder(
            model.get("type"), cfg.get("default_scope", "mmseg")):
        return []
    test_cfg = model.get("test_cfg")
    if not isinstance(test_cfg, dict):
        said = f"model.test_cfg = {test_cfg!r}" if "test_cfg" in model else \
            "The model has no test_cfg"
        return [ConfigFinding("error", "model.test_cfg", (
            f"{said}: expected a dict with mode='whole' or mode='slide', so "
            f"{_fails('AttributeError')}. Set model.test_cfg=dict(mode='whole')."))]
    if "mode" not in test_cfg:
        no_mode = "AttributeError: no attribute 'mode'"
        return [ConfigFinding("error", "model.test_cfg", (
            f"model.test_cfg = {dict(test_cfg)!r} has no 'mode': expected mode='whole' (each "
            "image at once) or mode='slide' (sliding windows), so "
            f"{_fails(no_mode)}. "
            "Add mode='whole' to model.test_cfg."))]
    mode = test_cfg["mode"]
    if mode not in ("whole", "slide"):
        return [ConfigFinding("error", "model.test_cfg.mode", (
            f"model.test_cfg.mode = {mode!r}: expected 'whole' or 'slide', the only modes "
            f"mmseg knows, so {_fails('AssertionError')}. Set model.test_cfg.mode='whole', or "
            "'slide' with crop_size and stride."))]
    if mode == "whole":
        return []
    crop, stride = test_cfg.get("crop_size"), test_cfg.get("stride")
    window = crop if _is_pair(crop) else cfg.get("crop_size")  # else the training crop
    findings = []
    bad_pair = "TypeError, ZeroDivisionError or windows that miss pixels"
    for key, value, role in (("crop_size", crop, "the (height, width) of each window"),
                             ("stride", stride, "the (height, width) step between windows")):
        example = (_suggested_stride(window) if key == "stride" else
                   f"crop_size={tuple(window)}, the training crop" if _is_pair(window) else
                   "crop_size=(512, 512)")
        if key not in test_cfg:
            findings.append(ConfigFinding("error", "model.test_cfg", (
                f"model.test_cfg.mode = 'slide' needs {key}, {role}, and model.test_cfg has "
                f"none, so {_fails(f'AttributeError: no attribute {key!r}')}. Add {key} to "
                f"model.test_cfg (e.g. {example}), or set model.test_cfg.mode='whole'.")))
        elif not _is_pair(value):
            findings.append(ConfigFinding("error", f"model.test_cfg.{key}", (
                f"model.test_cfg.{key} = {value!r}: mode='slide' needs {role} as a pair of "
                f"positive integers, so {_fails(bad_pair)}. Give {key} "
                f"as (height, width), e.g. {example}.")))
    if not findings and any(s > c for s, c in zip(stride, crop, strict=True)):
        gap = "AssertionError in slide_inference, on an image with such a gap"
        findings.append(ConfigFinding("error", "model.test_cfg.stride", (
            f"model.test_cfg.stride = {tuple(stride)} is larger than crop_size = {tuple(crop)}: "
            "expected a stride no larger than the window, or pixels between windows go "
            f"unpredicted, so {_fails(gap)}. Use e.g. "
            f"{_suggested_stride(crop)}.")))
    return findings


def check_config(cfg: Config, *, distributed: bool = False) -> list[ConfigFinding]:
    return (check_types(cfg) + check_loveda(cfg) + check_norm(cfg, distributed)
            + check_test_cfg(cfg))


def check_file(path: str | Path, *, distributed: bool = False) -> list[ConfigFinding]:
    path = Path(path)
    if not path.is_file():
        raise MapSageError(f"Config file {str(path)!r} does not exist.")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # a config is Python: any error can come out of it
        raise MapSageError(f"{path} cannot be loaded by mmengine: {type(exc).__name__}: {exc}") \
            from exc
    return check_config(cfg, distributed=distributed)


def raise_on_errors(findings: list[ConfigFinding]) -> None:
    errors = [f for f in findings if f.severity == "error"]
    for warning in (f for f in findings if f.severity == "warning"):
        print(f"mapsage: config warning: {warning}", flush=True)
    if errors:
        where: dict[str, list[str]] = {}  # one line per problem, however many places have it
        for finding in errors:
            where.setdefault(finding.message, []).append(finding.where)
        raise MapSageError("The config would fail or train wrongly:\n" + "\n".join(
            f"  - [error] {', '.join(places)}: {message}" for message, places in where.items()))
