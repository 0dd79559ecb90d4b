"""Resume trusts nothing in a checkpoint: no string in its metadata runs, no path in it is deleted.

The attacks are the ones an adversarial review reproduced against mmengine 0.10.7's resume:
``meta['config']`` is handed to ``Config.fromstring`` (which executes it), and the message hub's
``best_ckpt`` is a path CheckpointHook deletes at the next improvement. Each test edits a real
checkpoint of a real (tiny) run with the safe loader, resumes with the real training command, and
checks the marker file or victim folder. (The vetting's parts on hand-made checkpoints are
tests/unit/training/test_resume_security.py.)
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from mapsage.errors import MapSageError, UnusableCheckpoint
from mapsage.training.checkpoint.names import best_checkpoint, iter_checkpoints
from mapsage.training.checkpoint.resume import newest_valid_checkpoint
from mapsage.training.checkpoint.resume_guard import vet_resume_candidate
from mapsage.training.checkpoint.safe_load import check_checkpoint, load_checkpoint_file
from mapsage.training.workdir_lock import LOCK_NAME

pytestmark = pytest.mark.slow


def _copy(run: Path, where: Path) -> Path:
    target = where / "runB"
    shutil.copytree(run, target, symlinks=True)  # cp -a
    return target


def _edit(path: Path, change) -> None:
    checkpoint = load_checkpoint_file(path, role="checkpoint")  # memory-maps the file
    change(checkpoint)
    edited = path.with_suffix(".edited")
    torch.save(checkpoint, edited)
    edited.replace(path)  # a new file: the mapped one is not truncated under the tensors


def _rewind_to_iter_2(work_dir: Path, change) -> None:
    """Resume from iter_2.pth (iter_4.pth gone), so iterations 3-4 train and validate again;
    ``change`` edits iter_2.pth. ``best_score`` is lowered (to 0, the least a score can be: resume
    refuses one out of range) so that iteration 4 is a new best and CheckpointHook removes the
    previous best checkpoint, the step that deletes ``best_ckpt``."""
    (work_dir / "iter_4.pth").unlink()

    def edit(checkpoint):
        checkpoint["message_hub"]["runtime_info"]["best_score"] = 0.0
        change(checkpoint)

    _edit(work_dir / "iter_2.pth", edit)


def _files(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its size, but the work_dir lock (the run's claim)."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.name != LOCK_NAME}


def test_a_config_string_in_meta_never_runs(finished_run, tiny_training, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    marker = tmp_path / "PWNED"

    def plant(checkpoint):
        checkpoint["meta"]["config"] = f"x = __import__('os').system('touch {marker}')\n"

    _edit(work_dir / "iter_4.pth", plant)
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"mapsage: resuming from {work_dir / 'iter_4.pth'}" in proc.stdout
    assert not marker.exists(), "the checkpoint's meta['config'] was executed"


def test_best_ckpt_outside_the_work_dir_is_never_removed(finished_run, tiny_training, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")

    def plant(checkpoint):
        checkpoint["message_hub"]["runtime_info"]["best_ckpt"] = str(victim)

    _rewind_to_iter_2(work_dir, plant)
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (victim / "thesis.tex").read_text() == "years of work"
    assert f"ignoring best_ckpt={str(victim)!r} from the checkpoint" in proc.stdout + proc.stderr
    assert (work_dir / "best_mIoU_iter_4.pth").is_file(), "iteration 4 was a new best"


def test_a_copied_run_never_deletes_the_original(finished_run, tiny_training, tmp_path):
    original = _copy(finished_run, tmp_path / "a")
    copied = tmp_path / "copy"
    shutil.copytree(original, copied, symlinks=True)
    # whichever iteration was best, the copy's iter_2.pth names a best file of the original run
    # that the copy holds too (under the same name), as after `cp -a` of a run whose best is 2
    (kept,) = copied.glob("best_*.pth")
    best = "best_mIoU_iter_2.pth"
    kept.rename(copied / best)
    shutil.copy2(copied / best, original / best)

    def point_at_the_original(checkpoint):
        checkpoint["message_hub"]["runtime_info"]["best_ckpt"] = str(original / best)

    _rewind_to_iter_2(copied, point_at_the_original)
    before = _files(original)
    proc = tiny_training(copied, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _files(original) == before, "resuming the copy changed the original run"
    assert "outside this work_dir (a copied run?)" in proc.stdout + proc.stderr
    # the copy's own previous best is the one replaced, inside the copy
    assert not (copied / best).exists() and (copied / "best_mIoU_iter_4.pth").is_file()


def _replace_strings(node, make):
    """``node`` with every string value (at any depth) replaced by ``make(i)``, i counting."""
    count = 0

    def walk(value):
        nonlocal count
        if isinstance(value, str):
            count += 1
            return make(count)
        if isinstance(value, dict):
            return type(value)((k, walk(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return type(value)(walk(v) for v in value)
        return value

    return walk(node), lambda: count


def _plant_everywhere(checkpoint, make) -> int:
    """Every string in ``meta`` and in the message hub's information becomes ``make(i)``; the
    config keys mmengine could parse and every path CheckpointHook deletes are among them."""
    checkpoint["meta"]["config"] = "placeholder"
    info = checkpoint["message_hub"]["runtime_info"]
    info["best_ckpt"] = info["best_ckpt_mIoU"] = info["last_ckpt"] = "placeholder"
    total = 0
    for owner, key in ((checkpoint, "meta"), (checkpoint["message_hub"], "runtime_info"),
                       (checkpoint["message_hub"], "resumed_keys")):
        owner[key], counted = _replace_strings(owner[key], make)
        total += counted()
    return total


def test_no_string_in_a_resumed_checkpoint_is_executed(finished_run, tiny_training, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    planted = []

    def snippet(i):
        path = markers / f"ran-{i}"
        return (f"__import__('pathlib').Path({str(path)!r}).touch()\n"
                f"import os; os.system('touch {path}-shell')\n")

    def plant(checkpoint):
        planted.append(_plant_everywhere(checkpoint, snippet))

    _rewind_to_iter_2(work_dir, plant)
    assert planted[0] >= 15, "the walk reached the checkpoint's strings"
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resumed epoch: 0, iter: 2" in proc.stdout + proc.stderr
    assert sorted(markers.iterdir()) == [], "a string from the checkpoint was executed"


def test_no_path_in_a_resumed_checkpoint_is_deleted(finished_run, tiny_training, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    victims = [tmp_path / "victim-dir", tmp_path / "victim-file.pth",
               work_dir / "iter_2.pth", work_dir / "metrics.json"]
    victims[0].mkdir()
    (victims[0] / "data.txt").write_text("keep me")
    victims[1].write_bytes(b"keep me")
    planted = []

    def plant(checkpoint):
        planted.append(_plant_everywhere(checkpoint, lambda i: str(victims[i % len(victims)])))
        checkpoint["message_hub"]["runtime_info"]["keep_ckpt_ids"] = [str(victims[0])]
        checkpoint["message_hub"]["runtime_info"]["best_score"] = 0.0

    _edit(work_dir / "iter_2.pth", plant)  # keep iter_4 as the newest: its file names victims
    (work_dir / "iter_4.pth").unlink()
    proc = tiny_training(work_dir, "resume=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (victims[0] / "data.txt").read_text() == "keep me"
    assert victims[1].read_bytes() == b"keep me"
    assert (work_dir / "iter_2.pth").is_file() and (work_dir / "metrics.json").is_file()
    assert planted[0] >= 15, "the walk reached the checkpoint's strings"


def test_meta_holding_objects_is_refused_naming_the_key(finished_run, tmp_path):
    work_dir = _copy(finished_run, tmp_path)

    def plant(checkpoint):  # an object the allowlist admits (as the message hub needs it)
        checkpoint["meta"]["config"] = checkpoint["message_hub"]["log_scalars"]["train/loss"]

    _edit(work_dir / "iter_4.pth", plant)
    with pytest.raises(UnusableCheckpoint, match=r"meta\.config \(HistoryBuffer\)"):
        vet_resume_candidate(work_dir / "iter_4.pth", work_dir)
    assert newest_valid_checkpoint(work_dir) == work_dir / "iter_2.pth"


def _rewrite_zip(path: Path, change) -> None:
    """Rewrite the checkpoint archive member by member; ``change(name, data)`` returns the new
    bytes, or None to leave the member out."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for info, data in members:
            new = change(info.filename, data)
            if new is not None:
                archive.writestr(info, new)
    path.write_bytes(buffer.getvalue())


