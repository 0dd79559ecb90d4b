"""The training parameters: one schema shared by the notebook, ``mapsage.train`` and ``mapsage run``.

The notebook's ``parameters`` cell repeats the defaults below as literals (papermill reads
literals); ``tests/unit/test_params.py`` keeps the two identical.

Parameters a recipe owns (:data:`RECIPE_OWNED`: schedule, batch, crop, learning rate) default to
``None``, meaning "what the model's config file says" (``mapsage/configs``); a value given
overrides the config. One grammar turns text into values (:func:`coerce`), whoever reads it:
``python -m mapsage.train key=value``, ``mapsage run -p KEY VALUE`` and the notebook (which
receives what papermill's own ``-p`` already converted).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mapsage.errors import ParamError
from mapsage.models import MODELS

DEVICES = ("auto", "cpu", "cuda")
SYNTHETIC = "synthetic"
"""``data_root`` value that means: the bundled synthetic LoveDA-layout data set."""


@dataclass(frozen=True)
class Param:
    """One parameter. ``minimum`` is the lowest value allowed, for integers and numbers alike:
    a value below it is refused; with ``minimum_exclusive`` the minimum itself is refused too
    (``lr`` and ``time_limit`` must be greater than 0)."""

    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    minimum_exclusive: bool = False
    optional: bool = False
    also: tuple[str, ...] = ()  # text kept as it is, not read by the type (nor 'none' as None)
    example: str | None = None  # shown in error messages (default: the default value)
    notebook_only: bool = False  # used by the notebook, not passed to mapsage.train

    def describe_type(self) -> str:
        words = {bool: "a boolean (True/False)", int: "an integer", float: "a number", str: "a string"}
        text = words[self.kind]
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        if self.optional:
            text += " or None (the model config's value)" if self.name in RECIPE_OWNED \
                else " or None"
        also = [a for a in self.also if a not in self.choices]
        if also:
            text += " or " + " or ".join(repr(a) for a in also)
        return text


RECIPE_OWNED = ("max_iters", "val_interval", "checkpoint_interval", "batch_size", "crop_size", "lr")
"""Parameters whose default (None) is the value in the model's config file."""
PRETRAINED_AUTO, PRETRAINED_IMAGENET = "auto", "imagenet"

