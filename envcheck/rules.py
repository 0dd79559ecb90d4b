"""Rules: facts in, findings out. Rules never look at the machine, only at a :class:`Facts`.

The version knowledge lives in :mod:`envcheck.compat` (rows); the functions here evaluate those
rows generically (``requires_rows``, ``breakage_rows``) plus the checks that are about this
machine's state rather than versions (compiled ops, stale imports, disk, Kaggle settings).
Every finding id a rule can produce is listed in ``FINDING_IDS`` (documented in
README.md, "Preflight (envcheck)"; the fault matrix in tests/unit/envcheck/test_envcheck_rules.py
covers each one).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator

from envcheck import remedies as rx
from envcheck.compat import (
    BREAKAGES,
    DISK_ERROR_GIB,
    DISK_WARNING_GIB,
    FALLBACK_PINS,
    OPENMMLAB,
    PROJECT_MMCV,
    PROVIDERS,
    PYTHON_REQUIRES,
    REQUIRES,
    arch_name,
    arch_runs_on,
    prebuilt_mmcv_index_url,
)
from envcheck.facts import Facts, canonical
from envcheck.kaggle_paths import KAGGLE_WORKING
from envcheck.ops_target import Toolkit, decide
from envcheck.probe import stderr_digest
from envcheck.remedies import Context
from envcheck.report import Finding, Remedy
from envcheck.version import satisfies, try_parse

PROFILES = ("local", "ci", "kaggle")

# id -> (check line, default severity, one-line meaning); the docs table is checked against it
FINDING_IDS: dict[str, tuple[str, str, str]] = {
    "probe.crashed": ("probe", "error", "the subprocess importing torch/mmcv/... died"),
    "probe.timeout": ("probe", "error", "an import in the probe did not finish in time"),
    "python.version": ("python", "error", "Python outside the project's supported range"),
    "pip.missing": ("python", "warning", "pip is not installed for this interpreter"),
    "numpy.missing": ("python", "error", "numpy is not installed"),
    "torch.missing": ("torch", "error", "torch is not installed"),
    "torch.import-failed": ("torch", "error", "torch is installed but `import torch` fails"),
    "torch.cpu-build": ("gpu", "warning", "an NVIDIA GPU is present but torch is a CPU build"),
    "torch.cuda-unusable": ("gpu", "warning", "CUDA torch and an NVIDIA driver, but no usable GPU"),
    "gpu.torch-arch": ("gpu", "error", "torch has no kernels for this GPU's architecture"),
    "kaggle.no-gpu": ("kaggle", "warning", "a Kaggle session without a GPU accelerator"),
    "mmcv.missing": ("mmcv", "error", "no mmcv distribution is installed"),
    "mmcv.conflict": ("mmcv", "error", "more than one of mmcv / mmcv-lite / mmcv-full"),
    "mmcv.import-failed": ("mmcv", "error", "`import mmcv` fails"),
    "mmcv.ops-missing": ("mmcv", "error", "mmcv's compiled ops (mmcv._ext) are missing or fail"),
    "mmcv.ops-cuda-mismatch": ("mmcv", "error", "mmcv ops built for another CUDA than torch's"),
    "mmcv.gpu-arch": ("mmcv", "error", "mmcv ops not built for this GPU's architecture"),
    "build.pkg-resources": ("mmcv", "error", "a source build is needed but pkg_resources is missing"),
    "build.nvcc": ("mmcv", "error", "a CUDA source build is needed but nvcc is missing/mismatched"),
    "mmengine.missing": ("mmengine", "error", "mmengine is not installed"),
    "mmengine.import-failed": ("mmengine", "error", "`import mmengine` fails"),
    "mmseg.missing": ("mmseg", "error", "mmsegmentation is not installed"),
    "mmseg.import-failed": ("mmseg", "error", "`import mmseg` fails (cause not found elsewhere)"),
    "compat.mmseg-mmcv": ("mmcv", "error", "mmseg 1.2.x needs 2.0.0rc4 <= mmcv < 2.2.0"),
    "compat.mmseg-mmengine": ("mmengine", "error", "mmseg 1.2.x needs 0.5 <= mmengine < 1.0"),
    "compat.mmcv-mmengine": ("mmengine", "error", "mmcv 2.x needs mmengine >= 0.3.0"),
    "compat.torch-checkpoint": ("torch", "warning",
                                "torch >= 2.6 with mmengine <= 0.10.7: checkpoint loading"),
    "compat.setuptools-82": ("python", "error", "setuptools >= 82 breaks an mmcv source build"),
    "pins.openmmlab": ("pins", "error", "mmcv/mmengine/mmseg differ from the project's pins"),
    "pins.drift": ("pins", "warning", "installed packages differ from requirements-lock.txt"),
    "pins.no-lock": ("pins", "warning", "no requirements-lock.txt found"),
    "stale.import": ("imports", "error", "a module imported in this process is not what is "
                                         "installed now"),
    "disk.low": ("disk", "warning", "little free disk space in the work dir"),
    "kaggle.offline": ("kaggle", "error", "Kaggle internet is off but something must be installed"),
    "kaggle.no-loveda": ("kaggle", "warning", "no attached Kaggle input looks like LoveDA or "
                                              "a folder data set"),
}

STEP_CODE = {  # probe step -> the import to run by hand to see the failure
    "torch": "import torch",
    "cuda": "import torch; print(torch.cuda.is_available(), torch.cuda.device_count())",
    "mmengine": "import mmengine",
    "mmcv": "import mmcv",
    "mmcv_ext": "import torch, mmcv._ext",
    "mmseg": "import mmseg",
}


def _finding(fid: str, found: str, why: str, remedy: Remedy | None = None, *,
             severity: str | None = None, title: str | None = None) -> Finding:
    check, default, meaning = FINDING_IDS[fid]
    return Finding(fid, severity or default, check, meaning if title is None else title, found, why,
                   remedy)


def _first_line(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[0].strip() if lines else "(no message)"


# --- derived facts ----------------------------------------------------------------------------


def mmcv_dists(facts: Facts) -> dict[str, str]:
    return {d: facts.dist(d) for d in PROVIDERS["mmcv"] if facts.dist(d) is not None}


def version_of(facts: Facts, name: str) -> str | None:
    """The version that runs: what the probe imported, else what is installed."""
    name = canonical(name)
    if name == "torch":
        return facts.torch.version if facts.torch else facts.dist("torch")
    if name == "mmcv":
        if facts.mmcv and facts.mmcv.version:
            return facts.mmcv.version
        return next(iter(mmcv_dists(facts).values()), None)
    if name == "mmengine":
        return facts.imports.get("mmengine") or facts.dist("mmengine") or \
            facts.dist("mmengine-lite")
    if name == "mmsegmentation":
        return facts.imports.get("mmseg") or facts.dist("mmsegmentation")
    return facts.dist(name)


def same_version(a: str | None, b: str | None) -> bool:
    va, vb = try_parse(a), try_parse(b)
    if va is None or vb is None:
        return a == b
    return va.public == vb.public


def _cuda_major(v: str | None) -> str | None:
    return v.split(".")[0] if v else None


def ops_cuda_problem(facts: Facts) -> tuple[str, str] | None:
    """(severity, description) when mmcv's ops and torch disagree about CUDA."""
    m, t = facts.mmcv, facts.torch
    if m is None or t is None or not m.ext_loaded:
        return None
    if m.ops_cuda and not t.cuda:
        return "error", (f"mmcv's ops were compiled with CUDA {m.ops_cuda} but torch "
                         f"{t.version} is a CPU build")
    if t.cuda and not m.ops_cuda:
        if t.cuda_available:
            return "error", (f"mmcv's ops were compiled without CUDA but torch {t.version} runs "
                             f"on CUDA {t.cuda} with a GPU: mmcv ops on CUDA tensors will fail")
        return None
    if m.ops_cuda and t.cuda and m.ops_cuda != t.cuda:
        if _cuda_major(m.ops_cuda) != _cuda_major(t.cuda):
            return "error", (f"mmcv's ops were compiled with CUDA {m.ops_cuda}, torch uses CUDA "
                             f"{t.cuda}")
        return "warning", (f"mmcv's ops were compiled with CUDA {m.ops_cuda}, torch uses CUDA "
                           f"{t.cuda} (same major version: usually works)")
    return None


