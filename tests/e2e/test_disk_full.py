"""A disk that fills up during training (issue 20: it was an ENOSPC traceback): the run ends
with one paragraph naming the work_dir and saying that resume=auto continues, and it does.

A real file system that really fills: a 1 GiB tmpfs mounted in a private mount namespace
(``unshare -m``, root only), filled by ``dd`` after the first checkpoint is saved, so the second
checkpoint's save hits ENOSPC. Skipped where the test cannot mount one (not root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r"""
set -u
mount -t tmpfs -o size=1g tmpfs "$DISK" || exit 97
"$@" > "$OUT/first.log" 2>&1 &
pid=$!
for _ in $(seq 1 1800); do
  grep -q "Saving checkpoint at 20 iterations" "$OUT/first.log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
dd if=/dev/zero of="$DISK/filler" bs=1M status=none 2>/dev/null
wait $pid
echo $? > "$OUT/first.rc"
rm -f "$DISK/filler"
"$@" resume=auto > "$OUT/second.log" 2>&1
echo $? > "$OUT/second.rc"
cp "$DISK/run/metrics.json" "$OUT/metrics.json" 2>/dev/null || true
"""


def test_a_full_disk_is_one_paragraph_and_resume_continues(tiny_training, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("mounting a tmpfs needs root (unshare -m)")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    cmd = tiny_training.cmd(disk / "run")
    cmd = [c for c in cmd if not c.startswith(("max_iters=", "val_interval=",
                                                "checkpoint_interval="))]
    cmd += ["max_iters=40", "val_interval=20", "checkpoint_interval=20"]
    proc = subprocess.run(["unshare", "-m", "bash", "-c", SCRIPT, "script", *cmd],
                          env={**os.environ, "DISK": str(disk), "OUT": str(out)},
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode == 97 or not (out / "first.rc").exists():
        pytest.skip(f"no tmpfs could be mounted here: {proc.stderr[-300:]}")
    first = (out / "first.log").read_text()
    assert (out / "first.rc").read_text().strip() == "2", first[-3000:]
    # the run ends with the paragraph, not a traceback (Python's logging may print its own
    # "--- Logging error ---" reports for log lines it could not write while the disk was full)
    last = first.rstrip().splitlines()[-1]
    assert last.startswith("mapsage.train: error: The disk holding work_dir"), first[-3000:]
    assert "filled up during training" in last and "resume=auto" in last
    second = (out / "second.log").read_text()
    assert (out / "second.rc").read_text().strip() == "0", second[-3000:]
    assert "Resuming" in second or "resum" in second.lower()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 40 and metrics["status"] == "finished"
