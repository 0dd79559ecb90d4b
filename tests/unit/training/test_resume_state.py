"""Poisoned training state is never reported as a good run: state nested past the recursion
limit is refused in one paragraph (the vetting of real checkpoints of a real run, and a run whose
loss stops being a number, are tests/e2e/test_resume_state.py)."""

from __future__ import annotations

import pytest


def test_state_nested_past_the_recursion_limit_is_refused_in_one_paragraph(tmp_path):
    from mmengine.config import Config

    from mapsage.models import config_for_model
    from mapsage.training.checkpoint.resume_state import PoisonedState, check_training_state

    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    checkpoint = {"meta": {"iter": 2, "epoch": 0}, "state_dict": {"w": deep}}
    cfg = Config.fromfile(str(config_for_model("tiny")))
    with pytest.raises(PoisonedState, match="nested inside each other beyond Python's "
                                            "recursion limit"):
        check_training_state(checkpoint, tmp_path / "iter_2.pth", cfg, 1)
