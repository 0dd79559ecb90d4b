"""``mapsage synth [OUT]``: write the deterministic synthetic LoveDA-layout demo data set, or
(``--loveda-size``) a tree of LoveDA's real size for measuring start-up costs."""

from __future__ import annotations

NAME = "synth"
HELP = "write the synthetic LoveDA-layout data set"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("out", nargs="?", default="data/synthetic-loveda")
    p.add_argument("--size", type=int, default=None,
                   help="tile size in pixels (default 128; 1024 with --loveda-size)")
    p.add_argument("--train-per-domain", type=int, default=16)
    p.add_argument("--val-per-domain", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loveda-size", action="store_true",
                   help="LoveDA's counts and file names (Train 2,522 + Val 1,669 tiles): only "
                        "--distinct tiles per folder are generated, the rest are hard links to "
                        "them (a few seconds instead of minutes)")
    p.add_argument("--distinct", type=int, default=2,
                   help="with --loveda-size: tiles generated per folder (default 2)")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.data.synth import SynthSpec, generate

    if args.loveda_size:
        spec = SynthSpec.loveda_size(size=args.size or 1024, distinct=args.distinct,
                                     seed=args.seed)
    else:
        spec = SynthSpec(size=args.size or 128, train_per_domain=args.train_per_domain,
                         val_per_domain=args.val_per_domain, seed=args.seed)
    generate(args.out, spec)
    return 0
