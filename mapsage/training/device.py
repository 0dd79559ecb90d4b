"""Which device and which process: CUDA or CPU, distributed or not, rank 0 or not."""

from __future__ import annotations

import os

from mapsage.errors import MapSageError


def resolve_device(requested: str) -> str:
    """Pick the device and hide CUDA from torch when the run must stay on the CPU."""
    if requested == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise MapSageError(
            "device='cuda' but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}). Turn on a GPU "
            "(Kaggle: Settings > Accelerator), or set device='auto' or 'cpu'."
        )
    if requested == "auto":
        return "cuda" if available else "cpu"
    return requested


def is_distributed() -> bool:
    """True in a process started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """True in rank 0 (and in a single-process run)."""
    return os.environ.get("RANK", "0") == "0"
