"""Issue 6: a 2-process CPU run through the notebook's launcher, AMP choices, report files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mapsage.models import config_for_model
from mapsage.notebook.launch import processes_for, run_training, training_command
from mapsage.params import validate
from mapsage.training.config import amp_dtype_for, build_config


def test_launcher_uses_torchrun_for_several_processes():
    params = validate({"gpus": 2})
    cmd = training_command(params, processes=processes_for(params))
    assert cmd[1:7] == ["-u", "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node=2", "-m"]
    assert cmd[7:10] == ["mapsage.train", "--launcher", "pytorch"]
    single = training_command(validate({}), processes=processes_for(validate({}), 0))
    assert single[1:4] == ["-u", "-m", "mapsage.train"]
    assert processes_for(validate({"device": "auto"}), gpus_visible=2) == 2
    assert processes_for(validate({"device": "cpu"}), gpus_visible=2) == 1


@pytest.mark.parametrize(("capability", "dtype"), [((6, 0), "float16"), ((7, 5), "float16"),
                                                   ((8, 0), "bfloat16"), ((9, 0), "bfloat16")])
def test_amp_dtype_follows_the_gpu(capability, dtype, synthetic_root, tmp_path):
    assert amp_dtype_for(capability) == dtype
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path), "amp": True})
    cfg = build_config(config_for_model("b0"), params, device="cuda",
                       amp_dtype=amp_dtype_for(capability))
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.get("loss_scale") == ("dynamic" if dtype == "float16" else None)


def test_amp_on_cpu_is_refused_before_training(synthetic_root, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={synthetic_root}",
         f"work_dir={tmp_path / 'w'}", "amp=True", "device=cpu"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "amp=True needs a CUDA GPU" in proc.stderr
    assert not list((tmp_path / "w").glob("*.pth"))


def test_cpu_distributed_config_uses_gloo_plain_bn_and_cpu_wrapper(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path)})
    cfg = build_config(config_for_model("tiny"), params, device="cpu", distributed=True)
    assert cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.model.decode_head.norm_cfg.type == "BN"
    assert cfg.model_wrapper_cfg.type == "CPUDistributedDataParallel"
    assert cfg.auto_scale_lr == {"enable": True, "base_batch_size": 16}


@pytest.mark.slow
def test_two_process_cpu_run_through_the_notebook_launcher(synthetic_root, tmp_path):
    work_dir = tmp_path / "dist"
    metrics = run_training(validate({
        "data_root": str(synthetic_root), "work_dir": str(work_dir), "gpus": 2, "max_iters": 20,
        "val_interval": 20, "checkpoint_interval": 20, "num_workers": 0, "batch_size": 4}))
    assert metrics["batch"]["processes"] == 2
    assert metrics["batch"]["effective_batch_size"] == 8 == 2 * metrics["batch"]["batch_per_process"]
    assert metrics["batch"]["lr_effective"] == pytest.approx(0.004 * 8 / 16)
    assert len(list(work_dir.glob("metrics.json"))) == 1
    assert sorted(p.name for p in work_dir.glob("*.pth")) == ["best_mIoU_iter_20.pth",
                                                               "iter_20.pth"]
    logs = "\n".join(p.read_text() for p in work_dir.glob("*/*.log"))
    assert "effective batch size 8 = 4 per process x 2 process(es)" in logs
    assert "Distributed launcher: pytorch" in logs


@pytest.mark.slow
def test_report_pictures_and_numbers_match_metrics(synthetic_root, tmp_path):
    work_dir = tmp_path / "run"
    metrics = run_training(validate({
        "data_root": str(synthetic_root), "work_dir": str(work_dir), "max_iters": 20,
        "val_interval": 10, "checkpoint_interval": 10, "num_workers": 0}))
    for name in ("training_curve.png", "confusion_matrix.png", "predictions.png"):
        with Image.open(work_dir / name) as picture:
            assert picture.format == "PNG" and min(picture.size) > 200
            assert len(np.unique(np.asarray(picture.convert("L")))) > 10, "not a blank image"
    saved = json.loads((work_dir / "metrics.json").read_text())
    assert saved == metrics
    report = (work_dir / "report.md").read_text()
    assert f"**mIoU {saved['mIoU']:.2f}**" in report
    for cls, iou in saved["per_class_IoU"].items():
        assert f"| {cls} | {iou:.2f} |" in report
    counts = saved["confusion_matrix"]["counts"]
    assert len(counts) == 7 and all(len(row) == 7 for row in counts)
    accuracy = sum(counts[i][i] for i in range(7)) / sum(map(sum, counts)) * 100
    assert accuracy == pytest.approx(saved["aAcc"], abs=0.01)

    compare = subprocess.run([sys.executable, "-m", "mapsage", "compare", str(work_dir),
                              str(work_dir), "--out", str(tmp_path / "cmp")],
                             capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0, compare.stderr
    assert "| **mIoU** |" in compare.stdout and "+0.00" in compare.stdout
    assert (tmp_path / "cmp" / "compare_curves.png").is_file()
