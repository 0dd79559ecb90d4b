"""``mapsage.train`` refuses a config whose ``init_cfg`` (spelled ``mmengine.Pretrained``) names a
crafted checkpoint: nothing is unpickled, nothing trained (the type lookup alone is
tests/unit/training/test_init_cfg_types.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mapsage.models import MODEL_CONFIGS
from mapsage.paths import CONFIG_DIR

pytestmark = pytest.mark.slow


class CreatesMarker:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_mmengine_pretrained_checkpoint_is_refused(tmp_path, synthetic_root):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": CreatesMarker(marker)}, evil)
    config = tmp_path / "mine.py"
    config.write_text(
        f"_base_ = [{str(CONFIG_DIR / MODEL_CONFIGS['tiny'])!r}]\n"
        f"model = dict(backbone=dict(init_cfg=dict(type='mmengine.Pretrained', "
        f"checkpoint={str(evil)!r})))\n")
    work_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", "--config", str(config),
         f"data_root={synthetic_root}", f"work_dir={work_dir}", "max_iters=2", "val_interval=2",
         "num_workers=0"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "model.backbone.init_cfg.checkpoint" in proc.stderr and "posix.system" in proc.stderr
    assert not marker.exists()
    assert not list(work_dir.glob("*.pth"))
