"""Notebook overhead: the same training run directly and through the papermill-executed notebook.

Targets (issue 7): iteration-throughput ratio notebook/direct >= 0.97; report the fixed overhead
in seconds (kernel start, preflight, report cells).

Pairs, run back to back in this one process with the same parameters (tiny model, demo synthetic
data, seed 0, num_workers=0, device=cpu) and alternating which goes first:
(a) `python -m mapsage.train key=value ...`;
(b) `python -m mapsage run mapsage/notebooks/train_segformer_loveda.ipynb -p key value ...` (papermill,
    as `make demo` runs it); its training cell starts the same `python -m mapsage.train`.
Throughput: 1 / median of mmengine's per-iteration `time` (vis_data/scalars.json, logged every
max(1, min(50, max_iters // 30)) iterations, the same in both). Fixed overhead: wall(b) - wall(a),
also corrected for the iteration-time difference of the pair (wall difference minus
max_iters x (time(b) - time(a))), and split with papermill's per-cell `duration` metadata into
kernel start + papermill (notebook wall minus the sum of the cells), preflight, parameter cells,
training cell minus the direct run's wall, and the report cell.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    CONDITIONS_HEADER,
    ROOT,
    TreeCPU,
    parser,
    report,
    settle,
    stats,
    table,
    train_scalars,
    wait_for_quiet,
)

NOTEBOOK = ROOT / "mapsage" / "notebooks" / "train_segformer_loveda.ipynb"
WARMUP = 5
PARTS = ("kernel start + papermill", "preflight cell", "parameter cells",
         "training cell - direct run", "report cell")


def params(data: Path, work_dir: Path, iters: int) -> dict:
    return {"data_root": str(data), "work_dir": str(work_dir), "model": "tiny",
            "max_iters": iters, "val_interval": iters, "checkpoint_interval": iters,
            "num_workers": 0, "seed": 0, "device": "cpu"}


def iteration_time(work_dir: Path) -> float:
    return statistics.median(r["time"] for r in train_scalars(work_dir) if r["step"] > WARMUP)


def role(cmd: str) -> str:
    """Which part of a run a process is, from its command line."""
    if "mapsage.train" in cmd:
        return "training process"  # and its data-loading workers
    if "ipykernel_launcher" in cmd:
        return "Jupyter kernel"
    if "envcheck" in cmd:
        return "envcheck probe"
    if "mapsage run" in cmd:
        return "papermill client (mapsage run)"
    return "other"


ROLES = ("training process", "papermill client (mapsage run)", "Jupyter kernel",
         "envcheck probe", "other")


def run_with_cpu(cmd: list[str]) -> tuple[float, float, dict[str, float]]:
    """Wall time, exact CPU seconds of the whole process tree (getrusage of the reaped
    children), and CPU seconds by role (sampled, :class:`common.TreeCPU`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    with TreeCPU(proc.pid, role) as cpu:
        output, _ = proc.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-3000:]}")
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, total, cpu.by_role()


def direct(p: dict) -> tuple[float, float, dict[str, float]]:
    return run_with_cpu([sys.executable, "-m", "mapsage.train",
                         *(f"{k}={v}" for k, v in p.items())])


def cell_kind(cell: dict) -> str | None:
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    tags = cell.get("metadata", {}).get("tags", [])
    if "envcheck" in source:
        return "preflight cell"
    if "run_training" in source:
        return "training cell"
    if "metrics_table" in source:
        return "report cell"
    if "parameters" in tags or "injected-parameters" in tags or "validate(" in source \
            or "_names_before_parameters" in source:
        return "parameter cells"
    return "other cells"


def through_notebook(p: dict, output: Path) -> tuple[float, dict, float, dict[str, float]]:
    args = [a for k, v in p.items() for a in ("-p", k, str(v))]
    wall, total, roles = run_with_cpu([sys.executable, "-m", "mapsage", "run", str(NOTEBOOK),
                                       "-o", str(output), *args])
    cells: dict[str, float] = {}
    for cell in json.loads(output.read_text())["cells"]:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell["cell_type"] == "code" and duration is not None:
            kind = cell_kind(cell)
            cells[kind] = cells.get(kind, 0.0) + duration
    cells["kernel start + papermill"] = wall - sum(cells.values())
    return wall, cells, total, roles


