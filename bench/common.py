"""Shared helpers for MapSage's benchmarks: statistics, the machine, its load, memory of a process
tree, and the RESULTS.md section every script appends.

The machine is shared (other engineers' test runs, CI), so every measurement records what else was
running when it started (share of the CPU busy while the benchmark itself was idle, and the
1-minute load average), and the benchmarks wait a bounded time for a quiet machine before they
start and before each timed run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
QUIET_BUSY = 0.15  # share of all cores other processes may use for the machine to count as quiet


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(doc.strip().splitlines()[1:]))
    p.add_argument("--quick", action="store_true",
                   help="tiny settings, one repetition, no waiting (the smoke test uses it)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (default 3)")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="Markdown file the section is appended to (default bench/RESULTS.md)")
    p.add_argument("--max-wait", type=float, default=600.0,
                   help="seconds to wait, before the benchmark and (bounded by 180 s) before "
                        "each timed run, for other processes to use under "
                        f"{QUIET_BUSY:.0%} of the CPU (default 600; 0 = never wait)")
    return p


# --- statistics -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stats:
    median: float
    q1: float
    q3: float
    lo: float
    hi: float
    n: int

    def fmt(self, unit: str = "s", digits: int = 3) -> str:
        """``median unit (min-max, n=N)``; the interquartile range is added from 4 values on."""
        d = digits
        spread = f"min {self.lo:.{d}f}, max {self.hi:.{d}f}"
        if self.n >= 4:
            spread = f"IQR {self.q1:.{d}f}-{self.q3:.{d}f}, " + spread
        unit = f" {unit}" if unit else ""
        return f"{self.median:.{d}f}{unit} ({spread}, n={self.n})"


def stats(values: list[float]) -> Stats:
    if not values:
        raise ValueError("no values to summarise")
    v = sorted(values)
    if len(v) >= 2:
        q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive")
    else:
        q1 = q3 = v[0]
    return Stats(statistics.median(v), q1, q3, v[0], v[-1], len(v))


# --- the machine and its load -----------------------------------------------------------------

def load1() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle


def cpu_busy(seconds: float = 3.0) -> float:
    """Fraction of all cores busy over ``seconds`` (call it while this benchmark is idle: then it
    is what the rest of the machine uses). The load average reacts too slowly for that: it
    still counts the benchmark's own previous run for a minute."""
    if not Path("/proc/stat").is_file():
        return 0.0
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(max_wait: float, threshold: float = QUIET_BUSY, poll: float = 10.0,
                   sample: float = 3.0) -> str:
    """Wait up to ``max_wait`` s until the rest of the machine uses under ``threshold`` of its
    cores (sampled over ``sample`` s); return a sentence for the results ('quiet: 3% of the CPU
    busy, load 0.4')."""
    started = time.monotonic()
    busy = cpu_busy(sample)
    while busy >= threshold and time.monotonic() - started < max_wait:
        print(f"[bench] other processes keep {busy:.0%} of the CPU busy: waiting for a quieter "
              f"machine ({time.monotonic() - started:.0f}/{max_wait:.0f} s)", file=sys.stderr,
              flush=True)
        time.sleep(poll)
        busy = cpu_busy()
    waited = time.monotonic() - started
    state = "quiet" if busy < threshold else f"busy (gave up waiting after {waited:.0f} s)"
    after = f" after waiting {waited:.0f} s" if waited > 5 and busy < threshold else ""
    return f"{state}{after}: {busy:.0%} of the CPU busy, load {load1()}"


@dataclass(frozen=True)
class Conditions:
    """What else ran when a timed run started."""
    busy: float  # share of the CPU used by other processes
    load: float  # 1-min load average
    waited: float  # seconds spent waiting for a quieter machine

    def __str__(self) -> str:
        wait = f", waited {self.waited:.0f} s" if self.waited > 5 else ""
        busy = "-" if self.busy != self.busy else f"{self.busy:.0%}"  # NaN: not sampled
        return f"{busy}/{self.load:.2f}{wait}"


PER_RUN_WAIT = 180.0


def settle(max_wait: float, quick: bool = False) -> Conditions:
    """Before one timed run: wait (at most min(max_wait, 180) s) for a quiet machine; record
    the conditions. --quick does not sample (it would only add seconds to the smoke test)."""
    if quick:
        return Conditions(float("nan"), load1(), 0.0)
    started = time.monotonic()
    busy = cpu_busy()
    limit = min(max_wait, PER_RUN_WAIT)
    while busy >= QUIET_BUSY and time.monotonic() - started < limit:
        time.sleep(5)
        busy = cpu_busy()
    return Conditions(busy, load1(), time.monotonic() - started)


CONDITIONS_HEADER = "busy/load at start"


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("torch", "mmcv", "mmengine", "mmsegmentation", "opencv-python", "numpy"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "-"
    return found


def machine() -> dict:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        memory = f"{int(meminfo.read_text().split()[1]) / 2**20:.1f} GiB RAM"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory": memory, "os": platform.platform(),
            "python": platform.python_version(), **_versions()}


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Python {m['python']}, "
            f"torch {m['torch']}, mmcv {m['mmcv']}, mmengine {m['mmengine']}, "
            f"mmseg {m['mmsegmentation']}, opencv {m['opencv-python']}, numpy {m['numpy']}")


