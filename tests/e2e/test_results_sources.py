"""Issue 21 on a real tiny run: report.md lists the run's key parameters and says which split
and checkpoint each picture shows; the pictures carry it too (PNG Description, and the title)."""

from __future__ import annotations

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def test_report_and_pictures_name_split_checkpoint_and_parameters(finished_run, tiny_training):
    report = (finished_run / "report.md").read_text()
    assert "## Parameters" in report
    for row in ("| model | `'tiny'` |", "| max_iters | 4 |", "| batch_size | 4 |",
                "| val_interval | 2 |", "| seed | 0 |"):
        assert row in report, row
    val = len(list(tiny_training.data_root.glob("Val/*/images_png/*.png")))
    matrix = Image.open(finished_run / "confusion_matrix.png").info["Description"]
    assert matrix.startswith(f"LoveDA Val ({val} images); ") and "final evaluation, iteration 4 (iter_4.pth)" \
        in matrix, matrix
    shown = Image.open(finished_run / "predictions.png").info["Description"]
    assert shown.startswith(f"LoveDA Val ({val} images), first ") and "best checkpoint, iteration" in shown, shown
    assert "best_mIoU_iter_" in shown
    assert f"{matrix}." in report and f"{shown}." in report