SCHEMA: tuple[Param, ...] = (
    Param("data_root", str, SYNTHETIC,
          "the data set's folder: LoveDA's root (Train/ and Val/ with "
          "{Urban,Rural}/{images_png,masks_png}) or a folder data set's (with its dataset.yaml; "
          "see dataset); 'synthetic' generates the bundled demo data set"),
    Param("dataset", str, None,
          "the data set's description (classes, palette, suffixes, labels; docs/datasets.md): "
          "None = the dataset.yaml found under data_root, else LoveDA; 'loveda'; the path of a "
          "dataset.yaml; or one written inline, e.g. '{classes: [background, roof], "
          "img_suffix: .jpg}'", optional=True, example="data/roofs/dataset.yaml"),
    Param("config", str, None,
          "the model and recipe (an mmengine config): None = MapSage's config for model=; a "
          "config file of yours; or one of mmseg's, e.g. "
          "'mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py'; MapSage swaps the data set "
          "in", optional=True, example="mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py"),
    Param("work_dir", str, "runs/demo", "where checkpoints, logs, metrics.json and plots go"),
    Param("model", str, "tiny", "SegFormer size (MapSage's configs; config=, when given, wins)",
          choices=MODELS),
    Param("max_iters", int, None, "training iterations (None: the config's)", minimum=1,
          optional=True, example="2000"),
    Param("val_interval", int, None, "validate every N iterations and at the end (None: the "
          "config's)", minimum=1, optional=True, example="500"),
    Param("checkpoint_interval", int, None, "save a checkpoint every N iterations (None: the "
          "config's)", minimum=1, optional=True, example="500"),
    Param("batch_size", int, None, "images per process per iteration (None: the config's)",
          minimum=1, optional=True, example="8"),
    Param("crop_size", int, None, "square training crop in pixels (None: the config's)",
          minimum=32, optional=True, example="512"),
    Param("lr", float, None,
          "AdamW learning rate at the recipe's base batch of 16 images (None: the config's); "
          "scaled linearly to the effective batch (batch_size x processes) by mmengine's "
          "auto_scale_lr", minimum=0.0, minimum_exclusive=True, optional=True, example="6e-05"),
    Param("load_from", str, None, "checkpoint whose weights initialise the model", optional=True),
    Param("pretrained", str, PRETRAINED_AUTO,
          "backbone initialisation: 'auto' = the model config's (ImageNet MiT weights for "
          "b0-b5, none for tiny), 'imagenet', a local .pth file, or None (from scratch); "
          "load_from, when given, wins", optional=True, example="imagenet"),
    Param("resume", bool, False,
          "True or 'auto': continue from the newest valid checkpoint in work_dir (a fresh start "
          "when there is none)", also=("auto",)),
    Param("seed", int, 0, "random seed", minimum=0),
    Param("num_workers", int, None,
          "data-loading worker processes per training process; None = from the CPUs this "
          "process may use and the number of training processes (mapsage.training.loader)",
          minimum=0, optional=True),
    Param("device", str, "auto", "auto picks CUDA when available", choices=DEVICES),
    Param("amp", bool, False, "mixed precision (CUDA only)"),
    Param("trust_checkpoint", bool, False,
          "load a load_from (or config init_cfg) checkpoint that needs Python objects beyond "
          "MapSage's allowlist "
          "(only for files you made or trust: unpickling them can run code)"),
    Param("gpus", int, 0,
          "training processes: 0 = one per visible GPU (one on a CPU); N > 1 launches torchrun "
          "with N processes (gloo on a CPU)", minimum=0),
    Param("time_limit", float, None,
          "seconds the training process may run: when one more iteration with its validation "
          "and a save would overrun it, training saves a checkpoint and ends cleanly with status 'time_limit' (continue with "
          "resume=auto). None: no limit, except on Kaggle, where it is the session's limit "
          "minus a safety margin minus the time already spent in the session",
          optional=True, minimum=0.0, minimum_exclusive=True),
    Param("tracking", str, "tensorboard",
          "experiment tracking: 'tensorboard' (mmengine's TensorboardVisBackend, event files in "
          "work_dir), 'wandb' (Weights & Biases; the key from WANDB_API_KEY or the Kaggle secret "
          "WANDB_API_KEY) or 'none' (mmengine's LocalVisBackend only; every choice keeps it)",
          choices=("tensorboard", "wandb", "none"), also=("none",)),
    Param("check_all_data", bool, False,
          "the data check reads every file completely and decodes every mask (like "
          "`mapsage check-data --all-masks`); by default it reads every file's header and "
          "decodes an evenly spread sample"),
    Param("predict_split", str, None,
          "after training, write LoveDA label PNGs for data_root/<split> (e.g. 'Test') with the "
          "best checkpoint into work_dir/predictions-<split> (mapsage predict)", optional=True,
          example="Test", notebook_only=True),
)
BY_NAME = {p.name: p for p in SCHEMA}
DEFAULTS = {p.name: p.default for p in SCHEMA}


@dataclass(frozen=True)
class TrainParams:
    values: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULTS))

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_cli_args(self) -> list[str]:
        """``key=value`` arguments for ``python -m mapsage.train``."""
        return [f"{name}={_format(self.values[name])}" for name, param in BY_NAME.items()
                if not param.notebook_only]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def replace(self, **changes: Any) -> TrainParams:
        """These parameters with ``changes``, each checked alone against its schema entry:
        what was validated once stays validated (a process validates its parameters once, then
        only what it changes, e.g. a data_root resolved or mapped onto Kaggle's file system)."""
        unknown = set(changes) - set(BY_NAME)
        if unknown:
            raise _unknown(unknown)
        checked = {name: check_value(BY_NAME[name], value) for name, value in changes.items()}
        for name, value in checked.items():
            if name in PATH_PARAMS:
                _check_path(name, value)
        return TrainParams({**self.values, **checked})


def _format(value: Any) -> str:
    return "None" if value is None else str(value)


