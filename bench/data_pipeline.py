"""Data-pipeline throughput: the real LoveDA training pipeline on LoveDA-sized (1024 px) tiles.

Images/s through mmengine's DataLoader with 0, 1 and 2 workers (MiT-B2 recipe: 512 px crops,
batch 8), the time of each transform, and how that compares with what a GPU consumes.

GPU consumption rate (stated, not measured here): mmseg's SegFormer model zoo
(configs/segformer/README.md) lists MiT-B2 at 512x512 on ADE20K with 30.88 fps *inference* on a
V100. Training (forward + backward) costs about 3x inference, so ~10 images/s per V100; a T4 has
roughly half a V100's mixed-precision throughput, so **~5 images/s on a T4 at batch 8 with AMP**.
The pipeline must deliver at least that per GPU, with headroom, from Kaggle's 4 CPU cores.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fmt, parser, report, stats, table

T4_IMAGES_PER_S = 5.0


def build(data: Path):
    sys.path.insert(0, str(ROOT))
    from mmseg.utils import register_all_modules

    from mapsage.config_builder import build_config, config_for_model
    from mapsage.params import validate

    register_all_modules()
    params = validate({"data_root": str(data), "work_dir": str(data.parent / "w"), "model": "b2",
                       "crop_size": 512, "batch_size": 8})
    return build_config(config_for_model("b2"), params)


def loader_rate(cfg, workers: int, batches: int) -> float:
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.num_workers = workers
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    iterator = iter(loader)
    next(iterator)  # start-up (worker spawn, first decode) is not throughput
    started = time.perf_counter()
    images = 0
    for _ in range(batches):
        batch = next(iterator)
        images += len(batch["inputs"])
    return images / (time.perf_counter() - started)


def stage_times(cfg, samples: int) -> list[tuple[str, float]]:
    from mmseg.registry import DATASETS, TRANSFORMS

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline_cfg = dataset_cfg.datasets[0].pipeline
    for part in dataset_cfg.datasets:
        part.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    transforms = [(t["type"], TRANSFORMS.build(t)) for t in pipeline_cfg]
    totals = {name: 0.0 for name, _ in transforms}
    for index in range(samples):
        results = copy.deepcopy(dataset.get_data_info(index % len(dataset)))
        results["seg_fields"] = []
        results["reduce_zero_label"] = True
        for name, transform in transforms:
            started = time.perf_counter()
            results = transform(results)
            totals[name] += time.perf_counter() - started
    return [(name, totals[name] / samples) for name, _ in transforms]


def main(argv=None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mapsage.synth import SynthSpec, generate

    size = 256 if args.quick else 1024
    tiles = 4 if args.quick else 24
    batches = 1 if args.quick else 6
    repeat = 1 if args.quick else args.repeat
    worker_counts = (0,) if args.quick else (0, 1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(Path(tmp) / "data", SynthSpec(size=size, train_per_domain=tiles // 2,
                                                      val_per_domain=1), progress=None)
        cfg = build(data)
        rows = []
        for workers in worker_counts:
            rates = stats([loader_rate(cfg, workers, batches) for _ in range(repeat)])
            rows.append([f"{workers} worker(s)", fmt(rates, "img/s", 1),
                         f"{rates['median'] / T4_IMAGES_PER_S:.1f}x"])
        stages = stage_times(cfg, 4 if args.quick else 16)
    total = sum(t for _, t in stages)
    stage_rows = [[name, f"{t * 1000:.1f} ms", f"{100 * t / total:.0f} %"] for name, t in stages]
    body = (table(["DataLoader", "images/s", "vs T4 need (~5 img/s)"], rows) + "\n\n"
            + table(["transform (one image)", "time", "share"], stage_rows))
    report(args.results, "Data-pipeline throughput",
           f"the MiT-B2 LoveDA training pipeline built by mapsage.config_builder (RandomResize "
           f"(2048, 512) x 0.5-2.0, RandomCrop 512, flip, PhotoMetricDistortion), on {tiles} "
           f"synthetic {size} px PNG tiles; mmengine DataLoader, batch 8, {batches} batches after "
           f"one warm-up batch, {repeat} repeat(s). Stage times: each transform applied in "
           f"sequence to the same tiles, mean per image. GPU need: see bench/data_pipeline.py "
           f"(mmseg model zoo V100 inference fps scaled to T4 training).",
           body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
