"""Preflight latency: envcheck's static part and its full run (median of repeated runs).

Targets: static part under 0.2 s, full run under 5 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import ROOT, fmt, parser, report, stats, table


def main(argv=None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    repeat = 2 if args.quick else max(args.repeat, 5)
    static, probes, total, wall = [], [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "envcheck", "--json"], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)
        wall.append(time.perf_counter() - started)
        data = json.loads(proc.stdout)
        static.append(data["timings"]["static_s"])
        probes.append(data["timings"]["probe_s"])
        total.append(data["timings"]["total_s"])
    rows = [["static facts (in process)", fmt(stats(static)), "< 0.2 s",
             "yes" if stats(static)["median"] < 0.2 else "NO"],
            ["subprocess probes", fmt(stats(probes)), "", ""],
            ["full run (envcheck's own timer)", fmt(stats(total)), "< 5 s",
             "yes" if stats(total)["median"] < 5 else "NO"],
            ["wall incl. interpreter start", fmt(stats(wall)), "", ""]]
    report(args.results, "Preflight latency",
           f"`python -m envcheck --json` run {repeat} times in the project environment; "
           "timings from its JSON (`static_s`, `probe_s`, `total_s`) and wall clock around it.",
           table(["part", "time", "target", "met"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
