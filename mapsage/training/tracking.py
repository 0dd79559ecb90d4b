"""Experiment tracking (the ``tracking`` parameter): which of mmengine's vis backends log the run.

``tensorboard`` (the default) adds mmengine's ``TensorboardVisBackend`` beside its
``LocalVisBackend``: event files under ``work_dir/<timestamp>/vis_data`` (Kaggle renders
TensorBoard output). ``wandb`` adds ``WandbVisBackend``, logging to Weights & Biases with the key
from ``WANDB_API_KEY`` or, on Kaggle, the notebook's secret of that name (Add-ons > Secrets).
``none`` keeps ``LocalVisBackend`` only (scalars.json in work_dir).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from typing import Any

from mapsage.errors import MapSageError, ParamError

TRACKING = ("tensorboard", "wandb", "none")
KEY_NAME = "WANDB_API_KEY"
BACKENDS = {
    "tensorboard": [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")],
    "wandb": [dict(type="LocalVisBackend"), dict(type="WandbVisBackend")],
    "none": [dict(type="LocalVisBackend")],
}
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def vis_backends(tracking: str) -> list[dict[str, Any]]:
    """The ``visualizer.vis_backends`` for ``tracking``."""
    return [dict(backend) for backend in BACKENDS[tracking]]


def apply_tracking(cfg, tracking: str) -> None:
    """Point the config's visualizer at the backends of ``tracking``."""
    visualizer = cfg.get("visualizer") or dict(type="SegLocalVisualizer")
    visualizer["vis_backends"] = vis_backends(tracking)
    # mmengine keeps one visualizer per name for the life of the process and hands an existing one
    # back, save folder and all: mmseg's fixed name "visualizer" made a second Runner in the same
    # process (evaluate(), then a training) log its scalars into the first one's work_dir
    visualizer["name"] = f"mapsage-visualizer-{uuid.uuid4().hex[:12]}"
    cfg.visualizer = visualizer
    cfg.vis_backends = visualizer["vis_backends"]


def kaggle_secret(name: str) -> str | None:
    """Kaggle's notebook secret ``name`` (None off Kaggle or when the notebook has none)."""
    if importlib.util.find_spec("kaggle_secrets") is None:
        return None
    from kaggle_secrets import UserSecretsClient  # Kaggle's own module, on its images only

    try:
        return UserSecretsClient().get_secret(name) or None
    except Exception:  # a secret not attached to the notebook raises
        return None


def check_tracking(tracking: str) -> None:
    """Refuse, before anything heavy, a tracking choice this run cannot honour: no W&B key, or
    its package missing. A key found in Kaggle's secrets is put in ``WANDB_API_KEY`` for wandb."""
    if tracking == "wandb" and not os.environ.get(KEY_NAME):
        key = kaggle_secret(KEY_NAME)
        if not key:
            raise ParamError(
                f"tracking='wandb' needs a Weights & Biases API key, and none was found: "
                f"{KEY_NAME} is not set and there is no Kaggle secret of that name. Set "
                f"{KEY_NAME} (your key from https://wandb.ai/authorize), or on Kaggle add a "
                f"secret named {KEY_NAME} (Add-ons > Secrets) and attach it to the notebook; or "
                "use tracking=tensorboard or tracking=none.")
        os.environ[KEY_NAME] = key
    package = PACKAGES.get(tracking)
    if package and importlib.util.find_spec(package) is None:
        raise MapSageError(
            f"tracking={tracking!r} needs the {package!r} package, which is not installed in "
            f"this Python. Install it with `python -m pip install {package}` (on Kaggle, in a "
            "cell before training), or use tracking=none.")
