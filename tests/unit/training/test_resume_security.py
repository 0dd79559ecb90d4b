"""Resume trusts nothing in a checkpoint: the vetting's parts on hand-made checkpoints (what
``sanitise`` keeps, how a load failure is named). The attacks on a real run's checkpoints, resumed
with the real training command, are tests/e2e/test_resume_security.py."""

from __future__ import annotations

import pytest
import torch

from mapsage.errors import MapSageError
from mapsage.training.checkpoint.resume_guard import sanitise
from mapsage.training.checkpoint.safe_load import check_checkpoint, load_state_dict


def test_sanitise_keeps_only_what_checkpoint_hook_needs(tmp_path):
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    (work_dir / "best_mIoU_iter_2.pth").write_bytes(b"x")
    checkpoint = {
        "meta": {"iter": 2, "epoch": 0, "seed": 2**40, "config": "import os", "cfg": "x = 1"},
        "message_hub": {"log_scalars": {}, "resumed_keys": {"best_ckpt": True, "cfg": True},
                        "runtime_info": {
                            "best_ckpt": "/elsewhere/best_mIoU_iter_2.pth",
                            "best_ckpt_aAcc": str(work_dir / "iter_2.pth"),
                            "best_score": float("nan"), "best_score_aAcc": 50.0,
                            "keep_ckpt_ids": [2, "../../x"], "cfg": "import os",
                            "confusion_matrix": [[1]]}},
    }
    notes = sanitise(checkpoint, work_dir)
    assert checkpoint["meta"] == {"iter": 2, "epoch": 0}
    assert checkpoint["message_hub"]["runtime_info"] == {
        "best_ckpt": str(work_dir.resolve() / "best_mIoU_iter_2.pth"), "best_score_aAcc": 50.0}
    assert checkpoint["message_hub"]["resumed_keys"] == {"best_ckpt": True}
    assert len(notes) == 5 and any("seed=1099511627776" in n for n in notes)


def test_an_old_format_checkpoint_is_named_as_such(tmp_path):
    old = tmp_path / "old.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}}, old, _use_new_zipfile_serialization=False)
    with pytest.raises(MapSageError, match="old-format torch checkpoint") as err:
        check_checkpoint(old)
    assert "truncated" not in str(err.value)


def test_load_failures_never_advise_weights_only_false(tmp_path):
    import fractions

    crafted = tmp_path / "extra.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": fractions.Fraction(1, 3)}, crafted)
    with pytest.raises(MapSageError) as err:
        load_state_dict(crafted)
    assert "fractions.Fraction" in str(err.value)
    assert "weights_only" not in str(err.value) and "arbitrary code" not in str(err.value)
