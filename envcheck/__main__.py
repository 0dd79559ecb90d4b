"""``python -m envcheck``: exit 0 without errors, 1 with errors, 2 on usage errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from envcheck import run
from envcheck.facts import Facts
from envcheck.kaggle_paths import KAGGLE_INPUT
from envcheck.probe import DEFAULT_TIMEOUT_S
from envcheck.report import stream_supports
from envcheck.rules import PROFILES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m envcheck",
        description="Preflight MapSage's environment: Python, torch/CUDA, mmcv and its compiled "
                    "ops, mmengine, mmseg, the project's pins, stale imports, disk and Kaggle "
                    "settings. Exit code 0: no errors; 1: errors; 2: usage error.")
    parser.add_argument("--profile", choices=PROFILES,
                        help="which platform's rules apply (default: detected)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--work-dir", default=".", help="where runs go (disk space, lock search)")
    parser.add_argument("--lock", type=Path,
                        help="requirements-lock.txt to check pins against (default: the nearest "
                             "one above the work dir or the current directory)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds the subprocess probe may take (default: %(default)s)")
    parser.add_argument("--kaggle-input", default=KAGGLE_INPUT, help=argparse.SUPPRESS)
    parser.add_argument("--facts", type=Path, metavar="JSON",
                        help="evaluate facts from a file (the 'facts' object of a --json report) "
                             "instead of gathering them")
    parser.add_argument("--lock-selection", action="store_true",
                        help="print the lock's entries for this interpreter (hashes included; "
                             "the installed torch build kept, PyPI's CUDA runtime only if it "
                             "needs it) for `pip install --require-hashes -r`, and exit")
    parser.add_argument("--no-color", action="store_true", help="no ANSI colours")
    parser.add_argument("--ascii", action="store_true", help="ASCII marks instead of ✓ ✗")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lock is not None and not args.lock.is_file():
        parser.error(f"--lock {args.lock}: no such file")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if not Path(args.work_dir).is_dir():
        parser.error(f"--work-dir {args.work_dir}: no such folder")
    if args.lock_selection:
        from envcheck import facts as machine
        from envcheck import lockfile

        path = args.lock or machine.find_lock(Path(args.work_dir)) or machine.find_lock(Path.cwd())
        if path is None:
            parser.error("--lock-selection: no requirements-lock.txt here or above; pass --lock")
        sys.stdout.write(lockfile.selection(lockfile.read(path), Path(path).name))
        return 0
    facts = None
    if args.facts is not None:
        try:
            data = json.loads(args.facts.read_text())
            facts = Facts.from_dict(data.get("facts", data))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            parser.error(f"--facts {args.facts}: {type(exc).__name__}: {exc}")
    report = run(args.profile, facts, args.work_dir, lock=args.lock, timeout=args.timeout,
                 kaggle_input=args.kaggle_input)
    if args.json:
        text = report.to_json()
    else:
        color, unicode = stream_supports(sys.stdout)
        text = report.to_text(color=color and not args.no_color,
                              unicode=unicode and not args.ascii)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `python -m envcheck | head`: the reader left; the verdict stands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
