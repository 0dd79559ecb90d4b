"""A kernel definition: a folder of ``kaggle/`` with ``kernel.json`` (Kaggle's metadata plus
MapSage's fields, :data:`MAPSAGE_FIELDS`) and ``params.yaml``. Reading and checking it, the
definitions it names (``measures``, ``outputs_of``), what it inherits from the run it measures,
the notebook it names and the parameters papermill injects into it.

A definition's ``kernel.json`` is Kaggle's metadata plus MapSage's fields (removed from the
pushed metadata): ``notebook`` (the name of one of MapSage's notebooks, e.g.
``train_segformer_loveda``) and ``parameters`` (what to build), ``loveda_source`` (the LoveDA
data set, required) or ``data_source`` (any other training data set, required; its
``dataset.yaml`` or the ``dataset`` parameter describes it), ``checkpoint_source`` (a data set with ``load_from``'s checkpoint, attached
only when set), ``outputs_of`` (definitions in the same folder whose kernels' outputs are
attached through ``kernel_sources``, e.g. the bootstrap's wheelhouse) and ``measures`` (for the
bootstrap: the definition whose full run it measures; its notebook gets ``train`` = that run's
parameters overlaid with this definition's, and ``full_run`` = that run's parameters).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mapsage import paths
from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle.slug import slug_of
from mapsage.notebook.execute import load_parameter_file
from mapsage.params import validate
from mapsage.paths import PROJECT_ROOT

MAPSAGE_FIELDS = ("notebook", "parameters", "loveda_source", "data_source", "checkpoint_source",
                  "outputs_of", "measures", "also_for_gpus")
"""kernel.json's fields that are MapSage's, not Kaggle's: removed from the pushed metadata."""


def load_definition(kernel_dir: Path) -> tuple[dict, dict]:
    """(kernel.json, the parameters of params.yaml, validated) of a kernel definition folder."""
    spec_path = kernel_dir / "kernel.json"
    if not spec_path.is_file():
        raise MapSageError(f"{spec_path} is missing: a kernel definition needs kernel.json.")
    try:
        spec = json.loads(spec_path.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise MapSageError(f"{spec_path} is not valid JSON ({exc}): fix the kernel "
                           "definition.") from None
    if not isinstance(spec, dict):
        raise MapSageError(f"{spec_path} must hold a JSON object, not {type(spec).__name__}.")
    params_path = kernel_dir / spec.get("parameters", "params.yaml")
    # the same reader, and the same clear errors, as `mapsage run -f`
    params = load_parameter_file(params_path) if params_path.is_file() else {}
    validate(params)  # a wrong Kaggle parameter fails the build, not a GPU session
    return spec, params


RELATED_FIELDS = ("measures", "outputs_of")
"""Fields of kernel.json that name other definitions (by folder name)."""


def related_names(spec: dict) -> list[tuple[str, str]]:
    """(field, name) of every definition ``spec`` names in :data:`RELATED_FIELDS`."""
    found = [("measures", spec["measures"])] if spec.get("measures") else []
    outputs = spec.get("outputs_of") or []
    if not isinstance(outputs, list):
        raise MapSageError(f"outputs_of = {outputs!r} must be a list of definition folder names "
                           "(e.g. [\"mapsage-bootstrap\"]): fix kernel.json.")
    return found + [("outputs_of", name) for name in outputs]


def related_definition(kernel_dir: Path, name: str, field: str) -> Path:
    """The definition folder that ``kernel_dir``'s ``field`` (``measures``, ``outputs_of``) names:
    its sibling ``kernel_dir/../name`` when that holds a kernel.json, else the project's
    ``kaggle/name`` (a definition copied elsewhere alone still builds)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise MapSageError(f"{kernel_dir / 'kernel.json'}: {field} names {name!r}, which is not "
                           "the folder name of a kernel definition (e.g. \"mapsage-bootstrap\"): "
                           "fix kernel.json.")
    sibling = Path(kernel_dir).parent / name
    if (sibling / "kernel.json").is_file():
        return sibling
    project = paths.KERNELS_DIR / name
    if (project / "kernel.json").is_file():
        return project
    raise MapSageError(
        f"{kernel_dir / 'kernel.json'} names {name!r} in {field}, but neither {sibling} nor the "
        f"project's {project} holds a kernel.json: copy that definition beside "
        f"{Path(kernel_dir).name}, or fix the name in {field}.")


def say_related(spec: dict, kernel_dir: Path, log=print) -> None:
    """Say which definition each ``measures`` / ``outputs_of`` name resolved to, when it is not
    the sibling folder (a copied definition falls back to the project's ``kaggle/``)."""
    for field, name in related_names(spec):
        used = related_definition(kernel_dir, name, field)
        if used != Path(kernel_dir).parent / name:
            log(f"{field} {name!r}: no {Path(kernel_dir).parent / name / 'kernel.json'} beside "
                f"{kernel_dir}; using the project's definition {used}")


INHERITED_FIELDS = ("loveda_source", "data_source", "machine_shape", "enable_gpu", "docker_image_pinning_type")
"""What a ``measures`` definition (the bootstrap) takes from the definition it measures, unless it
sets them itself: the same data set, machine and image."""


def resolve_spec(spec: dict, kernel_dir: Path) -> dict:
    """``spec`` with the fields it inherits from the definition it ``measures``."""
    measured = spec.get("measures")
    if not measured:
        return spec
    base, _ = load_definition(related_definition(kernel_dir, measured, "measures"))
    return {**{k: base[k] for k in INHERITED_FIELDS if k in base}, **spec}


def kernel_id(kernel_dir: Path, owner: str) -> str:
    """``owner/<slug of the title>`` of the kernel a definition builds."""
    spec, _ = load_definition(kernel_dir)
    return f"{owner}/{slug_of(spec['title'])}"


def notebook_parameters(spec: dict, params: dict, kernel_dir: Path,
                        overrides: dict) -> dict:
    """What papermill injects: the run's parameters, or for a ``measures`` definition (the
    bootstrap) ``train`` (the measured run's parameters overlaid with this definition's and the
    overrides) and ``full_run`` (the measured run as it will be pushed)."""
    measured = spec.get("measures")
    if not measured:
        return {**params, **overrides}
    _, base = load_definition(related_definition(kernel_dir, measured, "measures"))
    full_run = {**base, **{k: v for k, v in overrides.items() if k not in params}}
    train = {**base, **params, **overrides}
    validate(full_run)
    validate(train)
    return {"train": train, "full_run": full_run}


def notebook_named(name: str, kernel_dir: Path) -> Path:
    """The generated notebook a definition's ``notebook`` names (``train_segformer_loveda``: one
    of MapSage's notebooks, by name, not a path inside the package)."""
    available = sorted(p.stem for p in paths.NOTEBOOK_DIR.glob("*.ipynb"))
    if not isinstance(name, str) or name not in available:
        raise MetadataError(
            f"{kernel_dir / 'kernel.json'}: notebook {name!r} is not one of MapSage's notebooks "
            f"({', '.join(available)}). Name one of them (its sources are in notebooks/).")
    return paths.NOTEBOOK_DIR / f"{name}.ipynb"


def definition_reference(kernel_dir: Path) -> str:
    """``kernel_dir`` as the build record stores it: relative to the project when inside it."""
    resolved = Path(kernel_dir).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    return str(resolved)


def definition_path(reference: str) -> Path:
    """The definition folder a build record's ``definition`` names."""
    path = Path(reference)
    return path if path.is_absolute() else PROJECT_ROOT / path
