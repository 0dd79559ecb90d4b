"""``mapsage predict CHECKPOINT INPUT --out DIR``: label PNGs in the run's data set's convention
(LoveDA's 1..7 for its test server).

See :mod:`mapsage.training.predict`.
"""

from __future__ import annotations

NAME = "predict"
HELP = ("write label PNGs for a folder of images with a checkpoint, in its data set's convention "
        "(LoveDA: classes 1..7)")


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    from mapsage.models import MODELS
    from mapsage.params import DEVICES

    p.add_argument("checkpoint", help="a checkpoint of a MapSage run (e.g. best_mIoU_iter_N.pth)")
    p.add_argument("input", help="a folder of images, a split folder (LoveDA's Test/ or Val/, a "
                                 "data set's test/ with images/), or a data set's root with --split")
    p.add_argument("--out", required=True, help="folder for the label PNGs (overlays/ inside)")
    p.add_argument("--split", help="the split under INPUT: test, val or train (LoveDA's Test, Val "
                                   "or Train)")
    p.add_argument("--model", default="auto", choices=("auto", *MODELS),
                   help="the MapSage LoveDA model the checkpoint holds (default: recognised "
                        "from its weights)")
    p.add_argument("--config", help="the mmengine config it was trained with, e.g. the one the "
                                    "run saved in its work_dir (needed for a run not on LoveDA; "
                                    "a config is Python: name only one you trust); its "
                                    "dataset_description gives the classes, palette and labels")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--overlays", type=int, default=8, metavar="N",
                   help="colour overlays for N images, taken in turn from each folder "
                        "(default 8)")
    p.add_argument("--overwrite", action="store_true", help="replace label files in --out")
    p.add_argument("--zip", action="store_true",
                   help="also write --out/submission.zip: the label PNGs, flat (for LoveDA's "
                        "test server)")
    p.add_argument("--mode", default="whole",
                   help="whole (each image at once, default) or slide (sliding windows)")
    p.add_argument("--crop-size", metavar="H[,W]",
                   help="--mode slide: the window (default: the model's training crop)")
    p.add_argument("--stride", metavar="H[,W]",
                   help="--mode slide: the step between windows (default: 2/3 of the window)")
    p.add_argument("--flip", action="store_true",
                   help="test-time augmentation: average the softmax with the flipped image's")
    p.add_argument("--scales", metavar="R,R,...",
                   help="test-time augmentation: average the softmax over these factors of the "
                        "test scale (e.g. 0.75,1.0,1.25)")
    p.add_argument("--progress-every", type=int, default=100, metavar="N",
                   help="a progress line every N images (and every 30 s; default 100)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow Python objects beyond MapSage's allowlist (files you trust only)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.errors import MapSageError
    from mapsage.training.checkpoint.safe_load import force_weights_only
    from mapsage.training.device import resolve_device
    from mapsage.training.predict import predict
    from mapsage.training.predict_options import check_options

    options = check_options(args.mode, args.crop_size, args.stride, args.flip, args.scales)
    if args.progress_every < 1:
        raise MapSageError(f"--progress-every {args.progress_every}: expected a positive number "
                           "of images between progress lines. Give e.g. --progress-every 100.")
    force_weights_only()
    predict(args.checkpoint, args.input, args.out, split=args.split, model=args.model,
            config=args.config, device=resolve_device(args.device), overlays=args.overlays,
            overwrite=args.overwrite, trust=args.trust_checkpoint, options=options,
            zip_labels=args.zip, progress_every=args.progress_every)
    return 0
