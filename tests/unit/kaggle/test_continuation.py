"""`mapsage build kaggle --continue-from`: the continuation kernel's definition and the cell that
brings the previous stage's work_dir into the session (on a simulated /kaggle tree)."""

from __future__ import annotations

import json

import nbformat
import pytest

from mapsage.errors import InputError, MapSageError
from mapsage.kaggle import cells, next_part, restore_part
from mapsage.kaggle.build import build
from mapsage.paths import KERNELS_DIR
from mapsage.results.record import build_metrics, write_json

FIRST = "alice/mapsage-segformer-loveda-training"


def test_each_stage_is_the_next_part_of_the_same_title():
    title = "MapSage SegFormer LoveDA Training"
    assert next_part.continuation_title(title, "mapsage-segformer-loveda-training") == \
        f"{title} part 2"
    assert next_part.continuation_title(f"{title} part 2",
                                           "mapsage-segformer-loveda-training-part-2") == \
        f"{title} part 3"


@pytest.mark.parametrize("ref", ["", "alice", "alice/", "/slug", "alice/Bad Slug", "a/b/c"])
def test_a_malformed_kernel_id_is_refused(ref):
    with pytest.raises(MapSageError, match="OWNER/SLUG"):
        next_part.parse_kernel_ref(ref)


def test_work_dir_outside_kaggle_working_is_refused():
    with pytest.raises(MapSageError, match="not under /kaggle/working/"):
        cells.restore_cell(FIRST, "/kaggle/input/run")


def _previous_output(root, *parts):
    """What Kaggle mounts for a kernel_sources entry: the kernel's /kaggle/working."""
    run = root.joinpath("input", *parts, "run")
    (run / "20260101_000000" / "vis_data").mkdir(parents=True)
    (run / "20260101_000000" / "vis_data" / "scalars.json").write_text('{"step": 1}\n')
    (run / "iter_1.pth").write_bytes(b"checkpoint bytes")
    rows = [{"step": 1, "loss": 2.0}, {"step": 1, "aAcc": 9.0, "mIoU": 3.0, "mAcc": 4.0}]
    write_json(run / "metrics.json", build_metrics(
        rows, ["road"], best_checkpoint=None, iterations=1, wall_time_s=9.0,
        status="time_limit", params={"max_iters": 40}))
    return run


@pytest.mark.parametrize("layout", [("mapsage-segformer-loveda-training",),
                                    ("notebooks", "alice", "mapsage-segformer-loveda-training")])
def test_restore_copies_the_previous_work_dir_once(layout, tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    _previous_output(tmp_path, *layout)
    lines = []
    target = restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lines.append)
    assert target == tmp_path / "working" / "run"
    assert (target / "iter_1.pth").read_bytes() == b"checkpoint bytes"
    assert (target / "20260101_000000" / "vis_data" / "scalars.json").is_file()
    assert "stopped with status 'time_limit' at iteration 1 of 40" in lines[0]
    (target / "metrics.json").write_text("{not json")  # a damaged file is only reported
    assert "unreadable" in restore_part._previous_status(target)
    (target / "iter_1.pth").write_bytes(b"trained further in this session")
    restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lines.append)
    assert (target / "iter_1.pth").read_bytes() == b"trained further in this session", \
        "a second run of the cell never overwrites this session's checkpoints"


def test_restore_without_the_mount_names_what_to_attach(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    (tmp_path / "input").mkdir()
    with pytest.raises(InputError, match=f"the output of {FIRST}"):
        restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lambda *_: None)


def test_restore_ignores_an_output_without_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    run = _previous_output(tmp_path, "mapsage-segformer-loveda-training")
    (run / "iter_1.pth").unlink()
    with pytest.raises(InputError, match="iter_\\*.pth"):
        restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lambda *_: None)


@pytest.mark.parametrize("stray", ["iter_4 (copy).pth", "iter_final.pth"])
def test_restore_ignores_files_that_are_not_checkpoints_of_the_run(stray, tmp_path,
                                                                   monkeypatch):
    """Issue 20: a stray ``iter_*.pth`` name beside the checkpoints is copied as any other file
    and never parsed as one (it used to raise ValueError after the copy)."""
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    run = _previous_output(tmp_path, "mapsage-segformer-loveda-training")
    (run / stray).write_bytes(b"not a checkpoint of the run")
    lines = []
    target = restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lines.append)
    assert "1 checkpoint(s), newest iter_1.pth" in lines[-1]
    assert (target / "iter_1.pth").read_bytes() == b"checkpoint bytes"


