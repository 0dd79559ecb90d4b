"""Every rank of a finished run leaves the process group, and only after rank 0 is done.

Real torchrun, real gloo: two CPU processes run the same script. Rank 0 is slow to finish (as
it is when it writes the best checkpoint and the run's results); rank 1 must wait for it at
``leave_process_group`` and then find rank 0's file. A group left to the interpreter's exit can
abort a rank (pytorch/pytorch#190489), which made torchrun kill a finished run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import torch.distributed as dist
    from mapsage.training.distributed import init_cpu_process_group, leave_process_group

    done = Path(sys.argv[1])
    init_cpu_process_group()
    rank = dist.get_rank()
    if rank == 0:
        time.sleep(1.5)  # rank 0 still writing the run's results
        done.write_text("results")
    leave_process_group()
    assert not dist.is_initialized(), "still in the process group"
    if rank == 1:
        assert done.is_file(), "rank 1 left before rank 0 was done"
    print(f"rank {rank} left", flush=True)
""")


def test_ranks_leave_the_group_together_after_rank_0(tmp_path):
    script = tmp_path / "ranks.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script), str(tmp_path / "rank0-done")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "rank 0 left" in proc.stdout and "rank 1 left" in proc.stdout
