"""Preflight (envcheck) and training (mapsage.data.layout) find LoveDA with one search
(envcheck.loveda.find_root), so they agree on every Kaggle mount layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from envcheck import kaggle as envcheck_kaggle
from envcheck import loveda
from mapsage.data.layout import find_loveda
from mapsage.errors import FirstChecksFailed, MapSageError


def _loveda(root: Path, doubled: bool) -> Path:
    for split in loveda.SPLITS:
        base = root / split / split if doubled else root / split
        for domain in loveda.DOMAINS:
            for sub in (loveda.IMAGES, loveda.MASKS):
                (base / domain / sub).mkdir(parents=True)
    return root


LAYOUTS = {
    "slug": ("loveda", False),
    "datasets/owner/slug, doubled splits": ("datasets/alice/loveda", True),
    "one folder deeper": ("datasets/alice/loveda/LoveDA", True),
    "notebook output mount": ("notebooks/alice/mapsage-bootstrap/data/LoveDA", False),
}


@pytest.mark.parametrize("relative,doubled", LAYOUTS.values(), ids=list(LAYOUTS))
def test_envcheck_and_training_agree(tmp_path, relative, doubled):
    input_root = tmp_path / "kaggle" / "input"
    expected = _loveda(input_root / relative, doubled)
    (tmp_path / "kaggle" / "working").mkdir()

    layout = find_loveda(input_root)  # training, data_root=/kaggle/input
    scanned = [i for i in envcheck_kaggle.scan_inputs(input_root) if "loveda" in i.kinds]
    checks = envcheck_kaggle.first_checks(str(input_root), input_root=input_root,
                                          working_dir=tmp_path / "kaggle" / "working",
                                          device="cpu", loveda_source="alice/loveda")
    assert layout.root == expected
    assert [i.loveda_root for i in scanned] == [str(expected)]
    assert checks[0].name == "loveda" and checks[0].severity == "ok"
    assert checks[0].detail == f"LoveDA at {expected}"
    assert {p.split for p in layout.parts} == {"train", "val"}


def test_too_deep_is_missed_by_both(tmp_path):
    input_root = tmp_path / "input"
    _loveda(input_root / "a" / "b" / "c" / "d" / "e" / "f", doubled=False)
    assert envcheck_kaggle.scan_inputs(input_root) == []
    with pytest.raises(MapSageError, match="No LoveDA layout"):
        find_loveda(input_root)


def test_missing_loveda_is_an_error_naming_the_data_set(tmp_path):
    (tmp_path / "input" / "other-data").mkdir(parents=True)
    with pytest.raises(FirstChecksFailed) as err:
        envcheck_kaggle.run_first_checks(str(tmp_path / "input"), input_root=tmp_path / "input",
                                         working_dir=tmp_path, device="cpu",
                                         loveda_source="alice/loveda")
    assert "LoveDA not found" in str(err.value) and "alice/loveda" in str(err.value)


def test_a_split_without_masks_is_an_error(tmp_path):
    root = _loveda(tmp_path / "input" / "loveda", doubled=False)
    (root / "Val" / "Rural" / loveda.MASKS).rmdir()
    checks = envcheck_kaggle.first_checks(str(tmp_path / "input"), input_root=tmp_path / "input",
                                          working_dir=tmp_path, device="cpu")
    assert checks[0].severity == "error" and "Val/Rural has no masks_png" in checks[0].detail


def test_cuda_without_a_gpu_is_an_error_on_a_machine_without_one(tmp_path):
    if envcheck_kaggle.gpus():
        pytest.skip("this machine has a GPU")
    checks = {c.name: c for c in envcheck_kaggle.first_checks(
        "synthetic", input_root=tmp_path, working_dir=tmp_path, device="cuda")}
    assert checks["gpu"].severity == "error" and "Accelerator" in checks["gpu"].detail
    assert checks["loveda"].severity == "info"


def test_first_checks_report_the_time_budgets_session_clock(tmp_path, monkeypatch):
    import time

    from envcheck import session
    from envcheck.kaggle_paths import REHEARSAL_ROOT_ENV

    monkeypatch.delenv(REHEARSAL_ROOT_ENV, raising=False)
    monkeypatch.setenv(session.START_ENV, str(time.time() - 1000))  # the session began 1000 s ago
    left = session.SESSION_LIMIT_S - session.SAFETY_MARGIN_S - 1000
    assert session.session_remaining() == pytest.approx(left, abs=5)
    _loveda(tmp_path / "input" / "loveda", doubled=False)
    (tmp_path / "working").mkdir()
    checks = envcheck_kaggle.first_checks(str(tmp_path / "input"), input_root=tmp_path / "input",
                                          working_dir=tmp_path / "working", device="cpu",
                                          internet=lambda: (True, "test"))
    (time_check,) = [c for c in checks if c.name == "time"]
    assert f"about {left / 3600:.1f} h left for training" in time_check.detail


def test_only_a_vouched_attached_wheel_is_recognised(tmp_path):
    entry = tmp_path / "input" / "mapsage-bootstrap" / "mapsage-wheelhouse" / "key"
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text("{not json")
    vouched = {envcheck_kaggle.VOUCHED_WHEELS_ENV: "a" * 64}
    assert not envcheck_kaggle.wheel_attached(tmp_path / "input", vouched)
    (entry / "manifest.json").write_text('{"wheel": "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl", '
                                         f'"sha256": "{"a" * 64}"}}')
    assert envcheck_kaggle.wheel_attached(tmp_path / "input", vouched)
    assert not envcheck_kaggle.wheel_attached(tmp_path / "input", {}), "nobody vouched for it"