def mmcv_usable(facts: Facts) -> bool:
    m = facts.mmcv
    problem = ops_cuda_problem(facts)
    return (m is not None and m.ext_loaded and list(mmcv_dists(facts)) == ["mmcv"]
            and same_version(m.version, PROJECT_MMCV)
            and (problem is None or problem[0] != "error") and not gpu_arch_gaps(facts))


def needs_source_build(facts: Facts) -> bool:
    t = facts.torch
    if mmcv_usable(facts) or t is None:
        return False
    py = ".".join(facts.python.split(".")[:2]) or None
    return prebuilt_mmcv_index_url(PROJECT_MMCV, t.version, t.cuda, python=py) is None


def gpu_arch_gaps(facts: Facts) -> list[str]:
    """GPUs whose architecture mmcv's ops have no code for (only when the archs are known)."""
    m, t = facts.mmcv, facts.torch
    if m is None or t is None or not m.ops_cuda or not m.cuda_archs:
        return []
    return [f"{g.name} ({arch_name(g.capability)})" for g in t.gpus
            if not arch_runs_on(m.cuda_archs, g.capability)]


def pinned(facts: Facts, name: str) -> str:
    if name == "mmcv":
        return PROJECT_MMCV
    return facts.lock_pins.get(name) or FALLBACK_PINS[name]


