"""An ``init_cfg`` checkpoint is vetted however its type is spelled: types are resolved through
mmengine's registry, as mmengine resolves them when it builds the initialiser."""

from __future__ import annotations

import pytest
from mmengine.model.weight_init import PretrainedInit

from mapsage.training.checkpoint.safe_load import init_checkpoints


@pytest.mark.parametrize("kind", ["Pretrained", "mmengine.Pretrained", PretrainedInit])
def test_every_spelling_of_pretrained_is_found(kind, tmp_path):
    weights = tmp_path / "w.pth"
    model = {"type": "EncoderDecoder",
             "backbone": {"init_cfg": {"type": kind, "checkpoint": str(weights)}}}
    assert init_checkpoints(model) == [("model.backbone.init_cfg.checkpoint", weights)]


def test_other_initialisers_are_not_checkpoints(tmp_path):
    model = {"init_cfg": [{"type": "Kaiming", "checkpoint": "x.pth"},
                          {"type": "NoSuchInit", "checkpoint": "y.pth"}]}
    assert init_checkpoints(model) == []
