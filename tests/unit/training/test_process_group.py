"""Leaving the process group is safe when there is none (the two-rank run that leaves it for
real is tests/e2e/test_process_group.py)."""

from __future__ import annotations


def test_leaving_without_a_group_does_nothing():
    import torch.distributed as dist

    from mapsage.training.distributed import leave_process_group

    assert not dist.is_initialized()
    leave_process_group()