CONDITIONS: dict[str, Callable[[Facts], bool]] = {
    "mapsage_loader": lambda facts: facts.mapsage_loader,
    "no_source_build": lambda facts: not needs_source_build(facts),
}


# --- rules ------------------------------------------------------------------------------------

Rule = Callable[[Facts, Context, list[Finding]], Iterator[Finding]]


def probe_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    p = facts.probe
    if p is None:
        return
    step = p.unfinished_step
    code = STEP_CODE.get(step or "", "import torch, mmcv._ext, mmengine, mmseg")
    tail = p.stderr_digest or stderr_digest(p.stderr_tail)
    if p.timed_out:
        yield _finding(
            "probe.timeout",
            f"the probe was stopped after {p.timeout_s:.0f} s while running "
            f"`{STEP_CODE.get(step or '', step or '?')}`" + (f"; stderr: {tail}" if tail else ""),
            "A first import from a cold disk can take long; an import that hangs (CUDA driver "
            "initialisation, a lock file) would hang training too.",
            Remedy("Retry with a longer timeout; if it hangs again, run the import by hand",
                   (ctx.sh(f"{ctx.python} -m envcheck --timeout 300"),
                    ctx.sh(f'{ctx.python} -X faulthandler -c "{code}"'))))
        return
    crashed = p.returncode not in (0, None)
    if crashed or "probe" in p.errors:
        rc = p.returncode
        how = (f"signal {signal.Signals(-rc).name}" if rc is not None and rc < 0
               and -rc in signal.Signals._value2member_map_ else f"exit code {rc}")
        where = f" while running `{code}`" if step else ""
        detail = p.errors.get("probe", "")
        yield _finding(
            "probe.crashed",
            f"the probe process ended with {how}{where}"
            + (f" ({detail})" if detail else "") + (f"; stderr: {tail}" if tail else ""),
            "A crash on import (a segfault in a compiled extension, an ABI mismatch) would kill "
            "the training process the same way, after the GPU session has started.",
            Remedy("Run the import by hand to see the full error, then fix what it names "
                   "(for mmcv._ext: reinstall mmcv for this torch)",
                   (ctx.sh(f'{ctx.python} -X faulthandler -c "{code}"'),)))


def python_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    if facts.python and satisfies(facts.python, PYTHON_REQUIRES) is False:
        yield _finding(
            "python.version", f"Python {facts.python}; MapSage needs {PYTHON_REQUIRES}",
            "MapSage's code and its pinned packages are built and tested on Python 3.10+; "
            "OpenMMLab's prebuilt mmcv 2.1.0 wheels stop at Python 3.11.",
            Remedy("Use Python 3.10 or 3.11 in a fresh virtual environment",
                   ("python3.11 -m venv .venv",
                    ".venv/bin/python -m pip install -r requirements-lock.txt")))
    if facts.dist("pip") is None:
        yield _finding(
            "pip.missing", f"pip is not installed for {facts.executable}",
            "Every remedy below installs packages with pip.",
            Remedy("Bootstrap pip", (ctx.sh(f"{ctx.python} -m ensurepip --upgrade"),)))
    if facts.dist("numpy") is None:
        pin = facts.lock_pins.get("numpy") if ctx.profile != "kaggle" else None
        yield _finding(
            "numpy.missing", "numpy is not installed",
            "torch, mmcv and mmseg all exchange arrays through numpy.",
            rx.pip_install(ctx, f"numpy=={pin}" if pin else "numpy", summary="Install numpy"))


