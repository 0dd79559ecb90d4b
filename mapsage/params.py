"""The training parameters: one schema shared by the notebook, ``mapsage.train`` and ``mapsage run``.

The notebook's ``parameters`` cell repeats the defaults below as literals (papermill reads
literals); ``tests/test_params.py`` keeps the two identical.
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
    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    optional: bool = False
    also: tuple[str, ...] = ()  # extra string values a non-string parameter accepts


    def describe_type(self) -> str:
        words = {bool: "a boolean (True/False)", int: "an integer", float: "a number", str: "a string"}
        text = words[self.kind]
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        if self.optional:
            text += " or None"
        if self.also:
            text += " or " + " or ".join(repr(a) for a in self.also)
        return text


SCHEMA: tuple[Param, ...] = (
    Param("data_root", str, SYNTHETIC,
          "LoveDA root holding Train/ and Val/ ({Urban,Rural}/{images_png,masks_png}); "
          "'synthetic' generates the bundled demo data set"),
    Param("work_dir", str, "runs/demo", "where checkpoints, logs, metrics.json and plots go"),
    Param("model", str, "tiny", "SegFormer size", choices=MODELS),
    Param("max_iters", int, 300, "training iterations", minimum=1),
    Param("val_interval", int, 100, "validate every N iterations (and at the end)", minimum=1),
    Param("checkpoint_interval", int, 100, "save a checkpoint every N iterations", minimum=1),
    Param("batch_size", int, 8, "images per device per iteration", minimum=1),
    Param("crop_size", int, 128, "square training crop in pixels", minimum=32),
    Param("lr", float, 0.004,
          "AdamW learning rate at the recipe's base batch of 16 images; scaled linearly to the "
          "effective batch (batch_size x processes) by mmengine's auto_scale_lr", minimum=0.0),
    Param("load_from", str, None, "checkpoint whose weights initialise the model", optional=True),
    Param("resume", bool, False,
          "True or 'auto': continue from the newest valid checkpoint in work_dir (a fresh start "
          "when there is none)", also=("auto",)),
    Param("seed", int, 0, "random seed", minimum=0),
    Param("num_workers", int, 2, "data-loading worker processes", minimum=0),
    Param("device", str, "auto", "auto picks CUDA when available", choices=DEVICES),
    Param("amp", bool, False, "mixed precision (CUDA only)"),
    Param("trust_checkpoint", bool, False,
          "load a load_from (or config init_cfg) checkpoint that needs Python objects beyond "
          "MapSage's allowlist "
          "(only for files you made or trust: unpickling them can run code)"),
    Param("gpus", int, 0,
          "training processes: 0 = one per visible GPU (one on a CPU); N > 1 launches torchrun "
          "with N processes (gloo on a CPU)", minimum=0),
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
        return [f"{name}={_format(self.values[name])}" for name in BY_NAME]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


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


def check_value(param: Param, value: Any) -> Any:
    """Return ``value`` if it fits ``param``; raise ParamError naming the value otherwise."""
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
            f"{param.describe_type()}. Example: {param.name}={_format(param.default)!s}"
        )
    if param.choices and value not in param.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in param.choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParamError(
            f"Parameter {param.name!r} = {value!r} is not {param.describe_type()}.{hint}"
        )
    if param.kind is float and not math.isfinite(value):
        raise ParamError(f"Parameter {param.name!r} = {value!r} is not a finite number. "
                         f"Example: {param.name}={_format(param.default)!s}")
    if param.minimum is not None and value < param.minimum:
        raise ParamError(
            f"Parameter {param.name!r} = {value!r} is below its minimum {param.minimum!r}."
        )
    if param.kind is float and param.minimum == 0.0 and value == 0.0:
        raise ParamError(f"Parameter {param.name!r} must be greater than 0, got {value!r}.")
    return value


SEED_LIMIT = 2**32  # numpy's random seed is a 32-bit unsigned integer
WORKERS_PER_CPU = 4


def _check_limits(merged: dict[str, Any]) -> None:
    """Values the schema's types allow but training cannot run with."""
    if merged["max_iters"] < 2:
        raise ParamError(
            f"Parameter 'max_iters' = {merged['max_iters']}: the learning-rate schedule needs at "
            "least 2 iterations (its warm-up ends at iteration 1 and the decay would begin and "
            "end there). Set max_iters=2 or more."
        )
    if merged["seed"] >= SEED_LIMIT:
        raise ParamError(
            f"Parameter 'seed' = {merged['seed']} is too large: numpy accepts seeds below "
            f"2**32 = {SEED_LIMIT}. Use a smaller seed."
        )


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), not all the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_runnable_here(params: TrainParams) -> None:
    """Refuse parameters this machine cannot run (checked where training runs, not at build)."""
    cpus = usable_cpus()
    if params.num_workers > WORKERS_PER_CPU * cpus:
        raise ParamError(
            f"Parameter 'num_workers' = {params.num_workers} is more than this machine can run: "
            f"it has {cpus} usable CPU(s), so at most {WORKERS_PER_CPU * cpus} data-loading "
            f"workers make sense. Set num_workers={min(cpus, 8)} or less."
        )


def validate(values: Mapping[str, Any]) -> TrainParams:
    """Check typed values (from papermill or Python) against the schema; fill in defaults."""
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise _unknown(unknown)
    merged = dict(DEFAULTS)
    for name, value in values.items():
        merged[name] = check_value(BY_NAME[name], value)
    _check_limits(merged)
    if merged["val_interval"] > merged["max_iters"]:
        raise ParamError(
            f"val_interval = {merged['val_interval']} is larger than max_iters = "
            f"{merged['max_iters']}: the run would validate only once, at the end. "
            f"Set val_interval <= max_iters."
        )
    return TrainParams(merged)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(param: Param, text: str) -> Any:
    """Turn one ``key=value`` string into the parameter's type."""
    if param.optional and text.strip().lower() in {"none", "null", ""}:
        return None
    if text.strip() in param.also:
        return text.strip()
    try:
        if param.kind is bool:
            low = text.strip().lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError(text)
        if param.kind is int:
            return int(text)
        if param.kind is float:
            return float(text)
    except ValueError:
        raise ParamError(
            f"Parameter {param.name!r} = {text!r} is not {param.describe_type()}. "
            f"Example: {param.name}={_format(param.default)!s}"
        ) from None
    return text


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
            params[key] = _coerce(BY_NAME[key], text)
        else:
            unknown.append(key)
    if unknown:
        raise _unknown(unknown)
    return params, options
