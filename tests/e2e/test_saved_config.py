"""The config a MapSage run saves in its work_dir trains under mmengine's own Runner, with nothing
from MapSage but what the config's ``custom_imports`` names (as mmseg's ``tools/train.py`` runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

PLAIN_MMSEG_TRAIN = textwrap.dedent("""
    import sys
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(sys.argv[1])
    cfg.work_dir = sys.argv[2]
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint.interval = 2
    Runner.from_cfg(cfg).train()
    print("mapsage modules imported:", sorted(m for m in sys.modules if m.startswith("mapsage")))
""")


def test_saved_config_trains_under_plain_mmengine_runner(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    first = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
         f"work_dir={work_dir}", "max_iters=2", "val_interval=2", "checkpoint_interval=2",
         "num_workers=0"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    (saved,) = work_dir.glob("*.py")
    assert "mapsage.train" not in saved.read_text().split("custom_imports")[0]

    plain_dir = tmp_path / "plain"
    script = tmp_path / "plain_train.py"
    script.write_text(PLAIN_MMSEG_TRAIN)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, str(script), str(saved), str(plain_dir)],
                          capture_output=True, text=True, timeout=600, cwd=elsewhere)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "mapsage.training.plugins" in proc.stdout  # imported by custom_imports, nothing else
    assert "mapsage.train'" not in proc.stdout
    metrics = json.loads((plain_dir / "metrics.json").read_text())  # RunResultsHook ran
    assert metrics["iterations"] == 2
    assert set(metrics["per_class_IoU"]) == set(json.loads(
        (work_dir / "metrics.json").read_text())["per_class_IoU"])
    assert (plain_dir / "report.md").is_file() and (plain_dir / "predictions.png").is_file()