def torch_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    t = facts.torch
    installed = facts.dist("torch")
    if installed is None:
        if ctx.profile == "kaggle" or not ctx.lock:
            remedy = rx.pip_install(ctx, "torch", summary="Install torch")
        else:
            remedy = rx.install_lock(ctx, "Install the locked environment (torch included)")
        yield _finding("torch.missing", "torch is not installed",
                       "Everything else (mmcv's compiled ops, mmengine, mmseg) runs on torch.",
                       remedy, title="")
        return
    if t is None and facts.probe is not None and "torch" in facts.probe.errors:
        err = facts.probe.errors["torch"]
        yield _finding(
            "torch.import-failed", f"torch {installed} is installed but `import torch` fails: "
            f"{_first_line(err)}",
            "Nothing that trains can run until torch imports.",
            Remedy("See the full error, then reinstall torch (without touching its deps)",
                   (ctx.sh(f'{ctx.python} -c "import torch"'),
                    ctx.sh(f"{ctx.pip} install --force-reinstall --no-deps torch=={installed}"))))
    if t is None:
        return
    on_kaggle = ctx.profile == "kaggle"
    if facts.driver and not t.cuda:
        yield _finding(
            "torch.cpu-build",
            f"an NVIDIA driver ({facts.driver}) is present but torch {t.version} is a CPU-only "
            "build", "Training would run on the CPU, 50-100x slower, without saying so.",
            Remedy("Install a CUDA build of torch that your driver supports (pick cuXXX from "
                   "`nvidia-smi`'s 'CUDA Version' or lower)",
                   (ctx.sh(f"{ctx.pip} install --force-reinstall torch=={t.version.split('+')[0]}"
                           " --index-url https://download.pytorch.org/whl/cu121"),)),
            severity="error" if on_kaggle else "warning")
    cuda_err = facts.probe.errors.get("cuda") if facts.probe else None
    if t.cuda and (cuda_err or (facts.driver and not t.cuda_available)):
        detail = (f"CUDA initialisation failed: {_first_line(cuda_err)}" if cuda_err
                  else f"torch.cuda.is_available() is False with driver {facts.driver}")
        yield _finding(
            "torch.cuda-unusable", f"torch {t.version} (CUDA {t.cuda}): {detail}",
            "A driver older than torch's CUDA needs, or no GPU attached to this session, leaves "
            "training on the CPU.",
            Remedy("Check the driver with nvidia-smi: it must support CUDA "
                   f"{t.cuda}; on Kaggle pick a GPU under Settings > Accelerator",
                   (ctx.sh("nvidia-smi"),)),
            severity="error" if on_kaggle else "warning")
    if t.arch_list:
        missing = [g for g in t.gpus if not arch_runs_on(t.arch_list, g.capability)]
        if missing:
            names = ", ".join(f"{g.name} ({arch_name(g.capability)})" for g in missing)
            if on_kaggle:
                remedy = Remedy("Switch the accelerator to GPU T4 x2 (sm_75): Settings > "
                                "Accelerator, then re-run from the top")
            else:
                remedy = Remedy(f"Install a torch build whose arch list includes "
                                f"{arch_name(missing[0].capability)} (older torch / CUDA 11.8 "
                                "builds keep older GPUs)",
                                (ctx.sh(f"{ctx.pip} install torch --index-url "
                                        "https://download.pytorch.org/whl/cu118"),))
            yield _finding(
                "gpu.torch-arch", f"torch {t.version} has kernels for {', '.join(t.arch_list)}; "
                f"not for {names}",
                "Every CUDA call fails with 'no kernel image is available for execution on the "
                "device'.", remedy)
    if on_kaggle and not t.gpus and not facts.driver:
        yield _finding(
            "kaggle.no-gpu", "this Kaggle session has no GPU",
            "SegFormer training on Kaggle's CPUs takes hours per thousand iterations.",
            Remedy("Notebook editor: Settings > Accelerator > GPU T4 x2, then re-run from the "
                   "top; or, for a CPU smoke test, set the parameters device='cpu' and "
                   "model='tiny'"))