def _unknown(names: Iterable[str]) -> ParamError:
    lines = []
    for name in sorted(names):
        close = difflib.get_close_matches(name, BY_NAME, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        lines.append(f"  - {name!r}{hint}")
    return ParamError(
        "Unknown parameter(s):\n" + "\n".join(lines) + "\n"
        "Valid parameters: " + ", ".join(BY_NAME) + ".\n"
        "Fix the name in your papermill -p/-f parameters or key=value arguments."
    )


NONE_WORDS = frozenset({"none", "null", ""})
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _example(param: Param) -> str:
    return param.example if param.example is not None else _format(param.default)


def _not_a(param: Param, value: Any) -> ParamError:
    return ParamError(
        f"Parameter {param.name!r} = {value!r} is not {param.describe_type()}. "
        f"Example: {param.name}={_example(param)}"
    )


def coerce(param: Param, value: Any) -> Any:
    """``value`` as the type of ``param``: the one grammar of every way parameters come in.

    Text (``key=value``, ``mapsage run -p KEY VALUE``, papermill's ``-p`` strings such as
    ``yes``) is read by the parameter's type: booleans accept true/false, yes/no, on/off, 1/0
    (any case); integers and numbers what Python's ``int``/``float`` read; ``None``/``none``/
    ``null`` (or nothing) is None; a string parameter keeps the text as it is (``123`` stays the
    string ``'123'``). Values already typed by papermill's CLI, YAML or Python are mapped the same
    way: ``1``/``0`` for a boolean, a number for a string parameter becomes its text. Range and
    choices are checked by :func:`check_value`.
    """
    if isinstance(value, str):
        text = value.strip()
        if text in param.also:
            return text
        if text.lower() in NONE_WORDS:
            return None
        if param.kind is str:
            return value
        if param.kind is bool:
            if text.lower() in TRUE_WORDS | FALSE_WORDS:
                return text.lower() in TRUE_WORDS
            raise _not_a(param, value)
        try:
            return param.kind(text)
        except ValueError:
            raise _not_a(param, value) from None
    if param.kind is str and isinstance(value, (bool, int, float)):
        return str(value)  # papermill's CLI turned the text 123 into a number
    if param.kind is bool and type(value) is int and value in (0, 1):
        return bool(value)  # papermill's CLI turned the text 1 into an integer
    return value


def check_value(param: Param, value: Any) -> Any:
    """Return ``value`` (coerced by :func:`coerce`) if it fits ``param``; raise ParamError
    naming the value otherwise."""
    value = coerce(param, value)
    if isinstance(value, str) and value in param.also:
        return value
    if value is None:
        if param.optional:
            return None
        raise ParamError(f"Parameter {param.name!r} is None; expected {param.describe_type()}.")
    kind_ok = (
        isinstance(value, bool) if param.kind is bool
        else isinstance(value, param.kind) and not isinstance(value, bool)
    )
    if param.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, kind_ok = float(value), True
    if not kind_ok:
        raise ParamError(
            f"Parameter {param.name!r} = {value!r} ({type(value).__name__}); expected "
            f"{param.describe_type()}. Example: {param.name}={_example(param)}"
        )
    if param.kind is float and not math.isfinite(value):
        raise ParamError(f"Parameter {param.name!r} = {value!r} is not a finite number.")
    if param.choices and value not in param.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in param.choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParamError(
            f"Parameter {param.name!r} = {value!r} is not {param.describe_type()}.{hint}"
        )
    if param.minimum is not None and value < param.minimum:
        raise ParamError(
            f"Parameter {param.name!r} = {value!r} is below its minimum {param.minimum!r}."
        )
    if param.minimum_exclusive and value == param.minimum:
        raise ParamError(f"Parameter {param.name!r} must be greater than {param.minimum:g}, "
                         f"got {value!r}.")
    return value


SEED_LIMIT = 2**32  # numpy's random seed is a 32-bit unsigned integer
WORKERS_PER_CPU = 4


PATH_PARAMS = ("data_root", "work_dir", "load_from", "pretrained", "config")
NAME_MAX, PATH_MAX = 255, 4096  # Linux's limits on a file name and a path (bytes)


def _check_path(name: str, value: Any) -> None:
    """A path the system cannot even look up: a NUL byte, a name or path over its limits."""
    if not isinstance(value, str):
        return
    if "\0" in value:
        raise ParamError(f"Parameter {name!r} = {value!r} holds a NUL byte, which no file name "
                         "can contain. Give the path without it.")
    size = len(os.fsencode(value))
    longest = max((len(os.fsencode(part)) for part in value.split("/")), default=0)
    if size > PATH_MAX or longest > NAME_MAX:
        raise ParamError(
            f"Parameter {name!r} is a path of {size} bytes whose longest folder name has "
            f"{longest}: the system allows {PATH_MAX} and {NAME_MAX}. Use a shorter path "
            f"(it begins {value[:40]!r}).")


def _check_limits(merged: dict[str, Any]) -> None:
    """Values the schema's types allow but training cannot run with."""
    if merged["max_iters"] is not None and merged["max_iters"] < 2:
        raise ParamError(
            f"Parameter 'max_iters' = {merged['max_iters']}: the learning-rate schedule needs at "
            "least 2 iterations (its warm-up ends at iteration 1 and the decay would begin and "
            "end there). Set max_iters=2 or more."
        )
    for name in PATH_PARAMS:
        _check_path(name, merged.get(name))
    if merged["seed"] >= SEED_LIMIT:
        raise ParamError(
            f"Parameter 'seed' = {merged['seed']} is too large: numpy accepts seeds below "
            f"2**32 = {SEED_LIMIT}. Use a smaller seed."
        )


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; the CPU count where there is none), not
    all the machine has; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_runnable_here(params: TrainParams) -> None:
    """Refuse parameters this machine cannot run (checked where training runs, not at build)."""
    cpus = usable_cpus()
    if params.num_workers is not None and params.num_workers > WORKERS_PER_CPU * cpus:
        raise ParamError(
            f"Parameter 'num_workers' = {params.num_workers} is more than this machine can run: "
            f"it has {cpus} usable CPU(s), so at most {WORKERS_PER_CPU * cpus} data-loading "
            f"workers make sense. Set num_workers={min(cpus, 8)} or less."
        )


