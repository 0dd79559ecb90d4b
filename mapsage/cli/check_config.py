"""``mapsage check-config CONFIG``: check an mmengine config (types, hooks, LoveDA labels, the
model's test_cfg) before spending GPU time on it; exit 1 when it has errors. A training run makes
the same checks (exit 2), then sends one validation batch through the model before its first
iteration (:mod:`mapsage.training.hooks.validation_probe`)."""

from __future__ import annotations

NAME = "check-config"
HELP = "check an mmengine config before training"


def add_arguments(p) -> None:
    """Add this command\'s arguments to its parser ``p``."""
    p.add_argument("config")
    p.add_argument("--distributed", action="store_true", help="it will train on several GPUs")


def run(args) -> int:
    """Run the command with the parsed ``args``; return its exit code."""
    from mapsage.training.config_check import check_file

    findings = check_file(args.config, distributed=args.distributed)
    for finding in findings:
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{args.config}: {errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if errors else 0
