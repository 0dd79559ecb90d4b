"""The bootstrap's measuring config and its bootstrap.json are written through
mapsage.safe_write: a symbolic link at either name is replaced, never written through."""

from __future__ import annotations

import json

from mapsage.kaggle.bootstrap import measure_config, write_summary

VICTIM = "the victim's own content\n"


def test_bootstrap_files_never_written_through_a_link(tmp_path):
    outside, work = tmp_path / "outside", tmp_path / "working"
    outside.mkdir()
    work.mkdir()
    (outside / "victim").write_text(VICTIM)
    (work / "measure_config.py").symlink_to(outside / "victim")
    (work / "bootstrap.json").symlink_to(outside / "dangling")
    (tmp_path / "model.py").write_text("model = dict(type='EncoderDecoder')\n")
    measure_config(tmp_path / "model.py", work / "measure_config.py")
    write_summary(work / "bootstrap.json", {"status": "ok"})
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "nothing created outside"
    assert (outside / "victim").read_text() == VICTIM
    assert "RunMeasureHook" in (work / "measure_config.py").read_text()
    assert json.loads((work / "bootstrap.json").read_text()) == {"status": "ok"}
    assert not any(p.is_symlink() for p in work.iterdir())
