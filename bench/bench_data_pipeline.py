"""Data-pipeline throughput: the real LoveDA training pipeline on LoveDA-sized (1024 px) tiles.

Measures images/s through mmengine's DataLoader with 0, 2 and 4 workers for the MiT-B2 recipe
(configs/segformer_mit-b2_loveda-512x512.py via mapsage.training.config: 512 px crops, batch 8),
the time of every transform stage on the same tiles, and compares the rate with what a T4
consumes when it trains MiT-B2 at batch 8.

GPU consumption rate - an estimate from published numbers, not a measurement:
- source: mmsegmentation's SegFormer model zoo (configs/segformer/README.md and metafile.yaml,
  mmseg 1.x) lists MiT-B2, 512x512, ADE20K at 30.88 images/s *inference* ("Inf time (fps)",
  V100, batch 1, fp32, tools/benchmark.py). The zoo publishes no training throughput for it.
- training = forward + backward ~= 3x the forward cost -> ~10 images/s on a V100 (fp32).
- T4 vs V100: 8.1 vs 15.7 fp32 TFLOPS (0.52x), 65 vs 125 fp16 tensor TFLOPS (0.52x), 320 vs
  900 GB/s memory bandwidth (0.36x) -> a T4 trains at 0.35-0.5x a V100: ~3.5-5 images/s in fp32;
  amp=True (float16 on a T4) can give up to ~2x -> the range used here is **3.5-10 images/s**,
  i.e. 0.8-2.3 s per iteration at batch 8. Kaggle's "T4 x2" with gpus=2 needs twice that from
  the same 4 CPU cores.
The pipeline starves the GPU when it delivers fewer images/s than the upper end of that range.
"""

from __future__ import annotations

import copy
import gc
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import CONDITIONS_HEADER, ROOT, parser, report, settle, stats, table, wait_for_quiet

T4_NEED = (3.5, 10.0)  # images/s, see the module docstring
GPU_SOURCE = ("mmseg model zoo: MiT-B2 512x512 ADE20K inference 30.88 img/s on a V100; "
              "training ~1/3 of that; a T4 0.35-0.5x a V100, up to 2x with amp")


def build(data: Path, workers: int):
    sys.path.insert(0, str(ROOT))
    from mmengine.utils.dl_utils import set_multi_processing
    from mmseg.utils import register_all_modules

    from mapsage.models import config_for_model
    from mapsage.params import validate
    from mapsage.training.config import build_config

    register_all_modules()
    params = validate({"data_root": str(data), "work_dir": str(data.parent / "work"),
                       "model": "b2", "crop_size": 512, "batch_size": 8,
                       "num_workers": workers})
    cfg = build_config(config_for_model("b2"), params)
    # what Runner.setup_env does before it builds a loader: cv2 single-threaded, fork
    set_multi_processing(**cfg.env_cfg.get("mp_cfg", {}), distributed=False)
    return cfg


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def loader_rate(cfg, workers: int, warmup: int, batches: int) -> tuple[float, float]:
    """Images/s of the real training DataLoader after ``warmup`` batches (worker start), and
    images per CPU-second (this process + its workers, start-up and shutdown included: a
    conservative figure that does not depend on what else runs on the machine)."""
    from mmengine.runner import Runner

    cpu_before = _cpu_seconds()

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.num_workers = workers
    loader_cfg.persistent_workers = workers > 0
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    started = time.perf_counter()
    images = 0
    for _ in range(batches):
        images += len(next(iterator)["inputs"])
    rate = images / (time.perf_counter() - started)
    del iterator, loader  # stop the workers (and collect their CPU time) before returning
    gc.collect()
    per_cpu_s = (images + warmup * cfg.train_dataloader.batch_size) / (_cpu_seconds() - cpu_before)
    return rate, per_cpu_s


def stage_times(cfg, samples: int) -> tuple[list[tuple[str, float, float]], float]:
    """Mean seconds and output megapixels per transform of the real pipeline, applied in order,
    plus the counterfactual: PhotoMetricDistortion on the resized image *before* the crop."""
    from mmseg.registry import DATASETS, TRANSFORMS

    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    transforms = list(dataset.datasets[0].pipeline.transforms)  # the same objects training uses
    names = [type(t).__name__ for t in transforms]
    distort = TRANSFORMS.build(dict(type="PhotoMetricDistortion"))
    crop_at = names.index("RandomCrop")
    totals = [0.0] * len(transforms)
    pixels = [0.0] * len(transforms)
    uncropped = 0.0
    for index in range(samples):
        results = dataset.get_data_info(index % len(dataset))
        for i, transform in enumerate(transforms):
            if i == crop_at:  # counterfactual, on a copy; the real pipeline continues unchanged
                other = {"img": results["img"].copy()}
                t = time.perf_counter()
                distort(other)
                uncropped += time.perf_counter() - t
            t = time.perf_counter()
            results = transform(results)
            totals[i] += time.perf_counter() - t
            img = results.get("img") if isinstance(results, dict) else None
            if hasattr(img, "shape"):
                pixels[i] += img.shape[0] * img.shape[1] / 1e6
            elif isinstance(results, dict) and "inputs" in results:
                pixels[i] += results["inputs"].shape[-2] * results["inputs"].shape[-1] / 1e6
    return ([(n, totals[i] / samples, pixels[i] / samples) for i, n in enumerate(names)],
            uncropped / samples)


