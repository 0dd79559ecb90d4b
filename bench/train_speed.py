"""Training speed on the CPU: iterations/s of the tiny and MiT-B0 models at the demo's size.

Each run is the real `python -m mapsage.train` (128 px crops, batch 8, no workers, synthetic data);
the rate comes from mmengine's own per-iteration `time` (logged every iteration here), skipping
the first 5 iterations (warm-up).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, fmt, parser, report, stats, table

WARMUP = 5


def iteration_times(work_dir: Path) -> list[float]:
    rows = []
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["time"] for r in rows if "loss" in r and r["step"] > WARMUP]


def train(data: Path, work_dir: Path, model: str, iters: int, extra=()) -> float:
    subprocess.run(
        [sys.executable, "-m", "mapsage.train", f"data_root={data}", f"work_dir={work_dir}",
         f"model={model}", f"max_iters={iters}", f"val_interval={iters}",
         f"checkpoint_interval={iters}", "num_workers=0", "batch_size=8", "crop_size=128",
         "default_hooks.logger.interval=1", *extra],
        check=True, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    times = iteration_times(work_dir)
    return 1.0 / stats(times)["median"]


def main(argv=None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mapsage.synth import generate

    iters = 8 if args.quick else 40
    repeat = 1 if args.quick else args.repeat
    models = ("tiny",) if args.quick else ("tiny", "b0")
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(Path(tmp) / "data", progress=None)
        rows = []
        for model in models:
            rates = [train(data, Path(tmp) / f"{model}-{i}", model, iters) for i in range(repeat)]
            rows.append([model, fmt(stats(rates), "it/s", 2),
                         f"{8 * stats(rates)['median']:.1f} img/s"])
    report(args.results, "Training speed on the CPU",
           f"`python -m mapsage.train` with 128 px crops, batch 8, num_workers=0, {iters} "
           f"iterations, {repeat} run(s) per model; iterations/s = 1 / median of mmengine's "
           f"per-iteration `time` after {WARMUP} warm-up iterations.",
           table(["model", "iterations/s", "images/s"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
