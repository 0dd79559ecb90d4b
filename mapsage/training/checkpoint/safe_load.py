"""Load mmengine checkpoints on torch >= 2.6 without turning off ``weights_only``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: only tensors, containers and
an allowlist of globals may be unpickled. mmengine 0.10.7 calls ``torch.load`` without the
argument, and its own checkpoints carry a little more than weights: the message hub's
``HistoryBuffer`` objects (numpy arrays inside) and, for each buffer, its statistics methods,
pickled as ``getattr(buffer, "mean")``. Loading them fails with
"Unsupported global: mmengine.logging.history_buffer.HistoryBuffer".

The fix here keeps the safe unpickler and widens its allowlist by exactly what those files
need, for the duration of a ``with`` block (``torch.serialization.safe_globals``):

- ``HistoryBuffer`` and the numpy pieces that rebuild arrays, dtypes and scalars;
- ``builtins.getattr`` is *not* allowed. The name is mapped to :func:`history_buffer_method`,
  which only returns one of HistoryBuffer's registered statistics methods (``min``, ``max``,
  ``current``, ``mean``) from the HistoryBuffer class and refuses everything else, so a crafted
  file cannot walk from an object to ``os.system``.

Any other global in a file is refused with the list of what it asked for (see
:func:`check_checkpoint`); ``trust_checkpoint=True`` widens the allowlist by exactly those
globals, naming them. ``weights_only=False`` is never used here, and the training process forces
``weights_only=True`` even when the environment says otherwise (:func:`force_weights_only`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

from mapsage.errors import MapSageError

SAFE_LOAD_ENV, UNSAFE_LOAD_ENV = "TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
# HistoryBuffer registers these in __init__; custom ones via HistoryBuffer.register_statistics
BUILTIN_STATISTICS = frozenset({"min", "max", "current", "mean"})


def history_buffer_method(obj, name: str):
    """Stand-in for ``builtins.getattr`` while unpickling: HistoryBuffer statistics only."""
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = BUILTIN_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f"refused getattr({getattr(obj, '__name__', type(obj).__name__)}, {name!r}) while "
        "loading a checkpoint: only HistoryBuffer's statistics methods may be looked up"
    )


def allowlist() -> list:
    """Globals an mmengine checkpoint may use beyond torch's defaults, with their pickled names."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    entries = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (history_buffer_method, "builtins.getattr"),
    ]
    # numpy 2 pickles under numpy._core, numpy 1 under numpy.core; accept both spellings
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        entries += [(multiarray._reconstruct, f"{module}._reconstruct"),
                    (multiarray.scalar, f"{module}.scalar")]
    entries += [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)]
    return entries


def allowed_names() -> set[str]:
    names = set()
    for entry in allowlist():
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f"{entry.__module__}.{entry.__qualname__}")
    return names


@contextlib.contextmanager
def safe_checkpoint_loading(extra: list | None = None) -> Iterator[None]:
    """Let ``torch.load`` (weights_only=True) read mmengine checkpoints inside this block.

    ``extra`` widens the allowlist by globals the user explicitly trusted
    (:func:`trusted_globals`); it is empty unless ``trust_checkpoint=True``.
    """
    import torch

    with torch.serialization.safe_globals([*allowlist(), *(extra or [])]):
        yield


def _resolve_global(name: str):
    module, _, attr = name.rpartition(".")
    try:
        obj = importlib.import_module(module)
    except ImportError:
        # a class nested in a module: import the longest importable prefix, then walk
        module, _, outer = module.rpartition(".")
        obj = getattr(importlib.import_module(module), outer)
    return (getattr(obj, attr), name)


def trusted_globals(names: list[str]) -> list:
    """The objects behind ``names``, for a checkpoint the user trusts (trust_checkpoint=True)."""
    try:
        return [_resolve_global(n) for n in names]
    except (ImportError, AttributeError) as exc:
        raise MapSageError(
            f"trust_checkpoint=True, but the checkpoint needs {exc.name if hasattr(exc, 'name') else exc}"
            f", which cannot be imported here ({exc}). Install the package that wrote it, or "
            "re-save only the weights."
        ) from exc


def _describe_refusal(path: Path, refused: list[str], role: str) -> MapSageError:
    return MapSageError(
        f"{role} {str(path)!r} needs Python objects that MapSage does not load from "
        f"checkpoints: {', '.join(refused)}. Unpickling them could run code from the file. "
        "If you made this file yourself, re-save only its weights: "
        "torch.save({'state_dict': model.state_dict()}, 'weights.pth'); or, only if you trust "
        "its author, set trust_checkpoint=True."
    )


