"""Shared fixtures, and the rule for where a test lives (checked at collection, below).

``tests/unit/``: fast. No training, no notebook execution, no venv or wheel builds; each test under
about 5 s. A subprocess is fine when it is quick (``python -m mapsage ...`` that only parses,
checks or refuses). Nothing here is marked ``slow``.

``tests/e2e/``: everything else: trains a model, executes a notebook, builds a venv or wheel, or
takes longer. Every module marks itself ``pytestmark = pytest.mark.slow``.

So ``-m "not slow"`` (``make test-fast``) and ``tests/unit`` select the same tests. A test that
is partly both is split: the fast part under ``tests/unit/<package>/``, the slow part in
``tests/e2e/`` (the same file name where that reads well). Everything here runs the real stack:
torch, mmcv, mmengine, mmseg, papermill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """The demo's synthetic LoveDA-layout data set (default spec), generated once per session."""
    from mapsage.data.synth import generate

    return generate(tmp_path_factory.mktemp("data") / "synthetic-loveda", progress=None)


class TinyTraining:
    """``python -m mapsage.train`` of the tiny model on ``data_root``, a real process: 4
    iterations with a validation and a checkpoint every 2 (iter_2.pth, iter_4.pth, a best
    checkpoint), extra ``key=value`` arguments appended."""

    RUN = ("max_iters=4", "val_interval=2", "checkpoint_interval=2", "num_workers=0",
           "batch_size=4")

    def __init__(self, data_root: Path):
        self.data_root = data_root

    def cmd(self, work_dir: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "mapsage.train", f"data_root={self.data_root}",
                f"work_dir={work_dir}", *self.RUN, *extra]

    def __call__(self, work_dir: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(work_dir, *extra), capture_output=True, text=True,
                              timeout=600)


@pytest.fixture(scope="session")
def tiny_training(synthetic_root) -> TinyTraining:
    return TinyTraining(synthetic_root)


@pytest.fixture(scope="session")
def finished_run(tiny_training, tmp_path_factory) -> Path:
    """A finished :class:`TinyTraining` run (checkpoints, logs, metrics): copy it before editing."""
    work_dir = tmp_path_factory.mktemp("finished") / "run"
    proc = tiny_training(work_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class MitWeights:
    """ImageNet-style MiT weights files made here, never downloaded: a freshly initialised
    ``MixVisionTransformer`` of a model's size saved with ``torch.save`` as a plain state dict
    (as mmseg's mit2mmseg writes the published files), under the published file's name."""

    @staticmethod
    def name(model: str) -> str:
        from mmengine.config import Config

        from mapsage.models import config_for_model

        cfg = Config.fromfile(str(config_for_model(model)))
        return cfg.model.backbone.init_cfg.checkpoint.rsplit("/", 1)[-1]

    @staticmethod
    def backbone(model: str, seed: int = 1):
        import torch
        from mmengine.config import Config
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules

        from mapsage.models import config_for_model

        register_all_modules(init_default_scope=True)
        backbone_cfg = Config.fromfile(str(config_for_model(model))).model.backbone
        backbone_cfg.init_cfg = None
        torch.manual_seed(seed)
        backbone = MODELS.build(backbone_cfg)
        backbone.init_weights()
        return backbone

    def save(self, model: str, folder: Path, name: str | None = None):
        """Write ``model``'s weights into ``folder`` (as ``name``); return (path, state dict)."""
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (name or self.name(model))
        state = self.backbone(model).state_dict()
        torch.save(state, path)
        return path, state


@pytest.fixture(scope="session")
def mit_weights() -> MitWeights:
    return MitWeights()


@pytest.hookimpl(tryfirst=True)  # before -m deselects: a misplaced test is reported either way
def pytest_collection_modifyitems(config, items):
    """Fail collection when a test breaks the rule above: marked slow under tests/unit, or not
    marked slow under tests/e2e."""
    misplaced = []
    for item in items:
        slow = item.get_closest_marker("slow") is not None
        if slow and item.path.is_relative_to(ROOT / "tests" / "unit"):
            misplaced.append(f"{item.nodeid}: marked slow, but tests/unit is for fast tests "
                             "(move it to tests/e2e/)")
        elif not slow and item.path.is_relative_to(ROOT / "tests" / "e2e"):
            misplaced.append(f"{item.nodeid}: in tests/e2e but not marked slow (add "
                             "`pytestmark = pytest.mark.slow` to its module, or move it to "
                             "tests/unit/ if it is fast)")
    if misplaced:
        raise pytest.UsageError("tests in the wrong folder (the rule is at the top of "
                                "tests/conftest.py):\n  " + "\n  ".join(misplaced))


def pytest_configure(config):
    # keep the kernel and training subprocesses on the CPU and quiet about threads
    os.environ.setdefault("OMP_NUM_THREADS", "2")


def _write_bomb_png(path: Path, side: int) -> Path:
    """A valid 1-bit greyscale PNG of side x side pixels in a few kilobytes (a decompression
    bomb once side * side exceeds PIL.Image.MAX_IMAGE_PIXELS)."""
    import struct
    import zlib

    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def bomb_png():
    """``bomb_png(path, side)`` writes a tiny PNG file that declares side x side pixels."""
    return _write_bomb_png



@pytest.fixture(scope="session")
def cached_wheel():
    """The mmcv wheel this environment was provisioned from (setup stores it in the wheelhouse):
    a ``mapsage.provision.wheelhouse.CachedWheel``."""
    from mapsage.provision import mmcv as provision
    from mapsage.provision import wheelhouse

    here = provision.probe_torch()
    hit, refused = wheelhouse.find(provision.wheel_key(here, provision.ops_target(here)),
                                   [wheelhouse.default_root()])
    if hit is None:
        pytest.fail("no mmcv wheel for this torch in the wheelhouse; run `python -m "
                    f"mapsage.provision` first. Refused: {refused}")
    return hit


WATCHED_ENVIRONMENT = ("MAPSAGE_", "TORCH_CUDA_ARCH_LIST", "FORCE_CUDA", "CUDA_HOME",
                       "CUDA_PATH", "KAGGLE_", "WANDB_", "PIP_", "UV_", "CI", "MAX_JOBS", "MMCV_")
"""Variables MapSage's code reads (prefixes). Imports of third-party packages set others
(cv2: QT_*, LD_LIBRARY_PATH) once per process; those are not a test's doing. Nor is
CUDA_VISIBLE_DEVICES: device='cpu' hides CUDA in the process that trains, which for
``evaluate()`` is the test's own (on these GPU-less machines it changes nothing)."""


@pytest.fixture(autouse=True)
def _environment_left_as_found():
    """A test that leaves a variable MapSage reads changed fails, naming it, and the variable is
    put back: a leaked ``TORCH_CUDA_ARCH_LIST`` once turned every later provisioning decision
    into a CUDA build. Autouse fixtures are set up first, so this runs after monkeypatch has
    undone its changes."""
    def watched() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith(WATCHED_ENVIRONMENT)}

    before = watched()
    yield
    after = watched()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        for key in changed:
            if key in before:
                os.environ[key] = before[key]
            else:
                del os.environ[key]
        pytest.fail(f"the test left os.environ changed: {', '.join(changed)} (use monkeypatch)")
