"""``python -m mapsage.train`` with ImageNet backbone weights: what it does when the file is there,
missing offline, for the wrong MiT size or booby-trapped, and ``--print-config``.

Weights files are made locally (``mit_weights`` fixture); ``MAPSAGE_OFFLINE=1`` guarantees no
download is attempted (this machine cannot reach download.openmmlab.com anyway).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from mapsage.data.synth import SynthSpec, generate

    return generate(tmp_path_factory.mktemp("small") / "data",
                    SynthSpec(train_per_domain=2, val_per_domain=1), progress=None)


@pytest.fixture()
def env(tmp_path):
    cache = tmp_path / "pretrained"
    environ = {**os.environ, "MAPSAGE_PRETRAINED_DIR": str(cache), "MAPSAGE_OFFLINE": "1",
               "TORCH_HOME": str(tmp_path / "torch")}
    environ.pop("MAPSAGE_KAGGLE_ROOT", None)
    return environ, cache


def _train(environ, data, work_dir, *args):
    return subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         "max_iters=2", "num_workers=0", "device=cpu", "crop_size=64", *args],
        capture_output=True, text=True, timeout=900, env=environ)


def test_offline_without_the_weights_stops_before_training(env, small_data, tmp_path):
    environ, cache = env
    proc = _train(environ, small_data, tmp_path / "run", "model=b0")
    assert proc.returncode == 2, proc.stderr
    assert "mit_b0_20220624-7e0fe6dd.pth are not on this machine" in proc.stderr
    assert str(cache) in proc.stderr and "/kaggle/input" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists() and not cache.exists(), "nothing written"


def test_b0_weights_for_a_b2_model_are_refused_with_the_shapes(env, small_data, tmp_path,
                                                               mit_weights):
    environ, cache = env
    mit_weights.save("b0", cache, name=mit_weights.name("b2"))
    proc = _train(environ, small_data, tmp_path / "run", "model=b2")
    assert proc.returncode == 2, proc.stderr
    assert "do not fit this model's backbone" in proc.stderr
    assert "layers.0.0.projection.weight: file (32, 3, 7, 7) vs model (64, 3, 7, 7)" in proc.stderr
    assert not (tmp_path / "run").exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_payload_in_the_weights_never_runs(env, small_data, tmp_path, mit_weights):
    environ, cache = env
    marker = tmp_path / "payload-ran"
    cache.mkdir()
    torch.save({"state_dict": {}, "x": _Payload(marker)}, cache / mit_weights.name("b0"))
    for extra in ([], ["trust_checkpoint=False"]):
        proc = _train({**environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, small_data,
                      tmp_path / "run", "model=b0", *extra)
        assert proc.returncode == 2, proc.stderr
        assert "model.backbone.init_cfg.checkpoint" in proc.stderr and "system" in proc.stderr
    assert not marker.exists(), "the pickle never ran"
    assert not (tmp_path / "run").exists()


def test_print_config_leaves_work_dir_untouched(env, small_data, tmp_path):
    environ, cache = env
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    (work_dir / "notes.txt").write_text("mine")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in work_dir.iterdir())
    for command in (["-m", "mapsage.train", "--print-config"],
                    ["-m", "mapsage", "train", "--print-config"]):
        proc = subprocess.run(
            [sys.executable, *command, "model=b2", f"data_root={small_data}",
             f"work_dir={work_dir}", "max_iters=1000"],
            capture_output=True, text=True, timeout=300, env=environ)
        assert proc.returncode == 0, proc.stderr
        assert "type='Pretrained'" in proc.stdout and "max_iters=1000" in proc.stdout
        assert "# mapsage: recipe: 1000 iterations (100 warm-up)" in proc.stdout
        assert "mit_b2_20220624-66e8bf70.pth (not on this machine: downloaded into" in proc.stdout
    assert sorted((p.name, p.stat().st_mtime_ns) for p in work_dir.iterdir()) == before
    assert not cache.exists(), "nothing downloaded"
    missing = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "mapsage.train", "--print-config",
                           "data_root=/no/such/data", f"work_dir={missing}"],
                          capture_output=True, text=True, timeout=300, env=environ)
    assert proc.returncode == 0 and "data_root='/no/such/data'" in proc.stdout
    assert not missing.exists()


def test_b0_trains_from_the_local_imagenet_weights(env, small_data, tmp_path, mit_weights):
    environ, cache = env
    path, _ = mit_weights.save("b0", cache)
    proc = _train(environ, small_data, tmp_path / "run", "model=b0", "batch_size=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f"mapsage: initial weights: pretrained backbone from {path}" in log
    assert f"load model from: {path}" in log, "mmengine's PretrainedInit loaded the file"
    assert (tmp_path / "run" / "metrics.json").is_file()
