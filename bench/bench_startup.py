"""Start-up cost against data-set size: `python -m mapsage.train` to its first training iteration.

Targets (issue 14): on a LoveDA-sized tree (4,191 Train + Val tiles of 1024x1024) under 30 s to
the first iteration with a warm page cache, of which MapSage's own data check under 10 s; the
slope in seconds per 1,000 tiles shows a regression to per-file work as a number.

For each size (100, 1,000 and 4,191 tiles; Train:Val as in LoveDA, 60:40) a tree is written with
`mapsage.data.synth` (1024 px tiles, two generated per folder, the rest hard links: complete PNGs
of LoveDA's size, in the page cache once written). Then, per repetition, two runs of
`python -m mapsage.train model=tiny crop_size=512 batch_size=8 device=cpu` with the logger at
every iteration: 'first start' into a new work_dir, and 'continued' into the same work_dir
again (the record of the passed data check is there, as for a resumed run or a continuation
stage). Timed from the process start to mmengine's log line of iteration 1 (that iteration's
compute included), read from the merged output as it is printed; the process group is then
stopped. 'data check' is the time MapSage's check prints for itself. num_workers is the
default (None: from the usable CPUs).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import CONDITIONS_HEADER, ROOT, parser, report, settle, stats, table, wait_for_quiet

SIZES = (100, 1000, 4191)
QUICK_SIZES = (20, 60)
LOVEDA_TRAIN_SHARE = 2522 / 4191
FIRST_ITERATION = re.compile(r"Iter\(train\) \[\s*1/")
CHECK_TIME = re.compile(r"data check: .*?\[?([0-9.]+)s\]?$")


def make_tree(root: Path, tiles: int, size: int) -> tuple[Path, int, float]:
    """A LoveDA-layout tree of about ``tiles`` tiles; (path, tiles written, seconds)."""
    from mapsage.data.synth import SynthSpec, generate

    if tiles == 4191:
        spec = SynthSpec.loveda_size(size=size)
    else:
        train = round(tiles * LOVEDA_TRAIN_SHARE / 2)
        spec = SynthSpec(size=size, train_per_domain=train,
                         val_per_domain=round(tiles / 2) - train, distinct=2)
    started = time.perf_counter()
    out = generate(root / f"tiles-{tiles}", spec, progress=None)
    seconds = time.perf_counter() - started
    return out, sum(1 for _ in out.glob("*/*/images_png/*.png")), seconds


def to_first_iteration(data: Path, work_dir: Path, crop: int, timeout: float = 900) -> dict:
    """Seconds from process start to iteration 1's log line, and the data check's own time."""
    cmd = [sys.executable, "-u", "-m", "mapsage.train", f"data_root={data}",
           f"work_dir={work_dir}", "model=tiny", f"crop_size={crop}", "batch_size=8",
           "max_iters=100000", "val_interval=100000", "checkpoint_interval=100000",
           "device=cpu", "default_hooks.logger.interval=1"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    result: dict = {"check_s": None, "first_s": None}
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("data check:") and (m := CHECK_TIME.search(line.strip())):
                result["check_s"] = float(m.group(1))
            if FIRST_ITERATION.search(line):
                result["first_s"] = time.perf_counter() - started
                break
            if time.perf_counter() - started > timeout:
                break
    finally:
        with_group = os.getpgid(proc.pid)
        os.killpg(with_group, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            proc.wait()
    if result["first_s"] is None:
        raise RuntimeError(f"no first iteration ({' '.join(cmd)}):\n{''.join(lines[-40:])}")
    return result


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (tiles, seconds), in seconds per 1,000 tiles."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 1000 * sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def main(argv=None) -> int:
    args = parser(__doc__).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sizes = QUICK_SIZES if args.quick else SIZES
    size, crop = (128, 128) if args.quick else (1024, 512)
    repeat = 1 if args.quick else args.repeat
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    rows, runs, made = [], {n: [] for n in sizes}, {}
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-startup-") as tmp:
        tmp = Path(tmp)
        for n in sizes:
            made[n] = make_tree(tmp, n, size)
        for r in range(repeat):
            for n in sizes:
                data, tiles, _ = made[n]
                cond = settle(args.max_wait, args.quick)
                work_dir = tmp / f"run-{n}-{r}"
                first = to_first_iteration(data, work_dir, crop)
                again = to_first_iteration(data, work_dir, crop)
                runs[n].append({"cond": cond, "first": first, "again": again})
    points: dict[str, list[tuple[float, float]]] = {"first": [], "check": [], "again": [],
                                                     "again_check": []}
    for n in sizes:
        _, tiles, gen_s = made[n]
        first = stats([x["first"]["first_s"] for x in runs[n]])
        check = stats([x["first"]["check_s"] for x in runs[n]])
        again = stats([x["again"]["first_s"] for x in runs[n]])
        again_check = stats([x["again"]["check_s"] for x in runs[n]])
        for x in runs[n]:
            points["first"].append((tiles, x["first"]["first_s"]))
            points["check"].append((tiles, x["first"]["check_s"]))
            points["again"].append((tiles, x["again"]["first_s"]))
            points["again_check"].append((tiles, x["again"]["check_s"]))
        rows.append([f"{tiles:,}", f"{gen_s:.1f} s", first.fmt("s", 1), check.fmt("s", 2),
                     again.fmt("s", 1), again_check.fmt("s", 2),
                     "; ".join(str(x["cond"]) for x in runs[n])])
    rows.append(["**slope, s per 1,000 tiles**", "", f"{slope(points['first']):+.2f}",
                 f"{slope(points['check']):+.3f}", f"{slope(points['again']):+.2f}",
                 f"{slope(points['again_check']):+.3f}", ""])
    big = max(sizes)
    last = runs[big]
    target = [] if args.quick else [
        f"LoveDA size ({made[big][1]:,} tiles): first iteration after "
        f"{stats([x['first']['first_s'] for x in last]).median:.1f} s (target < 30 s), data "
        f"check {stats([x['first']['check_s'] for x in last]).median:.2f} s (target < 10 s)."]
    body = table(["tiles (Train + Val)", "tree written in", "first start: to iteration 1",
                  "first start: data check", "continued: to iteration 1",
                  "continued: data check (record reused)", CONDITIONS_HEADER], rows)
    report(args.results, "Start-up against data-set size",
           f"{repeat} repetition(s) per size; {size} px tiles, crop {crop}. " + " ".join(
               __doc__.strip().split("\n\n")[1].split()) + " " + " ".join(target),
           body, start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
