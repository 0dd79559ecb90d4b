"""The heavy facts, gathered without importing anything heavy here.

torch, CUDA, mmcv (and its compiled ops), mmengine and mmseg are imported by
``_probe_script.py`` in a subprocess of this very interpreter (``sys.executable``), with a
timeout: an import that crashes the interpreter or hangs becomes a fact (``ProbeResult``), not
the end of envcheck. Meanwhile this process asks nvcc for its version and, on Kaggle only, scans
the attached inputs and checks the internet.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

from envcheck import fatbin, kaggle, ops_target
from envcheck.facts import Facts, Gpu, KaggleFacts, MmcvFacts, ProbeResult, TorchFacts
from envcheck.kaggle_paths import KAGGLE_INPUT

MARK = "@@envcheck@@ "
SCRIPT = Path(__file__).with_name("_probe_script.py")
DEFAULT_TIMEOUT_S = 90.0
STDERR_TAIL = 4000


def stderr_digest(text: str, limit: int = 600) -> str:
    """The telling part of a crash's stderr: faulthandler's 'Fatal Python error' line and the
    innermost frame (it prints most recent call first), else a traceback's last lines."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    fatal = next((i for i, ln in enumerate(lines) if ln.startswith("Fatal Python error")), None)
    if fatal is not None:
        frames = [ln for ln in lines[fatal:] if ln.startswith("File ")][:2]
        digest = " | ".join([lines[fatal], *frames])
    else:
        digest = " | ".join(lines[-3:])
    return digest if len(digest) <= limit else digest[:limit - 3] + "..."


def parse_records(stdout: str) -> list[dict]:
    records = []
    for line in stdout.splitlines():
        at = line.find(MARK)
        if at < 0:
            continue
        try:
            records.append(json.loads(line[at + len(MARK):]))
        except json.JSONDecodeError as exc:
            records.append({"step": "?", "status": "error",
                            "error": f"unreadable probe line ({exc}): {line[at:][:200]}"})
    return records