def mmcv_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    dists = mmcv_dists(facts)
    m = facts.mmcv
    if not dists:
        yield _finding(
            "mmcv.missing", "mmcv is not installed (none of mmcv, mmcv-lite, mmcv-full)",
            f"mmseg imports mmcv, and SegFormer needs mmcv's compiled ops; MapSage uses mmcv "
            f"{PROJECT_MMCV} (PyPI has only its source, so it is provisioned separately).",
            rx.install_mmcv(facts, ctx), title="")
        return
    if len(dists) > 1:
        listed = ", ".join(f"{d} {v}" for d, v in dists.items())
        yield _finding(
            "mmcv.conflict", f"{len(dists)} mmcv distributions are installed: {listed}",
            "They all install the same `mmcv` package folder, overwriting each other's files: "
            "what imports is a mix, typically without working compiled ops.",
            rx.install_mmcv(facts, ctx, uninstall=tuple(dists),
                            summary="Remove every mmcv variant, then install mmcv "
                                    f"{PROJECT_MMCV} with compiled ops"))
    probe_err = facts.probe.errors.get("mmcv") if facts.probe else None
    if m is None and probe_err:
        yield _finding(
            "mmcv.import-failed", f"`import mmcv` fails: {_first_line(probe_err)}",
            "mmseg imports mmcv first thing.",
            rx.install_mmcv(facts, ctx, uninstall=tuple(dists),
                            summary=f"Reinstall mmcv {PROJECT_MMCV}"))
        return
    if m is None:
        return
    if not m.ext_loaded and not any(f.id == "mmcv.conflict" for f in found):
        if "mmcv-lite" in dists:
            what = (f"mmcv-lite {dists['mmcv-lite']} is installed: the lite build has no "
                    "compiled ops (mmcv._ext)")
            uninstall: tuple[str, ...] = ("mmcv-lite",)
        else:
            reason = _first_line(m.ext_error) if m.ext_error else "the probe could not load it"
            what = f"mmcv {m.version} is installed but its compiled ops do not load: {reason}"
            if "undefined symbol" in (m.ext_error or ""):
                what += " (built for another torch)"
            uninstall = tuple(dists)
        yield _finding(
            "mmcv.ops-missing", what,
            "SegFormer's decode head and mmseg's models call mmcv ops (mmcv._ext); without "
            "them training fails at model build with 'No module named mmcv._ext'.",
            rx.install_mmcv(facts, ctx, uninstall=uninstall),
            title="compiled ops missing")
    problem = ops_cuda_problem(facts)
    if problem:
        severity, what = problem
        yield _finding(
            "mmcv.ops-cuda-mismatch", what,
            "mmcv's compiled ops are linked against one CUDA runtime; torch loads another. "
            "Expect 'undefined symbol' or 'CUDA error: invalid device function' at the first "
            "mmcv op.",
            rx.install_mmcv(facts, ctx, uninstall=("mmcv",),
                            summary=f"Rebuild/reinstall mmcv {PROJECT_MMCV} for torch "
                                    f"{facts.torch.version if facts.torch else ''}"),
            severity=severity)
    gaps = gpu_arch_gaps(facts)
    if gaps:
        yield _finding(
            "mmcv.gpu-arch", f"mmcv's ops carry code for {', '.join(m.cuda_archs or [])}; not "
            f"for {', '.join(gaps)}",
            "mmcv ops fail on this GPU with 'no kernel image is available for execution on the "
            "device'.",
            rx.install_mmcv(facts, ctx, uninstall=("mmcv",),
                            summary=f"Rebuild mmcv {PROJECT_MMCV} for this GPU "
                                    f"(TORCH_CUDA_ARCH_LIST={rx.arch_list_for(facts)})"))


def build_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    """Prerequisites of a source build, checked only when a source build is what's needed."""
    if not needs_source_build(facts):
        return
    setuptools = facts.dist("setuptools")
    if not facts.pkg_resources and satisfies(setuptools, ">=82") is not True:
        yield _finding(
            "build.pkg-resources",
            f"pkg_resources is not importable (setuptools {setuptools or 'not installed'}), and "
            f"mmcv {PROJECT_MMCV} must be built from source here",
            "mmcv's setup.py imports pkg_resources; with --no-build-isolation it uses this "
            "environment's setuptools.",
            rx.pip_install(ctx, "setuptools<82", summary="Install setuptools < 82"))
    target = ops_target_of(facts)
    if target is not None and not target.buildable:
        yield _finding(
            "build.nvcc", target.problem,
            "torch's extension builder refuses a CUDA toolkit whose major version differs from "
            "torch's CUDA (see envcheck.ops_target for when CUDA ops are built).",
            Remedy(target.remedy.removeprefix("Fix: "),
                   (ctx.sh("nvcc --version"),)))


