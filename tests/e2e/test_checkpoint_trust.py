"""Trust in a checkpoint is explicit: one holding an object outside the safe list is refused by
the loader and by a training run, and loads and trains with ``trust_checkpoint=True`` (a real
2-iteration run; the rest of checkpoint safety is tests/unit/training/test_checkpoint_safety.py)."""

from __future__ import annotations

import fractions

import pytest
import torch

from mapsage.errors import MapSageError
from mapsage.training.checkpoint.safe_load import check_checkpoint, load_state_dict
from tests.unit.training.test_checkpoint_safety import _model, _train

pytestmark = pytest.mark.slow


def test_trust_is_explicit(tmp_path, synthetic_root):
    ckpt = tmp_path / "with-extra.pth"
    torch.save({"state_dict": _model("tiny").state_dict(), "meta": {"ratio": fractions.Fraction(1, 3)}},
               ckpt)
    with pytest.raises(MapSageError, match="fractions.Fraction.*trust_checkpoint=True"):
        check_checkpoint(ckpt)
    path, extra = check_checkpoint(ckpt, trust=True)
    assert [name for _, name in extra] == ["fractions.Fraction"]
    assert "decode_head.conv_seg.weight" in load_state_dict(path, extra)
    refused = _train(synthetic_root, tmp_path / "w1", f"load_from={ckpt}")
    assert refused.returncode == 2 and "fractions.Fraction" in refused.stderr
    trusted = _train(synthetic_root, tmp_path / "w2", f"load_from={ckpt}", "trust_checkpoint=True")
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert "trust_checkpoint=True: allowing fractions.Fraction" in trusted.stdout
    assert (tmp_path / "w2" / "metrics.json").is_file()
