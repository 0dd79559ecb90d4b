"""The one list of models: each ``model=`` name and the config file (in ``mapsage/configs``)
that holds its recipe. Standard library only (the parameter schema imports it)."""

from __future__ import annotations

from pathlib import Path

from mapsage.errors import MapSageError
from mapsage.paths import CONFIG_DIR

MODEL_CONFIGS: dict[str, str] = {
    "tiny": "segformer_tiny_loveda-128x128.py",
    **{f"b{i}": f"segformer_mit-b{i}_loveda-512x512.py" for i in range(6)},
}
MODELS: tuple[str, ...] = tuple(MODEL_CONFIGS)


def config_for_model(model: str) -> Path:
    """The config file of ``model`` (one of :data:`MODELS`)."""
    path = CONFIG_DIR / MODEL_CONFIGS[model]
    if not path.is_file():
        raise MapSageError(f"Config {str(path)!r} for model {model!r} is missing from this "
                           "installation: reinstall MapSage.")
    return path
