"""What the built notebook's first-checks and provisioning cells run (mapsage.kaggle.cell_code):
the cells only call these with the build's values, so the code itself is tested here."""

from __future__ import annotations

import os

import envcheck.kaggle
import mapsage.provision.mmcv
from mapsage.kaggle import cell_code, cells

DIGEST = "a" * 64


def test_first_checks_trust_the_vouched_wheels_and_look_in_the_rehearsal_root(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    monkeypatch.setenv(envcheck.kaggle.VOUCHED_WHEELS_ENV, "b" * 64)
    seen = {}

    def run_first_checks(data_root, **kwargs):
        seen.update(kwargs, data_root=data_root)
        return ["checked"]

    monkeypatch.setattr(envcheck.kaggle, "run_first_checks", run_first_checks)
    got = cell_code.first_checks("/kaggle/input/loveda", device="cuda",
                                 loveda_source="alice/loveda", dataset=None, vouched=[DIGEST])
    assert got == ["checked"]
    assert seen == {"data_root": str(tmp_path / "input/loveda"), "input_root": tmp_path / "input",
                    "working_dir": tmp_path / "working", "device": "cuda",
                    "loveda_source": "alice/loveda", "dataset": None}
    assert os.environ[envcheck.kaggle.VOUCHED_WHEELS_ENV].split() == \
        ["b" * 64, DIGEST]


def test_provision_builds_for_the_sessions_gpus_and_the_listed_ones(monkeypatch):
    calls = []
    monkeypatch.setattr(mapsage.provision.mmcv, "provision_in_child", calls.append)
    monkeypatch.setattr(envcheck.kaggle, "gpus", lambda: [("Tesla T4", "7.5")])
    # set, then delete: monkeypatch records the variable's original state (unset) and restores
    # it, whatever provision() writes into os.environ below
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "restored at teardown")
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST")
    cell_code.provision()
    assert calls == [["--with-deps"]]
    assert "TORCH_CUDA_ARCH_LIST" not in os.environ
    cell_code.provision(also_for=[(6, 0)])
    assert os.environ["TORCH_CUDA_ARCH_LIST"] == "6.0;7.5"
    monkeypatch.setattr(envcheck.kaggle, "gpus", lambda: [])
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST")
    cell_code.provision(also_for=[(6, 0)])  # no GPU: CPU ops, the variable left unset
    assert "TORCH_CUDA_ARCH_LIST" not in os.environ
    assert calls == [["--with-deps"]] * 3


def test_the_cells_run_the_tested_code(monkeypatch):
    """Each cell's code is a call of cell_code with the build's values, nothing more."""
    checks = cells.first_checks_cell({"data_root": "/kaggle/input/x", "device": "cpu",
                                      "dataset": None}, "alice/x", [DIGEST])
    namespace = {}
    monkeypatch.setattr(cell_code, "first_checks", lambda *a, **k: (a, k))
    exec(compile(checks, "first-checks", "exec"), namespace)
    assert namespace["_first_checks"] == (("/kaggle/input/x",), {
        "device": "cpu", "loveda_source": "alice/x", "dataset": None, "vouched": [DIGEST]})
    calls = []
    monkeypatch.setattr(cell_code, "provision", lambda **k: calls.append(k))
    exec(compile(cells.provision_cell({}), "provision", "exec"), {})
    exec(compile(cells.provision_cell({"also_for_gpus": ["NvidiaTeslaP100"]}), "provision",
                 "exec"), {})
    assert calls == [{}, {"also_for": [(6, 0)]}]
