"""Preflight latency: envcheck's static part and its full run, median of repeated runs.

Targets (issue 7): static part under 0.2 s, full run under 5 s on this machine.

Two measurements, alternated in each repetition:
- `python -m envcheck --json`: envcheck's own timers (`static_s` = gathering the static facts,
  `probe_s` = the subprocess that imports torch/mmcv/mmengine/mmseg, `total_s`) and the wall
  clock around the command (interpreter start and imports included);
- the static part as a fresh interpreter pays for it: `import envcheck` plus
  `envcheck.facts.gather_static()`, timed inside a new `python -c` process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import (
    CONDITIONS_HEADER,
    ROOT,
    parser,
    report,
    run_timed,
    settle,
    stats,
    table,
    wait_for_quiet,
)

STATIC_ONLY = (
    "import time; t0 = time.perf_counter()\n"
    "import envcheck.facts\n"
    "t1 = time.perf_counter()\n"
    "envcheck.facts.gather_static('.', None)\n"
    "t2 = time.perf_counter()\n"
    "import json; print(json.dumps({'import_s': t1 - t0, 'static_s': t2 - t1}))\n"
)


def main(argv=None) -> int:
    args = parser(__doc__).parse_args(argv)
    repeat = 2 if args.quick else max(args.repeat, 7)
    start = wait_for_quiet(0 if args.quick else args.max_wait, sample=0.5 if args.quick else 3.0)
    runs: dict[str, list[float]] = {k: [] for k in
                                    ("static_s", "probe_s", "rules_s", "total_s", "wall",
                                     "fresh_import", "fresh_static", "fresh_wall")}
    loads = []
    for _ in range(repeat):
        loads.append(settle(args.max_wait, args.quick))
        started = time.perf_counter()
        # envcheck exits 1 when it finds errors; its timings are still valid: no check here
        proc = subprocess.run([sys.executable, "-m", "envcheck", "--json"],
                              capture_output=True, text=True, cwd=ROOT, timeout=180)
        runs["wall"].append(time.perf_counter() - started)
        timings = json.loads(proc.stdout)["timings"]
        for key in ("static_s", "probe_s", "rules_s", "total_s"):
            runs[key].append(timings[key])
        wall, out = run_timed([sys.executable, "-c", STATIC_ONLY], cwd=ROOT, timeout=60)
        fresh = json.loads(out.strip().splitlines()[-1])
        runs["fresh_import"].append(fresh["import_s"])
        runs["fresh_static"].append(fresh["static_s"])
        runs["fresh_wall"].append(wall)
    s = {k: stats(v) for k, v in runs.items()}
    fresh_total = stats([a + b for a, b in zip(runs["fresh_import"], runs["fresh_static"], strict=True)])

    def met(value: float, limit: float) -> str:
        return "yes" if value < limit else "**no**"

    rows = [
        ["static facts (envcheck's `static_s`)", s["static_s"].fmt(), "< 0.2 s",
         met(s["static_s"].median, 0.2)],
        ["static part in a fresh interpreter: `import envcheck` + gather", fresh_total.fmt(),
         "< 0.2 s", met(fresh_total.median, 0.2)],
        ["- of which `import envcheck`", s["fresh_import"].fmt(), "", ""],
        ["- wall of that `python -c` (interpreter start included)", s["fresh_wall"].fmt(), "",
         ""],
        ["subprocess probes (`probe_s`: imports torch, mmcv, mmengine, mmseg)",
         s["probe_s"].fmt(), "", ""],
        ["rules and check lines (`rules_s`)", s["rules_s"].fmt(), "", ""],
        ["full run (envcheck's `total_s`)", s["total_s"].fmt(), "< 5 s",
         met(s["total_s"].median, 5.0)],
        ["full run, wall of `python -m envcheck --json`", s["wall"].fmt(), "< 5 s",
         met(s["wall"].median, 5.0)],
    ]
    report(args.results, "Preflight latency",
           f"{repeat} repetitions; each runs `python -m envcheck --json` (profile detected: "
           "local) and then the static part alone in a fresh `python -c` process, both from the "
           "project's environment in the repository root (warm page cache: the same files are "
           f"read every time). {CONDITIONS_HEADER} of the repetitions: "
           f"{'; '.join(str(x) for x in loads)}.",
           table(["part", "time", "target", "met"], rows), start=start, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
