"""mapsage.safe_write, the one writer every MapSage file goes through: a symbolic link at a name
MapSage writes is replaced (or refused), never written through."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mapsage import safe_write
from mapsage.errors import MapSageError

VICTIM = "the victim's own content\n"


@pytest.fixture()
def folders(tmp_path):
    """(a folder MapSage writes into, a folder outside it holding the victim file)."""
    inside, outside = tmp_path / "work", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "victim").write_text(VICTIM)
    return inside, outside


def _outside_unchanged(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "nothing created outside"
    assert (outside / "victim").read_text() == VICTIM, "the victim file was written through"


@pytest.mark.parametrize("dangling", [False, True])
def test_write_replaces_a_link_and_never_writes_through_it(folders, dangling):
    inside, outside = folders
    target = outside / ("missing" if dangling else "victim")
    (inside / "metrics.json").symlink_to(target)
    safe_write.write_text(inside / "metrics.json", "{}\n")
    assert not (inside / "metrics.json").is_symlink()
    assert (inside / "metrics.json").read_text() == "{}\n"
    _outside_unchanged(outside)
    assert sorted(p.name for p in inside.iterdir()) == ["metrics.json"], "no temporary left"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(folders):
    inside, _ = folders
    (inside / "report.md").write_text("old\n")
    with pytest.raises(RuntimeError, match="half-way"), \
            safe_write.replacing(inside / "report.md") as fh:
        fh.write(b"new, half")
        raise RuntimeError("half-way")
    assert (inside / "report.md").read_text() == "old\n"
    assert sorted(p.name for p in inside.iterdir()) == ["report.md"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_get_a_plain_writes_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        safe_write.write_bytes(tmp_path / "a.png", b"png")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.png").stat().st_mode) == mode


def test_claim_new_numbers_past_files_links_and_dangling_links(folders):
    inside, outside = folders
    first = safe_write.claim_new(inside, "nb", ".ipynb")
    assert first == inside / "nb.ipynb" and first.read_bytes() == b""
    (inside / "nb.2.ipynb").symlink_to(outside / "victim")
    (inside / "nb.3.ipynb").symlink_to(outside / "created-through-the-link")
    assert safe_write.claim_new(inside, "nb", ".ipynb") == inside / "nb.4.ipynb"
    assert safe_write.claim_new(inside, "nb", ".ipynb") == inside / "nb.5.ipynb"
    _outside_unchanged(outside)


def test_concurrent_claims_never_get_the_same_name(tmp_path):
    claim = ("import sys; from mapsage.safe_write import claim_new; "
             "print(claim_new(sys.argv[1], 'nb', '.ipynb').name)")
    procs = [subprocess.Popen([sys.executable, "-c", claim, str(tmp_path)], text=True,
                              stdout=subprocess.PIPE) for _ in range(12)]
    names = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert len(set(names)) == 12, names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_refuse_link_names_the_link_and_its_target(folders):
    inside, outside = folders
    (inside / "x.png").symlink_to(outside / "victim")
    with pytest.raises(MapSageError) as caught:
        safe_write.refuse_link(inside / "x.png", "The picture")
    message = str(caught.value)
    assert str(inside / "x.png") in message and str(outside / "victim") in message
    assert "rm " in message
    safe_write.refuse_link(inside / "absent.png", "The picture")  # no link: nothing to say


def test_remove_links_removes_only_links(folders):
    inside, outside = folders
    (inside / "last_checkpoint").symlink_to(outside / "victim")
    (inside / "config.py").write_text("x = 1\n")
    removed = safe_write.remove_links(inside, ["last_checkpoint", "config.py", "absent"])
    assert removed == [inside / "last_checkpoint"]
    assert sorted(p.name for p in inside.iterdir()) == ["config.py"]
    _outside_unchanged(outside)