def check_intervals(max_iters: int, val_interval: int) -> None:
    """Refuse a validation interval longer than the run (given or from the config)."""
    if val_interval > max_iters:
        raise ParamError(
            f"val_interval = {val_interval} is larger than max_iters = {max_iters}: the run "
            "would validate only once, at the end. Set val_interval <= max_iters."
        )


def typed(values: Mapping[str, Any]) -> dict[str, Any]:
    """The given parameters only, each checked and in its schema type (no defaults added).

    ``mapsage run`` passes these to papermill, so the notebook receives typed values.
    """
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise _unknown(unknown)
    return {name: check_value(BY_NAME[name], value) for name, value in values.items()}


def validate(values: Mapping[str, Any]) -> TrainParams:
    """Check values (typed, or text in the grammar of :func:`coerce`) against the schema; fill
    in defaults."""
    merged = {**DEFAULTS, **typed(values)}
    _check_limits(merged)
    if merged["val_interval"] is not None and merged["max_iters"] is not None:
        check_intervals(merged["max_iters"], merged["val_interval"])
    return TrainParams(merged)


def cli_value(name: str, text: str) -> Any:
    """A ``-p NAME TEXT`` value in the parameter's type (unknown names are left to validate)."""
    return coerce(BY_NAME[name], text) if name in BY_NAME else text


def parse_assignments(items: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``key=value`` strings into training parameters and dotted mmengine config options.

    A key with a dot (``train_dataloader.num_workers=0``) is a config option for mmengine's
    ``Config.merge_from_dict``; every other key must be a parameter of :data:`SCHEMA`.
    """
    params: dict[str, Any] = {}
    options: dict[str, str] = {}
    unknown = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ParamError(f"Argument {item!r} is not of the form key=value (e.g. max_iters=200).")
        if "." in key:
            options[key] = text
        elif key in BY_NAME:
            params[key] = coerce(BY_NAME[key], text)
        else:
            unknown.append(key)
    if unknown:
        raise _unknown(unknown)
    return params, options
