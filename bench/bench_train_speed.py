"""Training speed on the CPU: iterations/s of the tiny and MiT-B0 models at the demo's size.

Each run is the real `python -m mapsage.train` on the demo's synthetic data (128 px tiles, 128 px
crops, batch 8, num_workers=0, seed 0), with mmengine's logger at every iteration
(`default_hooks.logger.interval=1`). The rate is 1 / the median of mmengine's own per-iteration
`time` in vis_data/scalars.json, after WARMUP iterations; `data_time` (the part spent waiting for
the batch) is reported next to it. Models alternate within each repetition, so a busy spell on
the shared machine does not land on one model only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from common import (
    CONDITIONS_HEADER,
    ROOT,
    parser,
    report,
    run_timed,
    settle,
    stats,
    table,
    train_scalars,
    wait_for_quiet,
)

WARMUP = 5


def train(data: Path, work_dir: Path, model: str, iters: int, cond) -> dict:
    """One training run; the median per-iteration time and data time after the warm-up."""
    wall, _ = run_timed(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         f"model={model}", f"max_iters={iters}", f"val_interval={iters}",
         f"checkpoint_interval={iters}", "num_workers=0", "batch_size=8", "crop_size=128",
         "seed=0", "device=cpu", "default_hooks.logger.interval=1"], cwd=ROOT)
    rows = [r for r in train_scalars(work_dir) if r["step"] > WARMUP]
    return {"time": statistics.median(r["time"] for r in rows),
            "data_time": statistics.median(r["data_time"] for r in rows),
            "iterations": len(rows), "wall": wall, "cond": cond}


def main(argv=None) -> int:
    args = parser(__doc__).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mapsage.data.synth import generate

    iters = 8 if args.quick else 60
    repeat = 1 if args.quick else args.repeat
    models = ("tiny",) if args.quick else ("tiny", "b0")
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    runs: dict[str, list[dict]] = {m: [] for m in models}
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-train-") as tmp:
        data = generate(Path(tmp) / "data", progress=None)
        for r in range(repeat):
            for model in (models if r % 2 == 0 else tuple(reversed(models))):
                cond = settle(args.max_wait, args.quick)
                runs[model].append(train(data, Path(tmp) / f"{model}-{r}", model, iters, cond))
    rows = []
    for model in models:
        rate = stats([1 / x["time"] for x in runs[model]])
        rows.append([model, rate.fmt("it/s", 2), f"{8 * rate.median:.1f} img/s",
                     f"{1000 * stats([x['time'] for x in runs[model]]).median:.0f} ms",
                     f"{1000 * stats([x['data_time'] for x in runs[model]]).median:.1f} ms",
                     "; ".join(str(x["cond"]) for x in runs[model])])
    report(args.results, "Training speed on the CPU",
           f"`python -m mapsage.train model=M device=cpu num_workers=0 batch_size=8 "
           f"crop_size=128 max_iters={iters}` on the demo's synthetic data set (default "
           f"SynthSpec: 128 px tiles), logger interval 1; {repeat} run(s) per model, models "
           f"alternating; per run: median of mmengine's per-iteration `time` over iterations "
           f"{WARMUP + 1}-{iters}; the table gives the median over runs of 1/that (spread "
           "across runs). torch uses its default intra-op threads (= cores).",
           table(["model", "iterations/s", "images/s", "time per iteration",
                  "of which data_time", CONDITIONS_HEADER + " of each run"], rows),
           start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
