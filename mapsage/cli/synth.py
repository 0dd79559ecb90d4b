"""``mapsage synth [OUT]``: write the deterministic synthetic LoveDA-layout demo data set,
(``--loveda-size``) a tree of LoveDA's real size for measuring start-up costs, or (``--folders``)
the second synthetic data set: a folder data set of another shape (img_dir/ann_dir, JPEG images,
5 classes, 255 as ignore) with its dataset.yaml."""

from __future__ import annotations

NAME = "synth"
HELP = "write the synthetic LoveDA-layout data set"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("out", nargs="?", default=None,
                   help="where to write (default data/synthetic-loveda; data/synthetic-roofs "
                        "with --folders)")
    p.add_argument("--size", type=int, default=None,
                   help="tile size in pixels (default 128; 1024 with --loveda-size)")
    p.add_argument("--train-per-domain", type=int, default=16)
    p.add_argument("--val-per-domain", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loveda-size", action="store_true",
                   help="LoveDA's counts and file names (Train 2,522 + Val 1,669 tiles): only "
                        "--distinct tiles per folder are generated, the rest are hard links to "
                        "them (a few seconds instead of minutes)")
    p.add_argument("--folders", action="store_true",
                   help="write the folder data set (img_dir/ann_dir, JPEG + PNG, 5 classes, "
                        "dataset.yaml) instead: train it with -p data_root OUT -p config "
                        "fcn_tiny-128x128.py")
    p.add_argument("--distinct", type=int, default=2,
                   help="with --loveda-size: tiles generated per folder (default 2)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.data.synth import SynthSpec, generate

    if args.folders:
        from mapsage.data.synth_folders import generate_folders

        generate_folders(args.out or "data/synthetic-roofs", size=args.size or 128,
                         seed=args.seed)
        return 0
    if args.loveda_size:
        spec = SynthSpec.loveda_size(size=args.size or 1024, distinct=args.distinct,
                                     seed=args.seed)
    else:
        spec = SynthSpec(size=args.size or 128, train_per_domain=args.train_per_domain,
                         val_per_domain=args.val_per_domain, seed=args.seed)
    generate(args.out or "data/synthetic-loveda", spec)
    return 0