class ScriptRun:
    """The probe script, started at once; :meth:`finish` collects it (killed at the timeout)."""

    def __init__(self, python: str, cwd: str, timeout: float, skip: tuple[str, ...] = ()):
        self.started = time.perf_counter()
        self.timeout = timeout
        env = {**os.environ, "PYTHONFAULTHANDLER": "1", "PYTHONIOENCODING": "utf-8"}
        self.launch_error = None
        try:
            self.proc = subprocess.Popen(
                [python, "-c", SCRIPT.read_text(), *(["--skip", *skip] if skip else [])], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        except OSError as exc:
            self.proc = None
            self.launch_error = f"cannot start {python}: {type(exc).__name__}: {exc}"

    def finish(self) -> tuple[list[dict], ProbeResult]:
        if self.proc is None:
            return [], ProbeResult(returncode=None, timeout_s=self.timeout,
                                   errors={"probe": self.launch_error or "not started"})
        timed_out = False
        remaining = max(0.1, self.timeout - (time.perf_counter() - self.started))
        try:
            out, err = self.proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.proc.kill()
            out, err = self.proc.communicate()
        records = parse_records(out or "")
        begun = [r["step"] for r in records if r.get("status") == "begin"]
        ended = {r["step"] for r in records if r.get("status") in ("ok", "error")}
        result = ProbeResult(
            seconds=round(time.perf_counter() - self.started, 3),
            returncode=None if timed_out else self.proc.returncode,
            timed_out=timed_out,
            timeout_s=self.timeout,
            unfinished_step=next((s for s in begun if s not in ended), None),
            completed=[s for s in begun if s in ended],
            errors={r["step"]: (r.get("error", "") + "\n" + r.get("traceback", "")).strip()
                    for r in records if r.get("status") == "error"},
            stderr_tail=(err or "")[-STDERR_TAIL:],
            stderr_digest=stderr_digest(err or ""),
        )
        finished = any(r.get("step") == "done" for r in records)
        if not timed_out and self.proc.returncode == 0 and not finished:
            result.errors["probe"] = "the probe exited without finishing its report"
        return records, result


def run_script(python: str, cwd: str, timeout: float) -> tuple[list[dict], ProbeResult]:
    return ScriptRun(python, cwd, timeout).finish()


def apply_records(facts: Facts, records: list[dict]) -> None:
    data = {r["step"]: r.get("data") or {} for r in records if r.get("status") == "ok"}
    if "torch" in data:
        t = data["torch"]
        cuda = data.get("cuda", {})
        facts.torch = TorchFacts(
            version=t["version"], cuda=t.get("cuda"), cudnn=t.get("cudnn"),
            cuda_available=bool(cuda.get("cuda_available")),
            gpus=[Gpu(g["name"], tuple(g["capability"]), g.get("memory_gib"))
                  for g in cuda.get("gpus", [])],
            arch_list=list(t.get("arch_list") or []), file=t.get("file"))
    for name in ("mmengine", "mmseg"):
        if name in data:
            facts.imports[name] = data[name].get("version") or ""
    if "mmcv" in data:
        m = MmcvFacts(version=data["mmcv"].get("version"), file=data["mmcv"].get("file"))
        ext = data.get("mmcv_ext")
        if ext:
            m.ext_loaded = True
            m.ext_file = ext.get("file")
            ops = ext.get("ops_cuda")
            m.ops_cuda = None if not ops or ops == "not available" else ops
            m.compiler = ext.get("compiler")
        facts.mmcv = m




def mmcv_archs(facts: Facts) -> None:
    """Read the architectures of mmcv's CUDA ops out of the extension file itself."""
    m = facts.mmcv
    if m is None or not m.ext_file or not m.ops_cuda:
        return
    try:
        m.cuda_archs = fatbin.cuda_archs(m.ext_file)
    except (OSError, fatbin.NotAnElf) as exc:
        m.cuda_archs = None
        m.archs_error = f"could not read CUDA architectures from {m.ext_file}: {exc}"


def gather_probes(facts: Facts, *, timeout: float = DEFAULT_TIMEOUT_S,
                  kaggle_input: str | Path = KAGGLE_INPUT, scan_kaggle: bool | None = None,
                  check_internet: bool | None = None, python: str | None = None) -> Facts:
    """Fill in the heavy facts (in place, and returned).

    Kaggle inputs are scanned when ``scan_kaggle`` (default: the platform is Kaggle); the
    internet is checked only when ``check_internet`` (default: the platform is Kaggle).
    """
    on_kaggle = facts.platform == "kaggle"
    scan_kaggle = on_kaggle if scan_kaggle is None else scan_kaggle
    check_internet = on_kaggle if check_internet is None else check_internet
    internet: dict = {}
    net = None
    if check_internet:
        def check() -> None:
            internet["ok"], internet["detail"] = kaggle.internet_reachable()

        net = threading.Thread(target=check, daemon=True)
        net.start()
    cwd = facts.work_dir if os.path.isdir(facts.work_dir) else os.getcwd()
    script = ScriptRun(python or facts.executable, cwd, timeout)
    toolkit = ops_target.find_toolkit()
    facts.nvcc, facts.nvcc_path, facts.nvcc_found_by = (toolkit.version, toolkit.nvcc,
                                                        toolkit.found_by)
    if scan_kaggle or check_internet:
        facts.kaggle = KaggleFacts(input_root=str(kaggle_input),
                                   inputs=kaggle.scan_inputs(kaggle_input) if scan_kaggle else [])
    records, facts.probe = script.finish()
    crashed = facts.probe.unfinished_step
    if crashed and not facts.probe.timed_out:
        # learn what the crash hid: once more, without the step that crashed
        retry = ScriptRun(python or facts.executable, cwd, timeout, skip=(crashed,))
        more, second = retry.finish()
        done = {r["step"] for r in records if r.get("status") in ("ok", "error")}
        records += [r for r in more if r.get("step") not in done]
        facts.probe.completed += [s for s in second.completed if s not in done]
        facts.probe.errors.update({s: e for s, e in second.errors.items() if s not in done})
        if second.unfinished_step:
            facts.probe.errors[second.unfinished_step] = (
                f"the probe crashed here too (exit {second.returncode}): "
                + second.stderr_digest)
        facts.probe.seconds = round(facts.probe.seconds + second.seconds, 3)
    apply_records(facts, records)
    if facts.probe.errors.get("mmcv_ext") and facts.mmcv is not None:
        facts.mmcv.ext_error = facts.probe.errors["mmcv_ext"]
    mmcv_archs(facts)
    if facts.kaggle is not None:
        facts.kaggle.gpu_enabled = bool(facts.torch.gpus) if facts.torch else bool(facts.driver)
    if net is not None:
        net.join()
        facts.kaggle.internet = internet.get("ok")
        facts.kaggle.internet_detail = internet.get("detail", "")
    return facts