def main(argv=None) -> int:
    args = parser(__doc__).parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mapsage.data.synth import SynthSpec, generate
    from mapsage.training.loader import auto_num_workers

    size = 256 if args.quick else 1024
    per_domain = 2 if args.quick else 16
    warmup, batches = (1, 1) if args.quick else (2, 16)
    repeat = 1 if args.quick else args.repeat
    worker_counts = (0,) if args.quick else (0, 2, 4)
    samples = 4 if args.quick else 32
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-data-") as tmp:
        data = generate(Path(tmp) / "data", SynthSpec(size=size, train_per_domain=per_domain,
                                                      val_per_domain=1), progress=None)
        png_mb = statistics.mean(p.stat().st_size / 1e6
                                 for p in (data / "Train").rglob("images_png/*.png"))
        cfg = build(data, 0)
        rates: dict[int, list[float]] = {w: [] for w in worker_counts}
        per_cpu: dict[int, list[float]] = {w: [] for w in worker_counts}
        loads: dict[int, list] = {w: [] for w in worker_counts}
        for r in range(repeat):
            order = worker_counts if r % 2 == 0 else tuple(reversed(worker_counts))
            for workers in order:
                loads[workers].append(settle(args.max_wait, args.quick))
                rate, per_cpu_s = loader_rate(cfg, workers, warmup, batches)
                rates[workers].append(rate)
                per_cpu[workers].append(per_cpu_s)
        stage_cond = settle(args.max_wait, args.quick)
        stages, uncropped = stage_times(cfg, samples)
    lo, hi = T4_NEED
    rows = []
    for workers in worker_counts:
        s = stats(rates[workers])
        verdict = "starves it" if s.median < hi else "keeps up"
        rows.append([f"{workers} worker(s)", s.fmt("img/s", 1),
                     f"{stats(per_cpu[workers]).median:.1f}",
                     f"{s.median / hi:.1f}x - {s.median / lo:.1f}x ({verdict})",
                     "; ".join(str(x) for x in loads[workers])])
    total = sum(t for _, t, _ in stages)
    stage_rows = [[name, f"{t * 1000:.1f} ms", f"{100 * t / total:.0f} %", f"{mp:.2f}"]
                  for name, t, mp in stages]
    stage_rows.append(["**sum (one image, one process)**", f"{total * 1000:.1f} ms",
                       f"= {1 / total:.1f} img/s", ""])
    stage_rows.append(["counterfactual: PhotoMetricDistortion *before* RandomCrop (on the "
                       "resized image)", f"{uncropped * 1000:.1f} ms", "not in the pipeline",
                       ""])
    body = (table(["DataLoader (batch 8)", "images/s", "images per CPU-second",
                   f"vs a T4's need ({lo:g}-{hi:g} img/s, derived)", CONDITIONS_HEADER], rows) + "\n\n"
            + table(["transform stage", "mean time per image", "share",
                     "output megapixels"], stage_rows))
    report(args.results, "Data-pipeline throughput",
           f"the MiT-B2 LoveDA training pipeline exactly as mapsage.training.config builds it "
           f"(LoadImageFromFile, LoadAnnotations, RandomResize scale (2048, 512) ratio 0.5-2.0, "
           f"RandomCrop 512 cat_max_ratio 0.75, RandomFlip 0.5, PhotoMetricDistortion, "
           f"PackSegInputs) on {2 * per_domain} synthetic {size} px tiles (RGB PNG, mean "
           f"{png_mb:.2f} MB per image: textured and noisy, so PNG decode costs about what a "
           f"real LoveDA tile costs), files in the page cache. DataLoader: "
           f"Runner.build_dataloader of the config's train_dataloader (InfiniteSampler, "
           f"pseudo_collate), cv2 threads and start method set as Runner.setup_env sets them; "
           f"images/s over {batches} batches after {warmup} warm-up batch(es), {repeat} "
           f"repetition(s) alternating the order of worker counts; images per CPU-second = "
           f"all images loaded / CPU time of this process and its workers (start-up included), "
           f"which does not depend on what else runs on the machine. Stages: each transform "
           f"object of the built dataset applied in order to {samples} tiles in this process "
           f"({CONDITIONS_HEADER}: {stage_cond}), mean per image. GPU need, derived (no Kaggle "
           f"run has measured it yet): {GPU_SOURCE} (derivation in "
           f"bench/bench_data_pipeline.py); 'Nx' = delivered / needed. num_workers=None picks "
           f"{auto_num_workers()} worker(s) on this machine (mapsage.training.loader).",
           body, start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
