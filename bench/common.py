"""Shared helpers for MapSage's benchmarks: timing statistics, the machine, RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny settings (the smoke test uses it)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per measurement")
    p.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to append to")
    return p


def stats(values: list[float]) -> dict:
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "n": len(values)}


def fmt(s: dict, unit: str = "s", digits: int = 3) -> str:
    return (f"{s['median']:.{digits}f} {unit} (min {s['min']:.{digits}f}, max "
            f"{s['max']:.{digits}f}, n={s['n']})")


def machine() -> dict:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split()[1])
        mem = f"{kib / 2**20:.1f} GiB"
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("torch", "mmcv", "mmengine", "mmsegmentation"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "python": platform.python_version(), **versions,
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None,
                 timeout: float = 3600) -> dict:
    """Wall time and peak RSS of a command (and its children), via a measuring wrapper."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'wall_s': wall, 'peak_rss_mib': rss / 1024, 'rc': p.returncode,"
        " 'tail': (p.stdout + p.stderr)[-3000:]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result['rc']}):\n{result['tail']}")
    return result


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(results: Path, title: str, method: str, body: str) -> None:
    """Print the table and append a dated section (method, machine, numbers) to RESULTS.md."""
    print(body)
    m = machine()
    section = (f"\n## {title} ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC)\n\n"
               f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Python "
               f"{m['python']}, torch {m['torch']}, mmcv {m['mmcv']}, mmengine {m['mmengine']}, "
               f"mmseg {m['mmsegmentation']}; 1-min load average at the end: "
               f"{m['load_avg_1m']} (the machine is shared).\n\n**Method:** {method}\n\n{body}\n")
    if not results.exists():
        results.write_text("# MapSage benchmark results\n\nAppended by the scripts in `bench/`; "
                           "newest last.\n")
    with results.open("a") as fh:
        fh.write(section)


def now() -> float:
    return time.perf_counter()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
