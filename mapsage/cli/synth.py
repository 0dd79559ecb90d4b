"""``mapsage synth [OUT]``: write the deterministic synthetic LoveDA-layout demo data set."""

from __future__ import annotations

NAME = "synth"
HELP = "write the synthetic LoveDA-layout data set"


def add_arguments(p) -> None:
    p.add_argument("out", nargs="?", default="data/synthetic-loveda")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--train-per-domain", type=int, default=16)
    p.add_argument("--val-per-domain", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from mapsage.data.synth import SynthSpec, generate

    generate(args.out, SynthSpec(size=args.size, train_per_domain=args.train_per_domain,
                                 val_per_domain=args.val_per_domain, seed=args.seed))
    return 0
