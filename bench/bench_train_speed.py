"""Training speed on the CPU: iterations/s of the tiny and MiT-B0 models at the demo's size.

Each run is the real `python -m mapsage.train` on the demo's synthetic data (128 px tiles, 128 px
crops, batch 8, num_workers=0, seed 0), with mmengine's logger at every iteration
(`default_hooks.logger.interval=1`). The rate is 1 / the median of mmengine's own per-iteration
`time` in vis_data/scalars.json, after WARMUP iterations; `data_time` (the part spent waiting for
the batch) is reported next to it. Models alternate within each repetition, so a busy spell on
the shared machine does not land on one model only.

--threads default,1 runs each model once per thread setting and repetition: 'default' leaves the
child's environment alone (torch's default intra-op threads, = the cores unless OMP_NUM_THREADS is
set in this script's own environment), N sets OMP_NUM_THREADS=N and MKL_NUM_THREADS=N in the
child's environment. The (threads, model) runs alternate their order between repetitions too.
"""

from __future__ import annotations

import os
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


def thread_settings(text: str) -> list[str]:
    """``--threads default,1`` -> ['default', '1']: 'default' or a positive thread count."""
    found = []
    for item in (x.strip() for x in text.split(",")):
        if item != "default" and not (item.isdigit() and int(item) > 0):
            raise ValueError(f"--threads: {item!r} is neither 'default' nor a positive integer")
        if item not in found:
            found.append(item)
    if not found:
        raise ValueError("--threads: no setting given")
    return found


def thread_env(setting: str) -> dict | None:
    """The child's extra environment for a thread setting ('default': none)."""
    if setting == "default":
        return None
    return {"OMP_NUM_THREADS": setting, "MKL_NUM_THREADS": setting}


def train(data: Path, work_dir: Path, model: str, iters: int, cond,
          threads: str = "default") -> dict:
    """One training run; the median per-iteration time and data time after the warm-up."""
    wall, _ = run_timed(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         f"model={model}", f"max_iters={iters}", f"val_interval={iters}",
         f"checkpoint_interval={iters}", "num_workers=0", "batch_size=8", "crop_size=128",
         "seed=0", "device=cpu", "default_hooks.logger.interval=1"], cwd=ROOT,
        env=thread_env(threads))
    rows = [r for r in train_scalars(work_dir) if r["step"] > WARMUP]
    return {"time": statistics.median(r["time"] for r in rows),
            "data_time": statistics.median(r["data_time"] for r in rows),
            "iterations": len(rows), "wall": wall, "cond": cond}


def main(argv=None) -> int:
    p = parser(__doc__)
    p.add_argument("--threads", default="default", metavar="LIST",
                   help="comma-separated thread settings to compare, each 'default' (torch's own "
                        "choice) or N (OMP_NUM_THREADS=MKL_NUM_THREADS=N for the child); "
                        "default: 'default'")
    p.add_argument("--models", metavar="LIST",
                   help="comma-separated models to time (default: tiny,b0; --quick: tiny)")
    args = p.parse_args(argv)
    try:
        settings = thread_settings(args.threads)
    except ValueError as exc:
        p.error(str(exc))
    sys.path.insert(0, str(ROOT))
    from mapsage.data.synth import generate

    iters = 8 if args.quick else 60
    repeat = 1 if args.quick else args.repeat
    if args.models:
        models = tuple(dict.fromkeys(m.strip() for m in args.models.split(",") if m.strip()))
    else:
        models = ("tiny",) if args.quick else ("tiny", "b0")
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    combos = [(t, m) for t in settings for m in models]
    runs: dict[tuple[str, str], list[dict]] = {c: [] for c in combos}
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-train-") as tmp:
        data = generate(Path(tmp) / "data", progress=None)
        for r in range(repeat):
            for threads, model in (combos if r % 2 == 0 else tuple(reversed(combos))):
                cond = settle(args.max_wait, args.quick)
                runs[threads, model].append(train(data, Path(tmp) / f"{model}-t{threads}-{r}",
                                                  model, iters, cond, threads))
    rows = []
    for threads, model in combos:
        done = runs[threads, model]
        rate = stats([1 / x["time"] for x in done])
        rows.append([threads, model, rate.fmt("it/s", 2), f"{8 * rate.median:.1f} img/s",
                     f"{1000 * stats([x['time'] for x in done]).median:.0f} ms",
                     f"{1000 * stats([x['data_time'] for x in done]).median:.1f} ms",
                     "; ".join(str(x["cond"]) for x in done)])
    import torch  # same environment as a 'default' child: the thread count it gets

    inherited = os.environ.get("OMP_NUM_THREADS")
    default_is = (f"{torch.get_num_threads()} intra-op threads"
                  + (f": OMP_NUM_THREADS={inherited} inherited from this script's environment"
                     if inherited else ": torch's default, = the cores"))
    if settings == ["default"]:
        threads_text = f"torch uses its default intra-op threads ({default_is})."
    else:
        threads_text = (f"Thread settings {', '.join(settings)}: 'default' leaves the child's "
                        f"environment alone ({default_is}); N sets OMP_NUM_THREADS=N and "
                        "MKL_NUM_THREADS=N in the child's environment (torch.get_num_threads() "
                        "follows it); every (threads, model) pair runs once per repetition, "
                        "in an order reversed every other repetition.")
    report(args.results, "Training speed on the CPU",
           f"`python -m mapsage.train model=M device=cpu num_workers=0 batch_size=8 "
           f"crop_size=128 max_iters={iters}` on the demo's synthetic data set (default "
           f"SynthSpec: 128 px tiles), logger interval 1; {repeat} run(s) per model"
           f"{' and thread setting' if len(settings) > 1 else ''}, models "
           f"alternating; per run: median of mmengine's per-iteration `time` over iterations "
           f"{WARMUP + 1}-{iters}; the table gives the median over runs of 1/that (spread "
           f"across runs). {threads_text}",
           table(["threads", "model", "iterations/s", "images/s", "time per iteration",
                  "of which data_time", CONDITIONS_HEADER + " of each run"], rows),
           start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
