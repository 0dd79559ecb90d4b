"""Resume trusts nothing a checkpoint says: its metadata is vetted before mmengine reads it.

The safe unpickler (:mod:`mapsage.training.checkpoint.safe_load`) keeps code out of the *objects* in a
checkpoint, but mmengine 0.10.7 also acts on plain *values* in it:

- ``Runner.resume`` passes ``meta['config']`` to ``Config.fromstring``, which executes it, and
  re-seeds every generator from ``meta['seed']``;
- ``MessageHub.load_state_dict`` restores ``message_hub['runtime_info']``, from which
  ``CheckpointHook`` takes ``best_ckpt`` (a path it deletes, file or folder, at the next
  improvement), ``keep_ckpt_ids`` (steps whose ``iter_N.pth`` it deletes) and ``best_score``.

:class:`mapsage.training.hooks.resume_guard.ResumeGuardHook` (``after_load_checkpoint``, highest
priority, so it runs before mmengine uses the dict) cleans the checkpoint in place with :func:`sanitise`: the config strings are
dropped unread, the seed must be a valid seed, and of the runtime information only what
CheckpointHook needs is kept, each value checked (a best checkpoint only as a
``best_<metric>_iter_N.pth`` file inside this work_dir). Everything else the hooks set again
themselves. :func:`vet_resume_candidate` does the same checks before the Runner exists, on a
full safe load of the file, so a damaged or crafted candidate is skipped with its reason.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from mapsage.errors import MapSageError, UnusableCheckpoint
from mapsage.params import SEED_LIMIT
from mapsage.training.checkpoint.names import best_iteration_of
from mapsage.training.checkpoint.safe_load import check_archive, load_checkpoint_file

CONFIG_KEYS = ("config", "cfg")  # mmengine writes 'cfg'; Runner.resume executes 'config'


def _is_plain(value: Any) -> bool:
    import numpy as np
    import torch

    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, np.generic):
        return isinstance(value, (np.number, np.bool_))
    return isinstance(value, (np.ndarray, torch.Tensor)) and value.dtype != object


def non_plain(value: Any, where: str) -> list[str]:
    """Keys (as ``where.key.0``) whose value is not plain data: str, numbers, bools, None,
    numeric arrays, and dicts/lists/tuples of those."""
    if isinstance(value, dict):
        found = [f"{where} (key {k!r})" for k in value if not isinstance(k, (str, int))]
        for key, item in value.items():
            found += non_plain(item, f"{where}.{key}")
        return found
    if isinstance(value, (list, tuple)):
        return [bad for i, item in enumerate(value) for bad in non_plain(item, f"{where}.{i}")]
    return [] if _is_plain(value) else [f"{where} ({type(value).__name__})"]


def _whole_number(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def check_structure(checkpoint: Any) -> None:
    """Refuse (naming the key) a checkpoint resume cannot use as it is."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if not isinstance(checkpoint, dict):
        raise UnusableCheckpoint(f"it holds a {type(checkpoint).__name__}, not an mmengine "
                                 "checkpoint dict")
    meta = checkpoint.get("meta")
    if not isinstance(meta, dict):
        raise UnusableCheckpoint("it has no 'meta' dict (not saved by mmengine's Runner)")
    hub = checkpoint.get("message_hub")
    if not isinstance(hub, dict) or not all(
            isinstance(hub.get(k), dict) for k in ("log_scalars", "runtime_info", "resumed_keys")):
        raise UnusableCheckpoint("its 'message_hub' is not mmengine's (log_scalars, "
                                 "runtime_info and resumed_keys dicts)")
    _refuse_non_plain(checkpoint)
    for key in ("iter", "epoch"):
        if not _whole_number(meta.get(key)):
            raise UnusableCheckpoint(f"meta[{key!r}] is {meta.get(key)!r}, not a whole number")
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise UnusableCheckpoint("it has no 'state_dict' of model weights")
    bad = [f"message_hub.log_scalars.{k} ({type(v).__name__})"
           for k, v in hub["log_scalars"].items() if not isinstance(v, HistoryBuffer)]
    if bad:
        raise UnusableCheckpoint(f"its message_hub holds unexpected objects: {', '.join(bad[:5])}")
    schedulers = checkpoint.get("param_schedulers", [])
    if not isinstance(schedulers, (list, dict)):
        raise UnusableCheckpoint("its 'param_schedulers' is not a list")


def _restored_best(path: Any, key: str, work_dir: Path, notes: list[str]) -> str | None:
    """``path`` if it is a best checkpoint file inside ``work_dir``; the same name in this
    work_dir when it came from a copied folder; else None (with a note)."""
    name = Path(path).name if isinstance(path, str) else ""
    if best_iteration_of(name) is None:
        notes.append(f"ignoring {key}={path!r} from the checkpoint: not a best_<metric>_iter_N.pth "
                     "name, so it will never be deleted")
        return None
    here = work_dir / name
    if not here.is_file() or here.is_symlink():
        notes.append(f"ignoring {key}={path!r} from the checkpoint: no such file in "
                     f"{work_dir}, so nothing outside it will be deleted")
        return None
    if Path(path) != here:
        notes.append(f"{key} in the checkpoint points to {path!r}, outside this work_dir "
                     f"(a copied run?): using {here} instead")
    return str(here)