def test_a_damaged_newest_checkpoint_with_readable_data_pkl_is_skipped(finished_run, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    newest = work_dir / "iter_4.pth"
    _rewrite_zip(newest, lambda name, data: None if name.endswith("/data/0") else data)
    check_checkpoint(newest, role="checkpoint")  # data.pkl alone looks fine
    with pytest.raises(UnusableCheckpoint, match="cannot be loaded") as err:
        vet_resume_candidate(newest, work_dir)
    assert "weights_only" not in str(err.value)
    assert newest_valid_checkpoint(work_dir) == work_dir / "iter_2.pth"


def test_a_crc_corrupt_member_is_named(finished_run, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    newest = work_dir / "iter_4.pth"
    with zipfile.ZipFile(newest) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    raw = bytearray(newest.read_bytes())
    header = info.header_offset  # local header: name length at +26, extra length at +28
    start = header + 30 + int.from_bytes(raw[header + 26:header + 28], "little") \
        + int.from_bytes(raw[header + 28:header + 30], "little")
    raw[start] ^= 0xFF  # one flipped bit pattern inside the stored tensor bytes, same size
    newest.write_bytes(bytes(raw))
    with pytest.raises(MapSageError, match=f"its member {info.filename!r} fails its CRC check"):
        check_checkpoint(newest, role="checkpoint")
    assert newest_valid_checkpoint(work_dir) == work_dir / "iter_2.pth"


def test_stray_names_are_not_checkpoints(finished_run, tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    shutil.copy(work_dir / "iter_4.pth", work_dir / "iter_20 (copy).pth")
    shutil.copy(work_dir / "iter_4.pth", work_dir / "iter_30.pth.bak")
    (best,) = work_dir.glob("best_mIoU_iter_*.pth")
    shutil.copy(best, work_dir / "best_mIoU_iter_10_old.pth")
    assert iter_checkpoints(work_dir) == [work_dir / "iter_4.pth", work_dir / "iter_2.pth"]
    assert best_checkpoint(work_dir) == best
    assert newest_valid_checkpoint(work_dir) == work_dir / "iter_4.pth"


def test_resuming_with_another_schedule_length_is_refused(finished_run, tiny_training,
                                                         tmp_path):
    work_dir = _copy(finished_run, tmp_path)
    before = _files(work_dir)
    proc = tiny_training(work_dir, "resume=auto", "max_iters=8")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "schedule ends at iteration 4" in proc.stderr and "max_iters=4" in proc.stderr
    assert "learning rate 0" in proc.stderr
    assert _files(work_dir) == before, "nothing is written when resume is refused"


def test_checkpoints_that_all_fail_vetting_are_not_overwritten(finished_run, tmp_path):
    from mapsage.params import validate
    from mapsage.training.checkpoint.resume import select_resume

    work_dir = _copy(finished_run, tmp_path)
    for name in ("iter_2.pth", "iter_4.pth"):
        (work_dir / name).write_bytes((work_dir / name).read_bytes()[:4000])
    with pytest.raises(MapSageError, match=r"none of the checkpoints .* \(iter_4.pth, "
                                           r"iter_2.pth\) can be resumed"):
        select_resume(None, validate({"work_dir": str(work_dir), "resume": "auto"}))
