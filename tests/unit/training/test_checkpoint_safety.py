"""Checkpoints: a crafted pickle never runs, misfits are listed, trust is explicit."""

from __future__ import annotations

import collections
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mapsage.errors import MapSageError
from mapsage.models import MODEL_CONFIGS
from mapsage.paths import CONFIG_DIR
from mapsage.training.checkpoint.safe_load import (
    check_checkpoint,
    check_compatible,
    safe_checkpoint_loading,
)


class CreatesMarker:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class WalksWithGetattr:
    """Unpickling this calls builtins.getattr on something other than HistoryBuffer."""

    def __reduce__(self):
        return (getattr, (collections.OrderedDict, "fromkeys"))


def _model(model="tiny", **head):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(str(CONFIG_DIR / MODEL_CONFIGS[model]))
    cfg.model.decode_head.update(head)
    return MODELS.build(cfg.model)


def _train(data, work_dir, *extra):
    return subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         "max_iters=2", "val_interval=2", "checkpoint_interval=2", "num_workers=0", *extra],
        capture_output=True, text=True, timeout=600)


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, synthetic_root):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": CreatesMarker(marker)}, evil)
    proc = _train(synthetic_root, tmp_path / "w", f"load_from={evil}")
    assert proc.returncode == 2
    assert "posix.system" in proc.stderr and "could run code" in proc.stderr
    with pytest.raises(pickle.UnpicklingError), safe_checkpoint_loading():
        torch.load(evil)
    assert not marker.exists()
    assert not list((tmp_path / "w").glob("*.pth"))


def test_getattr_is_only_for_history_buffer(tmp_path):
    crafted = tmp_path / "walk.pth"
    torch.save({"meta": WalksWithGetattr()}, crafted)
    with pytest.raises(pickle.UnpicklingError, match="refused getattr\\(OrderedDict"), \
            safe_checkpoint_loading():
        torch.load(crafted)


def test_missing_corrupt_and_truncated_files(tmp_path):
    with pytest.raises(MapSageError, match="does not exist"):
        check_checkpoint(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(MapSageError, match="not a torch checkpoint"):
        check_checkpoint(junk)
    good = tmp_path / "good.pth"
    torch.save({"state_dict": _model().state_dict()}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MapSageError, match="truncated|cannot be read"):
        check_checkpoint(truncated)


def test_other_architecture_lists_the_mismatched_keys(tmp_path):
    ckpt = tmp_path / "tiny.pth"
    torch.save({"state_dict": _model("tiny").state_dict()}, ckpt)
    with pytest.raises(MapSageError) as err:
        check_compatible(ckpt, _model("b0"))
    text = str(err.value)
    assert "does not fit the model" in text and "shape mismatches" in text
    assert "backbone.layers.0.0.projection.weight: checkpoint (16, 3, 7, 7) vs model (32, 3, 7, 7)" in text
    assert "missing from the checkpoint" in text


def test_other_class_count_is_named(tmp_path, synthetic_root):
    ckpt = tmp_path / "six.pth"
    torch.save({"state_dict": _model("tiny", num_classes=6).state_dict()}, ckpt)
    with pytest.raises(MapSageError, match=r"decode_head.conv_seg.weight: checkpoint \(6, 64, 1, 1\) "
                                           r"vs model \(7, 64, 1, 1\)"):
        check_compatible(ckpt, _model("tiny"))
    proc = _train(synthetic_root, tmp_path / "w", f"load_from={ckpt}")
    assert proc.returncode == 2 and "decode_head.conv_seg" in proc.stderr
    assert not list((tmp_path / "w").glob("*.pth"))


def test_resuming_a_run_of_another_model_is_refused_before_training(tmp_path, synthetic_root):
    work_dir = tmp_path / "w"
    work_dir.mkdir()
    earlier = work_dir / "iter_2.pth"
    hub = {"log_scalars": {}, "runtime_info": {}, "resumed_keys": {}}
    torch.save({"meta": {"iter": 2, "epoch": 0}, "message_hub": hub,
                "state_dict": _model("tiny").state_dict()}, earlier)
    before = earlier.read_bytes()
    proc = _train(synthetic_root, work_dir, "model=b0", "resume=auto", "crop_size=128")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"Cannot resume from {str(earlier)!r}" in proc.stderr
    assert "work_dir holds a run of another model" in proc.stderr
    assert ("backbone.layers.0.0.projection.weight: checkpoint (16, 3, 7, 7) vs model "
            "(32, 3, 7, 7)") in proc.stderr
    assert earlier.read_bytes() == before
    # nothing is new: the refused run removed its claim on the folder (its lock) too
    assert sorted(p.name for p in work_dir.iterdir()) == ["iter_2.pth"]


def test_init_cfg_checkpoints_are_vetted_even_when_the_environment_disables_weights_only(
        tmp_path, synthetic_root, monkeypatch):
    marker = tmp_path / "pwned"
    evil = tmp_path / "mit_pretrained.pth"
    torch.save({"state_dict": {}, "meta": CreatesMarker(marker)}, evil)
    # the common workaround for mmengine on torch >= 2.6; it would make mmengine unpickle anything
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    proc = _train(synthetic_root, tmp_path / "w", "model.backbone.init_cfg.type=Pretrained",
                  f"model.backbone.init_cfg.checkpoint={evil}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "mapsage: ignoring TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in proc.stdout
    assert (f"model.backbone.init_cfg.checkpoint {str(evil)!r} needs Python objects that MapSage "
            "does not load from checkpoints: posix.system") in proc.stderr
    assert not marker.exists()
    assert not list((tmp_path / "w").glob("*.pth"))


def test_forced_weights_only_overrides_an_explicit_weights_only_false(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"meta": CreatesMarker(marker)}, evil)
    code = ("import os, pickle, torch\n"
            "from mapsage.training.checkpoint.safe_load import force_weights_only\n"
            "print(force_weights_only())\n"
            f"try:\n    torch.load({str(evil)!r}, weights_only=False)\n"
            "except pickle.UnpicklingError:\n    print('refused')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "refused"
    assert "ignoring TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in proc.stdout
    assert not marker.exists()
