"""The one list of models: each ``model=`` name and the config file (in ``mapsage/configs``)
that holds its recipe, and :func:`config_path`, which turns the ``config`` parameter (a file of
the user's, one of MapSage's, or one of mmseg's own through mmengine's package scope
``mmseg::...``) into the file mmengine reads. Standard library only (the parameter schema
imports it): mmseg's configs are located with ``importlib.util.find_spec``, not by importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path, PurePosixPath

from mapsage.errors import MapSageError, ParamError
from mapsage.paths import CONFIG_DIR

MODEL_CONFIGS: dict[str, str] = {
    "tiny": "segformer_tiny_loveda-128x128.py",
    **{f"b{i}": f"segformer_mit-b{i}_loveda-512x512.py" for i in range(6)},
}
MODELS: tuple[str, ...] = tuple(MODEL_CONFIGS)
PACKAGE_SCOPES = ("mmseg",)
"""Packages whose configs ``config='<package>::<path>'`` names (mmengine's package scope: the
configs an OpenMMLab package installs under ``<package>/.mim/configs``)."""


def config_for_model(model: str) -> Path:
    """The config file of ``model`` (one of :data:`MODELS`)."""
    path = CONFIG_DIR / MODEL_CONFIGS[model]
    if not path.is_file():
        raise MapSageError(f"Config {str(path)!r} for model {model!r} is missing from this "
                           "installation: reinstall MapSage.")
    return path


def config_path(config: str | None, model: str) -> Path:
    """The config file a run trains: ``config`` when given (a path; the name of one of
    MapSage's configs; ``mmseg::<path>``), else the one of ``model``."""
    if config is None:
        return config_for_model(model)
    scope, sep, inner = config.partition("::")
    if sep:
        return _scoped(config, scope, inner)
    path = Path(config).expanduser()
    if path.is_file():
        return path
    if path.name == config and (CONFIG_DIR / config).is_file():
        return CONFIG_DIR / config
    raise ParamError(
        f"Parameter config = {config!r}: no such file. Expected an mmengine config file of "
        f"yours, one of MapSage's ({', '.join(sorted(p.name for p in CONFIG_DIR.glob('*.py')))}"
        "), or one of mmseg's as 'mmseg::<folder>/<file>.py' (e.g. "
        "'mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py').")


def _scoped(config: str, scope: str, inner: str) -> Path:
    if scope not in PACKAGE_SCOPES:
        raise ParamError(f"Parameter config = {config!r}: unknown package scope {scope!r}; "
                         f"MapSage reads configs of {', '.join(PACKAGE_SCOPES)} "
                         "('mmseg::<folder>/<file>.py').")
    relative = PurePosixPath(inner)
    if not inner or relative.is_absolute() or ".." in relative.parts:
        raise ParamError(f"Parameter config = {config!r}: expected '{scope}::<folder>/<file>.py', "
                         "a path inside the package's configs.")
    spec = importlib.util.find_spec(scope)
    if spec is None or not spec.submodule_search_locations:
        raise MapSageError(f"Parameter config = {config!r} needs the {scope} package, which is "
                           "not installed here (python -m envcheck says what to install).")
    configs = Path(next(iter(spec.submodule_search_locations))) / ".mim" / "configs"
    path = configs / relative
    if not path.is_file():
        raise ParamError(f"Parameter config = {config!r}: {scope} has no config {inner!r} (looked "
                         f"in {configs}). Its folders: "
                         f"{', '.join(sorted(p.name for p in configs.iterdir() if p.is_dir())[:60])}"
                         f"{' ...' if configs.is_dir() else ''}.")
    return path
