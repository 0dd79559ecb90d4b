"""Setup time: cold (no cached mmcv wheel: lock install + mmcv source build) vs warm (wheelhouse
hit), wall time and peak memory. Target: warm setup of mmcv under 60 s.

Each variant starts from a fresh venv. The lock install (`pip install -r requirements-lock.txt`)
and mmcv provisioning (`python -m mapsage.provision --python VENV`) are timed separately. The
cold variant points MAPSAGE_WHEELHOUSE at an empty folder, so provisioning compiles mmcv (about
9 minutes on 2 cores) without touching the real wheelhouse; it runs only with --cold.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, fmt, parser, report, run_measured, stats, table


def fresh_venv(where: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return str(where / "bin" / "python")


def variant(name: str, tmp: Path, env: dict) -> list:
    python = fresh_venv(tmp / f"venv-{name}")
    lock = run_measured([python, "-m", "pip", "install", "--quiet", "-r",
                         str(ROOT / "requirements-lock.txt")])
    mmcv = run_measured([sys.executable, "-m", "mapsage.provision", "--python", python],
                        env=env, cwd=ROOT)
    found = re.search(r"mmcv ready \((\w+)\)", mmcv["tail"])
    strategy = found.group(1) if found else "?"
    return [name, strategy, f"{lock['wall_s']:.1f} s", f"{lock['peak_rss_mib']:.0f} MiB",
            f"{mmcv['wall_s']:.1f} s", f"{mmcv['peak_rss_mib']:.0f} MiB",
            f"{lock['wall_s'] + mmcv['wall_s']:.1f} s"]


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cold", action="store_true", help="also measure a cold mmcv source build")
    args = p.parse_args(argv)
    if args.quick:
        runs = [run_measured([sys.executable, "-m", "mapsage.provision"], cwd=ROOT)["wall_s"]
                for _ in range(2)]
        report(args.results, "Setup time (quick)",
               "`python -m mapsage.provision` in the already provisioned environment (mmcv "
               "installed: the check alone).",
               table(["step", "wall"], [["provision, mmcv already installed", fmt(stats(runs))]]))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.repeat):
            rows.append(variant(f"warm {i + 1}", tmp, {}))
        if args.cold:
            empty = tmp / "empty-wheelhouse"
            empty.mkdir()
            rows.append(variant("cold", tmp, {"MAPSAGE_WHEELHOUSE": str(empty)}))
    report(args.results, "Setup time",
           "fresh venv per variant; lock install and mmcv provisioning timed separately, peak RSS "
           "of each step's process tree (getrusage of the children). Warm: the wheel is in the "
           "wheelhouse (~/.cache/mapsage/wheelhouse). Cold: an empty wheelhouse, so mmcv 2.1.0 is "
           "compiled from the sdist (MAX_JOBS = CPUs). Target: warm mmcv step under 60 s. pip "
           "reads torch from this machine's local wheel files, so the lock install here is "
           "faster than over a network.",
           table(["variant", "mmcv via", "lock install", "lock peak RSS", "mmcv step",
                  "mmcv peak RSS", "total"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
