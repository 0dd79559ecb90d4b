"""The per-check lines (``[✓] torch 2.13.0+cpu (CUDA not available)``), built from facts.

Their marks come from the findings (report.py); the labels say what was found either way.
"""

from __future__ import annotations

from envcheck.compat import arch_name
from envcheck.facts import Facts
from envcheck.report import Check
from envcheck.rules import mmcv_dists, version_of


def _python(facts: Facts) -> str:
    setuptools = facts.dist("setuptools")
    pkg = "pkg_resources available" if facts.pkg_resources else "no pkg_resources"
    parts = [f"Python {facts.python or '?'}",
             f"pip {facts.dist('pip') or 'missing'}",
             f"setuptools {setuptools or 'missing'} ({pkg})",
             f"numpy {facts.dist('numpy') or 'missing'}"]
    return " · ".join(parts)


def _unknown(facts: Facts, step: str) -> str:
    """Why there are no facts for an installed package: its import failed, or it never ran."""
    p = facts.probe
    if p is None:
        return "not probed"
    if step == p.unfinished_step:
        return "import hung" if p.timed_out else "import crashed"
    if step in p.errors:
        return "not importable"
    return "not probed: the probe stopped earlier" if step not in p.completed else "?"


def _torch(facts: Facts) -> str:
    t = facts.torch
    if t is None:
        installed = facts.dist("torch")
        return f"torch {installed} ({_unknown(facts, 'torch')})" if installed \
            else "torch: not installed"
    if not t.cuda:
        return f"torch {t.version} (CPU build, CUDA not available)"
    bits = [f"CUDA runtime {t.cuda}", f"cuDNN {t.cudnn}" if t.cudnn else "no cuDNN"]
    bits.append(f"{len(t.gpus)} GPU(s)" if t.cuda_available else "CUDA not available")
    return f"torch {t.version} ({', '.join(bits)})"


def _gpu(facts: Facts) -> str:
    t = facts.torch
    nvcc = f"nvcc {facts.nvcc}" if facts.nvcc else "no nvcc"
    driver = f"driver {facts.driver}" if facts.driver else "no NVIDIA driver"
    if t is not None and t.gpus:
        names: dict[str, int] = {}
        for g in t.gpus:
            key = f"{g.name} ({arch_name(g.capability)})"
            names[key] = names.get(key, 0) + 1
        gpus = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in names.items())
        return f"GPU: {gpus} · {driver} · {nvcc}"
    return f"GPU: none · {driver} · {nvcc}"


def _mmcv(facts: Facts) -> str:
    dists = mmcv_dists(facts)
    m = facts.mmcv
    if not dists:
        return "mmcv: not installed"
    names = " + ".join(f"{d} {v}" for d, v in dists.items())
    if m is None:
        return f"{names} ({_unknown(facts, 'mmcv')})"
    if not m.ext_loaded:
        return f"{names} (no compiled ops)"
    ops = f"ops CUDA {m.ops_cuda}" if m.ops_cuda else "ops: CPU"
    if m.ops_cuda and m.cuda_archs:
        ops += f" for {', '.join(m.cuda_archs)}"
    return f"{names} ({ops}, {m.compiler or 'compiler ?'})"


def _module(facts: Facts, dist: str, label: str) -> str:
    v = version_of(facts, dist)
    return f"{label} {v}" if v else f"{label}: not installed"


def _pins(facts: Facts, profile: str) -> str:
    if not facts.lock_path:
        return "Project pins: no requirements-lock.txt (OpenMMLab pins from the table)"
    scope = "OpenMMLab pins only on Kaggle" if profile == "kaggle" else "all pins"
    return f"Project pins: {facts.lock_path} ({len(facts.lock_pins)} pins; {scope})"


def _imports(facts: Facts) -> str:
    if not facts.imported:
        return "In-process imports: none of torch/mmcv/mmengine/mmseg/numpy imported yet"
    listed = ", ".join(f"{n} {m.version}" for n, m in sorted(facts.imported.items()))
    return f"In-process imports: {listed}"


def _disk(facts: Facts) -> str:
    if facts.disk_free_bytes is None:
        return f"Disk: free space of {facts.work_dir} unknown"
    return f"Disk: {facts.disk_free_bytes / 2**30:.1f} GiB free in {facts.work_dir}"


def _kaggle(facts: Facts) -> str:
    k = facts.kaggle
    if k is None:
        return "Kaggle: not scanned"
    enabled = k.gpu_enabled if k.gpu_enabled is not None else \
        bool((facts.torch and facts.torch.gpus) or facts.driver)
    gpu = "on" if enabled else "off"
    net = {True: "on", False: "off", None: "not checked"}[k.internet]
    inputs = "; ".join(f"{i.path} [{', '.join(i.kinds)}]" for i in k.inputs) or "none found"
    loveda = next((i.loveda_root for i in k.inputs if i.loveda_root), None)
    hint = f" · data_root={loveda!r}" if loveda else ""
    return f"Kaggle: GPU {gpu} · internet {net} · inputs: {inputs}{hint}"


def _probe(facts: Facts) -> str:
    p = facts.probe
    if p is None:
        return "Probes: not run (facts were given)"
    return (f"Probes: torch, CUDA, mmcv, mmengine, mmseg imported in a subprocess of "
            f"{facts.executable} ({p.seconds:.1f} s)")


def check_lines(facts: Facts, profile: str) -> list[Check]:
    platform = facts.platform + (f" ({', '.join(facts.platform_evidence)})"
                                 if facts.platform_evidence else "")
    checks = [
        Check("platform", f"Platform: {platform} · {facts.os} {facts.machine}".rstrip()),
        Check("python", _python(facts)),
        Check("torch", _torch(facts)),
        Check("gpu", _gpu(facts)),
        Check("mmcv", _mmcv(facts)),
        Check("mmengine", _module(facts, "mmengine", "mmengine")),
        Check("mmseg", _module(facts, "mmsegmentation", "mmsegmentation")),
        Check("pins", _pins(facts, profile)),
        Check("imports", _imports(facts)),
        Check("disk", _disk(facts)),
    ]
    if profile == "kaggle":
        checks.append(Check("kaggle", _kaggle(facts)))
    checks.append(Check("probe", _probe(facts)))
    return checks