def ops_target_of(facts: Facts):
    """envcheck.ops_target's decision for these facts (None without torch)."""
    t = facts.torch
    if t is None:
        return None
    toolkit = Toolkit(facts.nvcc_path or ("nvcc" if facts.nvcc else None), facts.nvcc,
                      facts.nvcc_found_by)
    return decide(t.cuda, [g.capability for g in t.gpus], toolkit, facts.arch_env)


def _install_pinned(facts: Facts, ctx: Context, name: str) -> Remedy:
    if ctx.profile != "kaggle" and ctx.lock:
        return rx.install_lock(ctx, f"Install the locked environment ({name} included)")
    return rx.pip_install(ctx, f"{name}=={pinned(facts, name)}",
                          summary=f"Install the pinned {name}")


def _module_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    errors = facts.probe.errors if facts.probe else {}
    if version_of(facts, "mmengine") is None:
        yield _finding(
            "mmengine.missing", "mmengine is not installed",
            "mmengine runs the training loop, configs and checkpoints.",
            _install_pinned(facts, ctx, "mmengine"), title="")
    elif "mmengine" in errors:
        yield _finding(
            "mmengine.import-failed", f"`import mmengine` fails: {_first_line(errors['mmengine'])}",
            "mmengine runs the training loop, configs and checkpoints.",
            Remedy("See the full error, then reinstall the pinned mmengine",
                   (ctx.sh(f'{ctx.python} -c "import mmengine"'),
                    ctx.sh(f"{ctx.pip} install --force-reinstall --no-deps "
                           f"mmengine=={pinned(facts, 'mmengine')}"))))
    if facts.dist("mmsegmentation") is None:
        yield _finding(
            "mmseg.missing", "mmsegmentation is not installed",
            "mmseg provides SegFormer, the LoveDA dataset class and the metrics.",
            _install_pinned(facts, ctx, "mmsegmentation"), title="")
    elif "mmseg" in errors:
        causes = {"compat.mmseg-mmcv", "compat.mmseg-mmengine", "mmcv.missing", "mmcv.conflict",
                  "mmcv.import-failed", "mmengine.missing", "mmengine.import-failed",
                  "torch.missing", "torch.import-failed"}
        if not any(f.id in causes for f in found):
            yield _finding(
                "mmseg.import-failed", f"`import mmseg` fails: {_first_line(errors['mmseg'])}",
                "mmseg provides SegFormer, the LoveDA dataset class and the metrics.",
                Remedy("See the full error, then reinstall the pinned mmsegmentation",
                       (ctx.sh(f'{ctx.python} -c "import mmseg"'),
                        ctx.sh(f"{ctx.pip} install --force-reinstall --no-deps "
                               f"mmsegmentation=={pinned(facts, 'mmsegmentation')}"))))