# --- memory and CPU time of a process tree ------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _Proc(NamedTuple):
    ppid: int
    cpu_s: float  # user + system time so far
    rss: int  # resident set, bytes
    cmd: str


def _proc_table() -> dict[int, _Proc]:
    """Every process, from /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                # the command name may hold spaces and parentheses: fields after the last ')'
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/statm") as fh:
                resident = int(fh.read().split()[1]) * _PAGE
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = _Proc(int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK,
                                       resident, cmd)
    return found


def _tree(table: dict[int, _Proc], root: int) -> list[int]:
    """``root`` (when alive) and all its descendants in ``table``."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, todo = [], [root] if root in table else []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


class _TreeSampler:
    """Calls :meth:`_sample` with the process table every ``interval`` s, in a thread, while the
    ``with`` block runs."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, table: dict[int, _Proc]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self._sample(_proc_table())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class TreeMemory(_TreeSampler):
    """Samples the summed RSS of the descendants of ``pid`` (not ``pid`` itself: the measuring
    wrapper) every ``interval`` s in a thread."""

    peak = 0

    def _sample(self, table: dict[int, _Proc]) -> None:
        rss = sum(table[pid].rss for pid in _tree(table, self.pid) if pid != self.pid)
        self.peak = max(self.peak, rss)

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


class TreeCPU(_TreeSampler):
    """Samples the CPU time of ``pid`` and every descendant every ``interval`` s (from /proc) and
    sums it by role, a function of the command line: where a process tree's CPU went. A
    process's last ``interval`` before it exits is not seen: compare with the exact total
    (getrusage) the caller measures."""

    def __init__(self, pid: int, role, interval: float = 0.2):
        super().__init__(pid, interval)
        self.role = role
        self.seen: dict[int, tuple[float, str]] = {}

    def _sample(self, table: dict[int, _Proc]) -> None:
        for pid in _tree(table, self.pid):
            known = self.seen.get(pid)
            cmd = table[pid].cmd
            self.seen[pid] = (table[pid].cpu_s, known[1] if known and known[1] else cmd)

    def by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for cpu, cmd in self.seen.values():
            role = self.role(cmd)
            totals[role] = totals.get(role, 0.0) + cpu
        return totals


# A wrapper process runs the command so that getrusage(RUSAGE_CHILDREN) covers exactly this
# command's process tree (ru_maxrss = the largest single process in it).
_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, "
    "text=True)\n"
    "wall = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(json.dumps({'wall_s': wall, 'max_rss_mib': rss / 1024, 'rc': p.returncode,"
    " 'output': p.stdout}))\n"
)


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None,
                 timeout: float = 3600, check: bool = True) -> dict:
    """Run ``cmd``; return wall_s, max_rss_mib (largest single process of its tree, exact),
    tree_peak_mib (summed RSS of the whole tree, sampled every 0.2 s), load (1-min load average
    at the start), rc and output (merged stdout/stderr)."""
    load = load1()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd)
    with TreeMemory(proc.pid) as memory:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    result = json.loads(err[err.index('{"wall_s"'):])
    result.update(tree_peak_mib=memory.peak_mib, load=load)
    if check and result["rc"] != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {result['rc']}:\n"
                           f"{result['output'][-3000:]}")
    return result


def run_timed(cmd: list[str], cwd: Path | None = None, timeout: float = 3600,
              env: dict | None = None) -> tuple[float, str]:
    """Wall time of a command that must succeed, and its merged output."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n"
                           f"{proc.stdout[-3000:]}")
    return wall, proc.stdout


# --- mmengine logs ------------------------------------------------------------------------------

def train_scalars(work_dir: Path) -> list[dict]:
    """The training rows of mmengine's ``vis_data/scalars.json`` under ``work_dir``."""
    rows = []
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if "loss" in r and "time" in r]


# --- output -----------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(results: Path, title: str, method: str, body: str, *, start: str,
           quick: bool = False) -> None:
    """Print the tables and append a dated section (machine, load, method, numbers)."""
    print(body, flush=True)
    m = machine()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    heading = f"{title}{' (--quick)' if quick else ''}"
    section = (f"\n## {heading} - {stamp} UTC\n\n"
               f"**Machine:** {machine_line(m)}.\n\n"
               f"**Load** (the machine is shared with other engineers' test runs; 'busy' = "
               f"share of the CPU used by other processes, sampled over 3 s while this benchmark "
               f"was idle; load = 1-min load average, which includes this benchmark's own recent "
               f"work): at the start {start}; load {load1()} at the end.\n\n"
               f"**Method:** {method}\n\n{body}\n")
    if not results.exists():
        results.write_text("# MapSage benchmark results\n\nAppended by the scripts in `bench/` "
                           "(see bench/README.md); newest last.\n")
    with results.open("a") as fh:
        fh.write(section)