def test_restore_refuses_an_output_with_only_stray_names_before_copying(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    run = _previous_output(tmp_path, "mapsage-segformer-loveda-training")
    (run / "iter_1.pth").rename(run / "iter_final.pth")
    with pytest.raises(InputError, match="iter_\\*.pth"):
        restore_part.restore_previous_stage(FIRST, "/kaggle/working/run", log=lambda *_: None)
    assert not (tmp_path / "working" / "run").exists(), "nothing is copied before the refusal"


def test_built_continuation_attaches_the_source_and_resumes(tmp_path):
    bundle = build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=tmp_path,
                   continue_from=FIRST)
    assert bundle.name == "mapsage-segformer-loveda-training-part-2"
    meta = json.loads((bundle / "kernel-metadata.json").read_text())
    assert meta["id"] == "alice/mapsage-segformer-loveda-training-part-2"
    assert FIRST in meta["kernel_sources"]
    nb = nbformat.read(bundle / f"{bundle.name}.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    restore = next(i for i, t in enumerate(tags) if "mapsage-continue" in t)
    assert "mapsage-bundle" in tags[restore - 1]
    assert f"restore_previous_stage({FIRST!r}, '/kaggle/working/run')" in nb.cells[restore].source
    injected = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'resume = "auto"' in injected
    third = build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=tmp_path,
                  continue_from=meta["id"])
    assert json.loads((third / "kernel-metadata.json").read_text())["kernel_sources"][-1] == \
        meta["id"], "stage 3 is built from stage 2's id alone"
    assert third.name.endswith("-part-3")


def test_cli_builds_the_continuation_and_refuses_a_bad_id(tmp_path, capsys):
    from mapsage.cli import main

    assert main(["build", "kaggle", "--owner", "alice", "--out", str(tmp_path),
                 "--continue-from", FIRST]) == 0
    assert (tmp_path / "mapsage-segformer-loveda-training-part-2" / "kernel-metadata.json").is_file()
    assert main(["build", "kaggle", "--owner", "alice", "--out", str(tmp_path),
                 "--continue-from", "alice"]) == 2
    assert "is not a Kaggle kernel id OWNER/SLUG" in capsys.readouterr().err


@pytest.fixture()
def no_kaggle_user(tmp_path, monkeypatch):
    """No --owner source on this machine: no KAGGLE_USERNAME, an empty Kaggle config folder."""
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    (tmp_path / "kaggle-config").mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))


def test_continue_from_as_the_readme_writes_it_takes_the_owner_from_the_id(
        tmp_path, capsys, no_kaggle_user):
    """Issue 21: `mapsage build kaggle --continue-from OWNER/SLUG` without --owner used to stop
    with 'No Kaggle user name: pass --owner'."""
    from mapsage.cli import main

    assert main(["build", "kaggle", "--out", str(tmp_path / "o"), "--continue-from", FIRST]) == 0
    meta = json.loads((tmp_path / "o" / "mapsage-segformer-loveda-training-part-2" /
                       "kernel-metadata.json").read_text())
    assert meta["id"] == "alice/mapsage-segformer-loveda-training-part-2"
    assert "owner 'alice' taken from --continue-from" in capsys.readouterr().out


def test_owner_and_kaggle_username_still_win_over_the_continued_id(tmp_path, monkeypatch,
                                                                    no_kaggle_user):
    from mapsage.cli import main

    assert main(["build", "kaggle", "--owner", "carol", "--out", str(tmp_path / "a"),
                 "--continue-from", FIRST]) == 0
    monkeypatch.setenv("KAGGLE_USERNAME", "dave")
    assert main(["build", "kaggle", "--out", str(tmp_path / "b"), "--continue-from", FIRST]) == 0
    ids = [json.loads(next((tmp_path / d).glob("*/kernel-metadata.json")).read_text())["id"]
           for d in ("a", "b")]
    assert ids == ["carol/mapsage-segformer-loveda-training-part-2",
                   "dave/mapsage-segformer-loveda-training-part-2"]
    assert FIRST in json.loads(next((tmp_path / "b").glob("*/kernel-metadata.json"))
                               .read_text())["kernel_sources"]


def test_a_continuation_keeps_the_command_lines_parameters(tmp_path):
    bundle = build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=tmp_path,
                   parameters={"max_iters": 8000}, continue_from=FIRST,
                   loveda_source="bob/loveda-mirror")
    injected = nbformat.read(bundle / f"{bundle.name}.ipynb", as_version=4).metadata.papermill
    assert injected.parameters["max_iters"] == 8000 and injected.parameters["resume"] == "auto"
    record = json.loads((bundle / "mapsage-build.json").read_text())
    assert record["parameters"] == {"max_iters": 8000}, "resume=auto is the continuation's own"
    assert record["continue_from"] == FIRST and record["loveda_source"] == "bob/loveda-mirror"