def main(argv=None) -> int:
    args = parser(__doc__).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mapsage.data.synth import generate

    lengths = (10,) if args.quick else (100, 300)
    repeat = 1 if args.quick else args.repeat
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    pairs: dict[int, list[dict]] = {n: [] for n in lengths}
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-nb-") as tmp:
        tmp = Path(tmp)
        data = generate(tmp / "data", progress=None)
        for r in range(repeat):
            for iters in lengths:
                pair = {"cond": settle(args.max_wait, args.quick),
                        "first": "direct" if r % 2 == 0 else "notebook"}
                for kind in (("direct", "notebook") if r % 2 == 0 else ("notebook", "direct")):
                    work_dir = tmp / f"{kind}-{iters}-{r}"
                    p = params(data, work_dir, iters)
                    if kind == "direct":
                        pair["wall_direct"], pair["cpu_direct"], pair["roles_direct"] = \
                            direct(p)
                    else:
                        (pair["wall_notebook"], pair["cells"], pair["cpu_notebook"],
                         pair["roles_notebook"]) = through_notebook(
                            p, tmp / f"notebook-{iters}-{r}.ipynb")
                    pair[f"time_{kind}"] = iteration_time(work_dir)
                pair["cells"]["training cell - direct run"] = (
                    pair["cells"].pop("training cell", 0.0) - pair["wall_direct"])
                pairs[iters].append(pair)

    rows = []
    for iters in lengths:
        ps = pairs[iters]
        ratio = stats([x["time_direct"] / x["time_notebook"] for x in ps])
        overhead = stats([x["wall_notebook"] - x["wall_direct"] for x in ps])
        corrected = stats([x["wall_notebook"] - x["wall_direct"]
                           - iters * (x["time_notebook"] - x["time_direct"]) for x in ps])
        label = f"{iters} iterations"
        rows.append([f"{label}: throughput ratio notebook / direct", ratio.fmt("", 3),
                     ">= 0.97", "yes" if ratio.median >= 0.97 else "**no**"])
        rows.append([f"{label}: per-iteration time direct / notebook",
                     f"{1000 * stats([x['time_direct'] for x in ps]).median:.1f} ms / "
                     f"{1000 * stats([x['time_notebook'] for x in ps]).median:.1f} ms", "", ""])
        rows.append([f"{label}: wall direct / notebook",
                     f"{stats([x['wall_direct'] for x in ps]).median:.1f} s / "
                     f"{stats([x['wall_notebook'] for x in ps]).median:.1f} s", "", ""])
        rows.append([f"{label}: fixed overhead = wall notebook - wall direct",
                     overhead.fmt("s", 2), "", ""])
        rows.append([f"{label}: fixed overhead corrected for the iteration-time difference",
                     corrected.fmt("s", 2), "", ""])
        for part in PARTS:
            rows.append([f"{label}: - {part}",
                         stats([x["cells"].get(part, 0.0) for x in ps]).fmt("s", 2), "", ""])
        rows.append([f"{label}: CPU time direct / notebook (whole process tree, exact)",
                     f"{stats([x['cpu_direct'] for x in ps]).median:.1f} s / "
                     f"{stats([x['cpu_notebook'] for x in ps]).median:.1f} s", "", ""])
        for part in ROLES:
            values = [x["roles_notebook"].get(part, 0.0) for x in ps]
            if part == "training process":
                rows.append([f"{label}: - CPU of the training process, direct / notebook",
                             f"{stats([x['roles_direct'].get(part, 0.0) for x in ps]).median:.1f}"
                             f" s / {stats(values).median:.1f} s", "", ""])
            elif any(values):
                rows.append([f"{label}: - CPU of the {part} (notebook)",
                             stats(values).fmt("s", 2), "", ""])
        rows.append([f"{label}: {CONDITIONS_HEADER} of each pair (which ran first)",
                     "; ".join(f"{x['cond']} ({x['first']})" for x in ps), "", ""])
    report(args.results, "Notebook overhead",
           f"{repeat} pair(s) per length ({', '.join(map(str, lengths))} iterations), each pair "
           "= a direct `python -m mapsage.train` run and the papermill-executed notebook "
           "(`python -m mapsage run`), back to back, same parameters (tiny model, demo "
           "synthetic data, batch 8, 128 px crops, seed 0, num_workers=0, device=cpu), order "
           "alternating between pairs. Per-iteration time: median of mmengine's `time` after "
           f"{WARMUP} iterations. Walls include process start, the data check, evaluation, "
           "metrics and pictures in both; the notebook's parts come from papermill's per-cell "
           "`duration` metadata ('training cell - direct run' = the training cell's duration "
           "minus the direct run's wall; it includes the iteration-time difference). CPU time: "
           "the whole process tree's, exact (getrusage of the reaped children), and by process "
           "(command line), sampled from /proc every 0.2 s (a process's last 0.2 s before it "
           "exits can be missed), which the machine's load affects far less than wall times.",
           table(["measure", "value", "target", "met"], rows), start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
