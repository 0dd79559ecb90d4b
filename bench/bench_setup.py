"""Setup time: a fresh environment, warm (mmcv wheel in the wheelhouse) and cold (mmcv compiled).

Target (issue 7): warm setup of mmcv under 60 s.

Each variant repeats what `nox -s tests` does on a new machine, step by step, in a fresh venv in a
temporary folder: `python -m venv`, `pip install -r requirements-lock.txt`, `pip install --no-deps
-e .`, then `python -m mapsage.provision` run by the new venv's interpreter. Every step is timed
separately, with two memory figures: the summed RSS of the step's whole process tree (sampled
every 0.2 s, what the machine must have free) and the largest single process in it (exact,
getrusage RUSAGE_CHILDREN of a wrapper process).

- warm: the wheelhouse (~/.cache/mapsage/wheelhouse, or MAPSAGE_WHEELHOUSE) holds the mmcv wheel
  for this Python/torch, so provisioning installs it offline;
- cold (only with --cold; about 9 minutes on 2 cores): MAPSAGE_WHEELHOUSE points at an empty
  temporary folder, so provisioning compiles mmcv 2.1.0 from the sdist and stores the wheel in
  that temporary folder. The real wheelhouse is never modified.
- also measured: `python -m mapsage.provision` in the already provisioned project environment
  (mmcv installed; every nox session pays this check). --quick measures only this.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from common import ROOT, parser, report, run_measured, settle, stats, table, wait_for_quiet

STEPS = ("venv", "lock install", "project (editable)", "mmcv provision")


def setup_variant(where: Path, env: dict, args) -> dict:
    """All steps in a fresh venv at ``where``; return {step: run_measured result}."""
    python = str(where / "bin" / "python")
    commands = {
        "venv": [sys.executable, "-m", "venv", str(where)],
        "lock install": [python, "-m", "pip", "install", "--quiet", "-r",
                         str(ROOT / "requirements-lock.txt")],
        "project (editable)": [python, "-m", "pip", "install", "--quiet", "--no-deps", "-e",
                               str(ROOT)],
        "mmcv provision": [python, "-m", "mapsage.provision"],
    }
    results = {"cond": settle(args.max_wait)}
    for step in STEPS:
        results[step] = run_measured(commands[step], env=env, cwd=ROOT, timeout=3600)
    found = re.search(r"mmcv ready \((\w+)\)", results["mmcv provision"]["output"])
    results["strategy"] = found.group(1) if found else "?"
    return results


def mib(value: float) -> str:
    return f"{value:.0f} MiB"


def main(argv=None) -> int:
    p = parser(__doc__)
    p.add_argument("--cold", action="store_true",
                   help="also measure one cold setup (mmcv compiled, ~9 min, ~3 GB RAM)")
    args = p.parse_args(argv)
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    check_runs = [run_measured([sys.executable, "-m", "mapsage.provision"], cwd=ROOT)
                  for _ in range(2 if args.quick else args.repeat)]
    check = stats([r["wall_s"] for r in check_runs])
    check_row = ["mmcv already installed: `python -m mapsage.provision` check", check.fmt(),
                 mib(max(r["tree_peak_mib"] for r in check_runs)),
                 mib(max(r["max_rss_mib"] for r in check_runs)),
                 "; ".join(f"-/{r['load']:.2f}" for r in check_runs)]
    headers = ["step", "wall time", "peak RSS, process tree (sampled)",
               "peak RSS, largest process",
               "busy/load at start (busy sampled once per variant)"]
    if args.quick:
        report(args.results, "Setup time",
               "only the provisioning check in the already provisioned project environment "
               "(--quick: no fresh venv).", table(headers, [check_row]), start=start, quick=True)
        return 0

    variants: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="mapsage-bench-setup-") as tmp:
        tmp = Path(tmp)
        for i in range(args.repeat):
            variants.append(("warm", setup_variant(tmp / f"warm-{i}", {}, args)))
        if args.cold:
            empty = tmp / "empty-wheelhouse"
            empty.mkdir()
            variants.append(("cold", setup_variant(tmp / "cold",
                                                   {"MAPSAGE_WHEELHOUSE": str(empty)}, args)))
    rows = []
    for kind in ("warm", "cold"):
        runs = [v for k, v in variants if k == kind]
        if not runs:
            continue
        strategies = sorted({r["strategy"] for r in runs})
        for step in STEPS:
            walls = stats([r[step]["wall_s"] for r in runs])
            rows.append([f"{kind}: {step}" + (f" ({'/'.join(strategies)})"
                                              if step == "mmcv provision" else ""),
                         walls.fmt("s", 1), mib(max(r[step]["tree_peak_mib"] for r in runs)),
                         mib(max(r[step]["max_rss_mib"] for r in runs)),
                         "; ".join(f"{r['cond'].busy:.0%}/{r[step]['load']:.2f}"
                                   for r in runs)])
        total = stats([sum(r[s]["wall_s"] for s in STEPS) for r in runs])
        rows.append([f"**{kind}: total**", total.fmt("s", 1), "", "", ""])
    rows.append(check_row)
    report(args.results, "Setup time",
           "fresh venv per variant in a temporary folder; steps as in `nox -s tests` "
           "(venv, `pip install -r requirements-lock.txt`, `pip install --no-deps -e .`, "
           "`python -m mapsage.provision` by the new interpreter), each timed separately. "
           f"{args.repeat} warm run(s) (mmcv wheel in the wheelhouse, installed offline after its "
           "sha256 check)" + (", then one cold run (MAPSAGE_WHEELHOUSE = an empty temporary "
                              "folder: mmcv 2.1.0 compiled from the sdist with MAX_JOBS = CPUs)"
                              if args.cold else "; no cold run (--cold not given)") +
           ". pip installs from this machine's local wheel folder and index (PIP_FIND_LINKS, "
           "file:// extra index) and its own cache, so the lock install is faster here than "
           "over a network. Memory: summed RSS of the step's process tree sampled every 0.2 s "
           "(can miss short peaks) and the exact peak of its largest single process "
           "(getrusage). Target: warm mmcv provision under 60 s.",
           table(headers, rows), start=start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