# what torch.save wrote before torch 1.6 (or with _use_new_zipfile_serialization=False): a pickle
# (protocol 2) of torch's magic number 0x1950a86a20f9469cfc6c, before any zip
LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def torch_reason(exc: BaseException) -> str:
    """What went wrong in a ``torch.load``, without torch's advice to retry with
    ``weights_only=False`` (which would run the file's code)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    elif "weights_only" in text:
        text = text.split("\n", 1)[0]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else 'no details'}"


def check_archive(path: Path, role: str) -> None:
    """Refuse a file that is not a complete torch zip archive, saying which case it is."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(len(LEGACY_MAGIC))
        if head == LEGACY_MAGIC:
            raise MapSageError(
                f"{role} {str(path)!r} is an old-format torch checkpoint (written by torch < 1.6, "
                "or with _use_new_zipfile_serialization=False), not the zip format MapSage "
                "reads. Re-save it with a current torch: torch.save(torch.load(old, "
                "weights_only=True), new)."
            )
        raise MapSageError(
            f"{role} {str(path)!r} is not a torch checkpoint (not a torch zip archive; "
            f"{path.stat().st_size} bytes). It may be truncated by an interrupted copy or "
            "download: copy it again, or use another checkpoint."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise MapSageError(
            f"{role} {str(path)!r} is a damaged zip archive ({type(exc).__name__}: {exc}). "
            "Copy it again, or use another checkpoint."
        ) from exc
    if bad is not None:
        raise MapSageError(
            f"{role} {str(path)!r} is corrupt: its member {bad!r} fails its CRC check (damaged "
            "on disk or in a copy). Copy it again, or use another checkpoint."
        )


def load_checkpoint_file(path: Path, extra: list | None = None, role: str = "load_from"):
    """The whole checkpoint, read with the safe unpickler; any failure is a MapSageError."""
    import torch

    try:
        with safe_checkpoint_loading(extra):
            return torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or refused content
        refused = _refused_globals(path, extra)
        if refused:
            raise _describe_refusal(path, refused, role) from exc
        raise MapSageError(
            f"{role} {str(path)!r} cannot be loaded ({torch_reason(exc)}). It is damaged or "
            "was not written by mmengine: copy it again, or use another checkpoint."
        ) from exc


def _refused_globals(path: Path, extra: list | None) -> list[str]:
    """The globals ``path`` asks for beyond the allowlist (empty when that cannot be told)."""
    import torch

    allowed = allowed_names() | {e[1] if isinstance(e, tuple) else
                                 f"{e.__module__}.{e.__qualname__}" for e in extra or []}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # a damaged archive: the caller reports the load failure itself
        return []
    return sorted(set(found) - allowed)


def check_checkpoint(path: str | Path, *, trust: bool = False,
                     role: str = "load_from") -> tuple[Path, list]:
    """Fail early and clearly when ``path`` is missing, corrupt or needs globals we don't allow.

    ``role`` names the file in messages (the parameter or config entry it came from). Returns the
    path and the extra globals to allow (non-empty only with ``trust``).
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise MapSageError(
            f"{role} {str(path)!r} does not exist. Point {role} at a .pth checkpoint "
            "(e.g. a previous run's best_mIoU_iter_N.pth), or set it to None."
        )
    check_archive(path, role)
    try:
        found = set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception as exc:  # torch raises several types for a damaged archive
        raise MapSageError(
            f"{role} {str(path)!r} cannot be read as a checkpoint ({torch_reason(exc)}). It is "
            "probably corrupt: copy it again, or use another checkpoint."
        ) from exc
    refused = sorted(found - allowed_names())
    if refused and not trust:
        raise _describe_refusal(path, refused, role)
    if refused:
        print(f"mapsage: trust_checkpoint=True: allowing {', '.join(refused)} from {path}",
              flush=True)
    return path, trusted_globals(refused)


def loads_pretrained(kind) -> bool:
    """Whether an ``init_cfg`` ``type`` builds mmengine's PretrainedInit (or a subclass), however
    it is spelled (``'Pretrained'``, ``'mmengine.Pretrained'``, ``'mmseg.Pretrained'``, the
    class itself): resolved through the registry mmengine builds it with."""
    from mmengine.model.weight_init import PretrainedInit
    from mmseg.registry import WEIGHT_INITIALIZERS

    if isinstance(kind, str):
        try:
            kind = WEIGHT_INITIALIZERS.get(kind)
        except (KeyError, ImportError, AttributeError):  # mmengine will say it is unknown
            return False
    return isinstance(kind, type) and issubclass(kind, PretrainedInit)


def init_checkpoints(model_cfg) -> list[tuple[str, Path]]:
    """Local files the model's ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (or a legacy
    ``pretrained=...``) will load, as (config key, path). URLs (``https://``, ``open-mmlab://``)
    are left to mmengine, whose ``torch.load`` runs under :func:`force_weights_only`."""
    found, stack = [], [("model", model_cfg)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if "type" in node and loads_pretrained(node["type"]):
                found.append((f"{where}.checkpoint", node.get("checkpoint")))
            if isinstance(node.get("pretrained"), str):
                found.append((f"{where}.pretrained", node["pretrained"]))
            stack.extend((f"{where}.{k}", v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{where}.{i}", v) for i, v in enumerate(node))
    return sorted((key, Path(value).expanduser()) for key, value in found
                  if isinstance(value, str) and "://" not in value)


def force_weights_only(environ=os.environ) -> str | None:
    """Make every ``torch.load`` of this process use the safe unpickler, whatever the environment.

    mmengine calls ``torch.load`` without ``weights_only``, so torch's default decides, and
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (a common workaround for torch 2.6's "Unsupported
    global" errors with mmengine) turns it off for every file, so a crafted ``init_cfg``
    checkpoint would run code. torch's own ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` forces it on, even
    where a caller passes ``weights_only=False``. Returns a note when the opposite setting was
    dropped.
    """
    unsafe = environ.pop(UNSAFE_LOAD_ENV, None)
    environ[SAFE_LOAD_ENV] = "1"
    if unsafe is None or unsafe.lower() not in ("1", "y", "yes", "true"):  # torch's reading
        return None
    return (f"mapsage: ignoring {UNSAFE_LOAD_ENV}={unsafe}: checkpoints are always loaded with "
            "weights_only=True and MapSage's allowlist (trust_checkpoint=True widens it for "
            "load_from and init_cfg files)")


def load_state_dict(path: Path, extra: list | None = None, role: str = "load_from") -> dict:
    """The model weights of a checkpoint, read with the safe unpickler (``role`` names the file
    in messages)."""
    checkpoint = load_checkpoint_file(path, extra, role)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise MapSageError(f"{role} {str(path)!r} holds no state_dict of model weights.")
    return {k.removeprefix("module."): v for k, v in state.items()}


def misfits(saved: dict, wanted: dict, *, extra_keys_matter: bool = True,
            source: str = "checkpoint") -> list[str]:
    """Lines listing how the tensors ``saved`` in a ``source`` differ from what a module
    ``wanted`` (shape mismatches, weights missing from the file and, if they matter, keys it
    should not have); empty when they fit."""
    shapes = sorted(f"{k}: {source} {tuple(saved[k].shape)} vs model {tuple(wanted[k].shape)}"
                    for k in set(saved) & set(wanted)
                    if hasattr(saved[k], "shape")
                    and tuple(saved[k].shape) != tuple(wanted[k].shape))
    missing = sorted(set(wanted) - set(saved))
    unexpected = sorted(set(saved) - set(wanted)) if extra_keys_matter else []
    lines = []
    for title, items in (("shape mismatches", shapes),
                         (f"weights missing from the {source}", missing),
                         ("not in the model", unexpected)):
        if items:
            shown = "\n      ".join(items[:8])
            more = f"\n      ... {len(items) - 8} more" if len(items) > 8 else ""
            lines.append(f"    {len(items)} {title}:\n      {shown}{more}")
    return lines


def _classes_in_words(model, dataset: dict | None) -> str:
    """``the 5 classes of roofs``: what the model being trained predicts, in words."""
    head = getattr(model, "decode_head", None)
    count = getattr(head, "num_classes", None)
    name = dataset.get("name") if isinstance(dataset, dict) else None
    if count is None:
        count = len(dataset["classes"]) if isinstance(dataset, dict) and \
            isinstance(dataset.get("classes"), list) else None
    what = f"the {count} classes" if count is not None else "the classes"
    return f"{what} of {name}" if name else f"{what} of this run's data set"


def check_compatible(path: Path, model, extra: list | None = None, *,
                     resuming: bool = False, dataset: dict | None = None) -> None:
    """Refuse a checkpoint made for another architecture or class count, listing the misfits
    (``dataset``: the run's data set description, ``cfg.dataset_description``, named in the
    message).

    mmengine would only log a warning and train from scratch with the weights that happen to fit
    (``load_from``), or fail with a traceback when it restores the optimiser (``resume``).
    """
    lines = misfits(load_state_dict(path, extra), model.state_dict())
    if not lines:
        return
    if resuming:
        raise MapSageError(
            f"Cannot resume from {str(path)!r}: work_dir holds a run of another model (another "
            "architecture, model size or number of classes?):\n" + "\n".join(lines) + "\n"
            "Resume with the model= and config that run used, or choose a new work_dir for this "
            "model; nothing was trained or overwritten."
        )
    raise MapSageError(
        f"load_from {str(path)!r} does not fit the model being trained (another architecture, "
        "model size or number of classes?):\n" + "\n".join(lines) + "\n"
        f"Use a checkpoint trained with the same model= (or config) and "
        f"{_classes_in_words(model, dataset)}, or set load_from=None."
    )