def requires_rows(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    for row in REQUIRES:
        have = version_of(facts, row.package)
        if not have or not satisfies(have, row.versions):
            continue
        needs = version_of(facts, row.needs)
        if needs is None or satisfies(needs, row.needs_versions) is not False:
            continue
        if row.needs == "mmcv":
            remedy = rx.install_mmcv(facts, ctx, uninstall=tuple(mmcv_dists(facts)),
                                     summary=f"Install mmcv {PROJECT_MMCV} (the version MapSage "
                                             "is tested with)")
        else:
            remedy = rx.pip_install(ctx, f"{row.needs}=={pinned(facts, row.needs)}",
                                    summary=f"Install the pinned {row.needs}")
        yield _finding(
            row.id, f"{row.package} {have} needs {row.needs} {row.needs_versions}; "
            f"{row.needs} {needs} is installed", row.why, remedy,
            title=f"{row.package} {have} needs {row.needs} {row.needs_versions}")


def _breakage_remedy(fid: str, facts: Facts, ctx: Context) -> Remedy:
    if fid == "compat.torch-checkpoint":
        if facts.mapsage_loader:
            return Remedy("Load checkpoints only through MapSage, which keeps weights_only=True "
                          "and allows exactly what mmengine checkpoints need (never pass "
                          "weights_only=False)",
                          (ctx.sh(f"{ctx.python} -m mapsage.train ... load_from=PATH"),
                           "# in the notebook: the load_from / resume parameters"))
        return Remedy("Make MapSage importable and load checkpoints through it (never pass "
                      "weights_only=False)",
                      (ctx.sh(f"{ctx.pip} install -e /path/to/mapsage"),
                       ctx.sh(f"{ctx.python} -m mapsage.train ... load_from=PATH")))
    if fid == "compat.setuptools-82":
        return rx.pip_install(ctx, "setuptools<82", summary="Install setuptools < 82")
    raise KeyError(f"no remedy for breakage row {fid}")


def breakage_rows(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    for row in BREAKAGES:
        versions = [(pkg, version_of(facts, pkg), spec) for pkg, spec in row.when]
        if not all(v is not None and satisfies(v, spec) for _, v, spec in versions):
            continue
        severity = row.severity
        if row.relaxed_if and CONDITIONS[row.relaxed_if](facts):
            severity = row.relaxed or severity
        what = " with ".join(f"{pkg} {v}" for pkg, v, _ in versions)
        title = " and ".join(f"{pkg} {spec}" for pkg, _, spec in versions)
        yield _finding(row.id, what, row.why, _breakage_remedy(row.id, facts, ctx),
                       severity=severity, title=title)


def pins_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    if not facts.lock_path:
        yield _finding(
            "pins.no-lock",
            "no requirements-lock.txt in the work dir, the current directory, their parents or "
            "beside the envcheck package" +
            (f"; using the table's OpenMMLab pins ({', '.join(f'{k}=={v}' for k, v in FALLBACK_PINS.items())})"
             if ctx.profile == "kaggle" else ""),
            "The lock is the environment CI tests; without it only the OpenMMLab pins are "
            "checked.",
            Remedy("Run from inside the MapSage repository, or point at the lock",
                   (ctx.sh(f"{ctx.python} -m envcheck --lock PATH/requirements-lock.txt"),)),
            severity="info" if ctx.profile == "kaggle" else "warning")
    # OpenMMLab pins apply everywhere; skip packages an error above already explains
    explained = {"mmcv"} if any(f.severity == "error" and f.check == "mmcv" for f in found) else set()
    explained |= {"mmengine"} if any(f.severity == "error" and f.check == "mmengine"
                                     for f in found) else set()
    explained |= {"mmsegmentation"} if any(f.severity == "error" and f.check == "mmseg"
                                           for f in found) else set()
    wrong = []
    for name in OPENMMLAB:
        have = version_of(facts, name)
        want = pinned(facts, name)
        if have is None or name in explained or same_version(have, want):
            continue
        wrong.append((name, have, want))
    if wrong:
        cmds = []
        pip_specs = [f"{n}=={w}" for n, _, w in wrong if n != "mmcv"]
        if pip_specs:
            cmds.append(ctx.sh(f"{ctx.pip} install {' '.join(pip_specs)}"))
        if any(n == "mmcv" for n, _, _ in wrong):
            cmds += rx.install_mmcv(facts, ctx, uninstall=tuple(mmcv_dists(facts))).commands
        yield _finding(
            "pins.openmmlab",
            "; ".join(f"{n} {h} (project pin {w})" for n, h, w in wrong),
            "MapSage's configs, plugins and checkpoint loader are tested against exactly these "
            "OpenMMLab versions.",
            Remedy("Install the pinned OpenMMLab versions", tuple(cmds)))
    if ctx.profile == "kaggle" or not facts.lock_pins:
        return  # Kaggle ships its own torch, numpy, ...: only the OpenMMLab pins apply there
    drift = []
    for name, want in sorted(facts.lock_pins.items()):
        if name in OPENMMLAB:
            continue
        have = facts.dist(name)
        if have is None:
            drift.append(f"{name} missing (lock {want})")
        elif not same_version(have, want):
            drift.append(f"{name} {have} (lock {want})")
    if drift:
        shown = ", ".join(drift[:8]) + (f", and {len(drift) - 8} more" if len(drift) > 8 else "")
        yield _finding(
            "pins.drift", f"{len(drift)} package(s) differ from {facts.lock_path}: {shown}",
            "CI runs exactly the lock; a different version here can change results or break "
            "where CI passes." + (" In CI the environment must be the lock." if ctx.profile == "ci"
                                  else ""),
            rx.install_lock(ctx, "Install the locked versions"),
            severity="error" if ctx.profile == "ci" else "warning")


REINSTALL_SLACK_S = 2.0  # /proc's boot time has 1 s resolution


def stale_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    stale = []
    for name, module in sorted(facts.imported.items()):
        on_disk = {d: facts.dist(d) for d in PROVIDERS.get(name, (name,))
                   if facts.dist(d) is not None}
        shown = module.version or "(no __version__)"
        if not on_disk:
            stale.append(f"{name} {shown} is imported but no longer installed")
        elif module.version is not None and not any(same_version(module.version, v)
                                                    for v in on_disk.values()):
            disk = ", ".join(f"{d} {v}" for d, v in on_disk.items())
            stale.append(f"{name} {module.version} is imported, {disk} is installed")
        elif facts.process_started is not None:
            later = [d for d in on_disk if facts.installed_at.get(d, 0.0)
                     > facts.process_started + REINSTALL_SLACK_S]
            if later:
                stale.append(f"{name} {shown} is imported, but {', '.join(later)} was "
                             "(re)installed after this process started")
    if stale:
        yield _finding(
            "stale.import", "; ".join(stale),
            "Python never reloads an imported package: after a pip install in a running kernel "
            "the old version keeps running (and half-loads the new one's files).",
            rx.restart(ctx), title="restart the kernel")


def disk_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    free = facts.disk_free_bytes
    if free is None:
        return
    gib = free / 2**30
    if gib >= DISK_WARNING_GIB:
        return
    where = KAGGLE_WORKING if ctx.profile == "kaggle" else facts.work_dir
    yield _finding(
        "disk.low", f"{gib:.1f} GiB free in {facts.work_dir}",
        f"An mmcv build needs ~3 GB, checkpoints ~0.1-1 GB each; below {DISK_ERROR_GIB:g} GiB "
        "training stops when it saves.",
        Remedy(f"Free space in {where}: remove old runs and pip's cache",
               (ctx.sh(f"du -sh {where}/* | sort -h | tail"), ctx.sh(f"{ctx.pip} cache purge"))),
        severity="error" if gib < DISK_ERROR_GIB else "warning")


def kaggle_rules(facts: Facts, ctx: Context, found: list[Finding]) -> Iterator[Finding]:
    k = facts.kaggle
    if ctx.profile != "kaggle" or k is None:
        return
    must_install = [f.id for f in found if f.severity == "error" and f.id.split(".")[0] in
                    ("mmcv", "torch", "mmengine", "mmseg", "pins", "compat", "numpy")]
    if k.internet is False and must_install:
        wheel = [i.path for i in k.inputs if "mmcv-wheel" in i.kinds]
        yield _finding(
            "kaggle.offline",
            f"internet is off ({k.internet_detail}) and {', '.join(must_install)} need(s) "
            "packages installed",
            "pip cannot download anything; only wheels in attached data sets can be installed.",
            Remedy("Notebook editor: Settings > Internet > On (a phone-verified account is "
                   "needed), or attach the output of the MapSage bootstrap kernel for this image "
                   "(kernel_sources; see docs/kaggle.md)"),
            severity="warning" if wheel and all(i.startswith("mmcv") for i in must_install)
            else "error")
    if not any("loveda" in i.kinds or "dataset" in i.kinds for i in k.inputs):
        yield _finding(
            "kaggle.no-loveda", f"no input under {k.input_root} holds a data set: neither "
            "LoveDA's Train|Val/{Urban,Rural}/images_png layout nor a folder data set (a "
            "dataset.yaml, or train/images + train/masks, img_dir/train + ann_dir/train)",
            "Training needs its data set attached as an input.",
            Remedy("Add Input > your data set (LoveDA, or images and masks folders with a "
                   "dataset.yaml: docs/datasets.md), then set data_root to the folder that holds "
                   "it (or data_root='synthetic' for the demo data)"))


RULES: tuple[Rule, ...] = (
    probe_rules, python_rules, torch_rules, mmcv_rules, requires_rows, breakage_rows,
    build_rules, _module_rules, pins_rules, stale_rules, disk_rules, kaggle_rules,
)


def evaluate(facts: Facts, profile: str) -> list[Finding]:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    ctx = Context.from_facts(facts, profile)
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(facts, ctx, found))
    return found
