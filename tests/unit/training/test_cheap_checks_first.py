"""Cheap checks first (issue 21): a b0 run whose config crop (512) is larger than the tiles is
refused for the crop before its pretrained weights are looked up, even offline with none cached."""

from __future__ import annotations

import os
import subprocess
import sys


def test_crop_is_refused_before_the_weights_are_looked_up(synthetic_root, tmp_path):
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    env = {**os.environ, "MAPSAGE_OFFLINE": "1", "MAPSAGE_PRETRAINED_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
         f"work_dir={tmp_path / 'run'}", "model=b0", "max_iters=2", "num_workers=0"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    error = proc.stderr[proc.stderr.index("mapsage.train: error:"):]
    assert "crop_size" in error and "larger than the training images" in error, error
    assert "MAPSAGE_OFFLINE" not in error and "pretrained" not in error.lower(), error
    assert not any(cache.iterdir())