def _restored_info(info: dict, work_dir: Path, notes: list[str]) -> dict:
    kept = {}
    for key, value in info.items():
        if key.startswith("best_ckpt"):
            path = _restored_best(value, key, work_dir, notes)
            if path is not None:
                kept[key] = path
        elif key.startswith("best_score"):
            if isinstance(value, numbers.Real) and not isinstance(value, bool) \
                    and math.isfinite(value):
                kept[key] = value
            else:
                notes.append(f"ignoring {key}={value!r} from the checkpoint: not a number")
        elif key == "keep_ckpt_ids":
            if isinstance(value, list) and all(_whole_number(v) for v in value):
                kept[key] = [int(v) for v in value]
            else:
                notes.append(f"ignoring keep_ckpt_ids={value!r} from the checkpoint: not a "
                             "list of iteration numbers")
    return kept


def _refuse_non_plain(checkpoint: dict) -> None:
    bad = non_plain(checkpoint.get("meta", {}), "meta")
    hub = checkpoint.get("message_hub", {})
    if isinstance(hub, dict):
        for key in ("runtime_info", "resumed_keys"):
            bad += non_plain(hub.get(key, {}), f"message_hub.{key}")
    if bad:
        raise UnusableCheckpoint(f"it holds more than plain data in {', '.join(bad[:5])}")


def sanitise(checkpoint: dict, work_dir: str | Path) -> list[str]:
    """Make the metadata mmengine acts on safe, in place; returns notes on what was dropped.

    Raises UnusableCheckpoint when ``meta`` or the message hub's information holds anything but
    plain data (naming the key). Parts that are missing stay missing (a weights-only file).
    """
    _refuse_non_plain(checkpoint)
    work_dir = Path(work_dir).resolve()
    notes: list[str] = []
    meta = checkpoint.get("meta")
    if isinstance(meta, dict):
        for key in CONFIG_KEYS:
            meta.pop(key, None)  # never parsed: Config.fromstring would execute it
        seed = meta.get("seed")
        if seed is not None and not (_whole_number(seed) and seed < SEED_LIMIT):
            notes.append(f"ignoring seed={seed!r} from the checkpoint: not a seed below 2**32")
            meta.pop("seed")
    hub = checkpoint.get("message_hub")
    if isinstance(hub, dict) and isinstance(hub.get("runtime_info"), dict):
        hub["runtime_info"] = _restored_info(hub["runtime_info"], work_dir, notes)
        if isinstance(hub.get("resumed_keys"), dict):
            hub["resumed_keys"] = {k: v for k, v in hub["resumed_keys"].items()
                                   if k in hub["runtime_info"] or k in hub.get("log_scalars", {})}
    return notes


def schedule_of(param_schedulers: Any) -> list[tuple[Any, Any]]:
    """(begin, end) of each parameter scheduler, from a config or a checkpoint."""
    if isinstance(param_schedulers, dict):
        param_schedulers = [param_schedulers]
    return [(s.get("begin"), s.get("end")) for s in param_schedulers or []
            if isinstance(s, dict)]


def check_same_schedule(checkpoint: dict, path: Path, cfg) -> None:
    """Refuse to resume with another schedule length: mmengine restores the saved schedulers,
    whose PolyLR reaches lr 0 at its saved end, and multiplies from there (so a longer run would
    train at lr 0, a shorter one stop mid-decay)."""
    saved = schedule_of(checkpoint.get("param_schedulers"))
    wanted = schedule_of(cfg.get("param_scheduler"))
    if not saved or not wanted or saved == wanted:
        return
    saved_end, wanted_end = max(e for _, e in saved), max(e for _, e in wanted)
    raise MapSageError(
        f"Cannot resume from {str(path)!r}: that run's learning-rate schedule ends at iteration "
        f"{saved_end} (max_iters={saved_end}), this one at {wanted_end}. mmengine restores the "
        "saved schedule, so the iterations past its end would train at learning rate 0. "
        f"Resume with max_iters={saved_end}, or train longer in a new work_dir with "
        "load_from=<this run's best checkpoint>; nothing was trained or overwritten."
    )


def vet_resume_candidate(path: Path, work_dir: str | Path, cfg=None) -> None:
    """Refuse a resume candidate that is damaged (CRC, truncation, unreadable pickle) or holds
    more than plain data where mmengine reads it (UnusableCheckpoint: the next one is tried);
    with ``cfg``, refuse one of another schedule or whose training state is poisoned
    (:mod:`mapsage.training.checkpoint.resume_state`; MapSageError: resume stops)."""
    from mapsage.training.checkpoint.resume_state import check_training_state
    from mapsage.training.distributed import world_size

    try:
        check_archive(path, role="checkpoint")
        checkpoint = load_checkpoint_file(path, role="checkpoint")
    except MapSageError as exc:
        raise UnusableCheckpoint(str(exc)) from exc
    check_structure(checkpoint)
    if cfg is not None:
        check_same_schedule(checkpoint, path, cfg)
        check_training_state(checkpoint, path, cfg, world_size())
    sanitise(checkpoint, work_dir)
