"""The work_dir lock file is written in place (the holder's pid): a symbolic link planted at
``.mapsage.lock`` is refused with the link named, never opened, so nothing outside changes."""

from __future__ import annotations

import os

import pytest

from mapsage.errors import InputError
from mapsage.training.workdir_lock import LOCK_NAME, holder_of, lock_work_dir, unlock_work_dir

VICTIM = "the victim's own content\n"


@pytest.mark.parametrize("dangling", [False, True])
def test_a_linked_lock_file_is_refused_and_never_written(tmp_path, dangling):
    inside, outside = tmp_path / "work", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "victim").write_text(VICTIM)
    target = outside / ("missing" if dangling else "victim")
    (inside / LOCK_NAME).symlink_to(target)
    with pytest.raises(InputError) as caught:
        lock_work_dir(inside)
    message = str(caught.value)
    assert LOCK_NAME in message and "symbolic link" in message and str(target) in message
    assert holder_of(inside) is None
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "nothing created outside"
    assert (outside / "victim").read_text() == VICTIM, "the lock was written through the link"
    (inside / LOCK_NAME).unlink()  # what the message says to do
    try:
        assert lock_work_dir(inside) == inside.resolve() / LOCK_NAME
        assert (inside / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    finally:
        unlock_work_dir(inside)
