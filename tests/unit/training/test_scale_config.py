"""Issue 6, what a run at scale is given: the launcher's command for several processes, the AMP
dtype per GPU (AMP on a CPU refused before training) and the CPU distributed config (the runs
themselves are tests/e2e/test_scale_and_report.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mapsage.models import config_for_model
from mapsage.notebook.launch import processes_for, training_command
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
