"""A continued Kaggle run copies the previous session's work_dir through mapsage.safe_write: a
symbolic link already at a name in the target is replaced, never written through."""

from __future__ import annotations

from mapsage.kaggle import restore_part

VICTIM = "the victim's own content\n"


def test_restore_replaces_links_in_the_target(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(tmp_path))
    previous = tmp_path / "input" / "mapsage-segformer-loveda-training" / "run"
    previous.mkdir(parents=True)
    (previous / "iter_1.pth").write_bytes(b"checkpoint bytes")
    (previous / "report.md").write_text("# the previous report\n")
    outside, target = tmp_path / "outside", tmp_path / "working" / "run"
    outside.mkdir()
    target.mkdir(parents=True)
    (outside / "victim").write_text(VICTIM)
    (target / "report.md").symlink_to(outside / "victim")
    (target / "iter_1.pth.tmp").symlink_to(outside / "dangling")  # a copy through it creates it
    (previous / "iter_1.pth.tmp").write_bytes(b"a leftover")
    restore_part.restore_previous_stage("alice/mapsage-segformer-loveda-training",
                                        "/kaggle/working/run", log=lambda line: None)
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "nothing created outside"
    assert (outside / "victim").read_text() == VICTIM
    assert not (target / "report.md").is_symlink()
    assert (target / "report.md").read_text() == "# the previous report\n"
    assert (target / "iter_1.pth").read_bytes() == b"checkpoint bytes"
