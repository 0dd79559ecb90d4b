"""What a run ran on: versions of the stack and the device, recorded in metrics.json."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment(device: str) -> dict:
    """Python, platform, torch (and its CUDA), mmcv, mmengine, mmseg, numpy, the device and, on
    CUDA, the GPU names: what a run ran on, for metrics.json."""
    import torch

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "mmcv": _version("mmcv"),
        "mmengine": _version("mmengine"),
        "mmseg": _version("mmsegmentation"),
        "numpy": _version("numpy"),
        "device": device,
        "executable": sys.executable,
        "mapsage_path": str(Path(__file__).resolve().parents[1]),
    }
    if device == "cuda":
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info
