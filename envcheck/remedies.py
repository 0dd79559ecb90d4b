"""Exact commands for each kind of fix, for this platform.

On a laptop or CI the commands name this interpreter (``/path/to/.venv/bin/python -m pip``), so
they act on the environment that was checked whatever is on PATH; on Kaggle they are notebook
cell lines (``!pip ...``). ``mmcv_source_build_command`` is the by-hand form of the build that
``python -m mapsage.provision`` runs step by step (which the remedies recommend first).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from envcheck.compat import (
    PROJECT_MMCV,
    mmcv_build_env,
    prebuilt_mmcv_index_url,
    torch_cuda_arch_list,
)
from envcheck.facts import Facts
from envcheck.report import Remedy

KAGGLE_RESTART = "Run > Restart & clear cell outputs"
MMCV_WHEEL_DIR = "/tmp/mmcv-wheel"


def mmcv_source_build_command(mmcv_version: str, arch_list: str | None, jobs: int, *,
                              cuda: bool | None = None, pip: str = "pip",
                              wheel_dir: str = MMCV_WHEEL_DIR) -> str:
    """One shell line that builds mmcv with compiled ops from the sdist and installs it.

    ``arch_list`` ("7.5", "6.0;7.5") builds CUDA ops for exactly those GPUs; None builds CPU ops
    only (unless ``cuda=True``: CUDA ops for all of torch's architectures, slow). setuptools < 82
    because mmcv's setup.py imports pkg_resources; no build isolation because the ops compile
    against the installed torch.
    """
    cuda = arch_list is not None if cuda is None else cuda
    env = [f'{k}="{v}"' if k == "TORCH_CUDA_ARCH_LIST" else f"{k}={v}"
           for k, v in mmcv_build_env(arch_list, jobs, cuda=cuda).items()]
    wd = shlex.quote(wheel_dir)
    return (f'{pip} install "setuptools<82" && {" ".join(env)} {pip} wheel '
            f"--no-build-isolation --no-deps --no-binary mmcv -w {wd} mmcv=={mmcv_version} && "
            f"{pip} install {wd}/mmcv-{mmcv_version}-*.whl")


def prebuilt_install_command(mmcv_version: str, url: str, pip: str = "pip") -> str:
    return f"{pip} install mmcv=={mmcv_version} -f {url}"


@dataclass(frozen=True)
class Context:
    """How to spell commands on this platform."""

    profile: str
    python: str  # interpreter to name in commands
    cell: str  # "!" on Kaggle (a notebook cell runs shell lines with !), "" elsewhere
    mapsage: bool  # `python -m mapsage.provision` is available
    lock: str | None
    jobs: int

    @classmethod
    def from_facts(cls, facts: Facts, profile: str) -> Context:
        kaggle = profile == "kaggle"
        python = "python" if kaggle else shlex.quote(facts.executable or "python")
        return cls(profile, python, "!" if kaggle else "", facts.mapsage_loader,
                   facts.lock_path, facts.cpu_count)

    @property
    def pip(self) -> str:
        return f"{self.python} -m pip"

    def sh(self, command: str) -> str:
        return self.cell + command

    @property
    def restart(self) -> str:
        if self.profile == "kaggle":
            return f"Restart the kernel ({KAGGLE_RESTART}), then re-run from the top"
        return ("Restart the kernel (Jupyter: Kernel > Restart) or the Python process, then "
                "re-run from the top")


def arch_list_for(facts: Facts) -> str | None:
    t = facts.torch
    if t is None or not t.cuda or not t.gpus:
        return None
    return torch_cuda_arch_list([g.capability for g in t.gpus])


def install_mmcv(facts: Facts, ctx: Context, *, uninstall: tuple[str, ...] = (),
                 summary: str | None = None) -> Remedy:
    """Get mmcv PROJECT_MMCV with compiled ops matching this torch (and GPU)."""
    cmds = []
    if uninstall:
        cmds.append(ctx.sh(f"{ctx.pip} uninstall -y {' '.join(uninstall)}"))
    t = facts.torch
    if ctx.mapsage:
        cmds.append(ctx.sh(f"{ctx.python} -m mapsage.provision"))
    if t is not None:
        url = prebuilt_mmcv_index_url(PROJECT_MMCV, t.version, t.cuda,
                                      python=".".join(facts.python.split(".")[:2]) or None)
        if ctx.mapsage:
            cmds.append("# or by hand:")
        if url:
            cmds.append(ctx.sh(prebuilt_install_command(PROJECT_MMCV, url, ctx.pip)))
        else:
            if ctx.mapsage:
                cmds[-1] = (f"# or by hand (OpenMMLab has no mmcv {PROJECT_MMCV} wheel for torch "
                            f"{t.version}; a source build takes ~10 min on 2 cores):")
            else:
                cmds.append(f"# OpenMMLab has no mmcv {PROJECT_MMCV} wheel for torch {t.version}:"
                            " build it (~10 min on 2 cores)")
            arch = arch_list_for(facts)
            cmds.append(ctx.sh(mmcv_source_build_command(PROJECT_MMCV, arch, ctx.jobs,
                                                         cuda=bool(t.cuda), pip=ctx.pip)))
    elif not ctx.mapsage:
        cmds.append("# install torch first (see the torch remedy), then run this again")
    return Remedy(summary or f"Install mmcv {PROJECT_MMCV} with compiled ops for this torch",
                  tuple(cmds))


def pip_install(ctx: Context, *specs: str, summary: str) -> Remedy:
    quoted = " ".join(shlex.quote(s) for s in specs)
    return Remedy(summary, (ctx.sh(f"{ctx.pip} install {quoted}"),))


LOCK_SELECTION = "lock-for-this-python.txt"


def install_lock(ctx: Context, summary: str) -> Remedy:
    """The lock's entries for this interpreter, hash-checked, keeping the installed torch build:
    ``pip install -r requirements-lock.txt`` would also pull PyPI's CUDA runtime (GBs) into an
    environment whose CPU torch never loads it."""
    if ctx.lock:
        return Remedy(summary, (
            ctx.sh(f"{ctx.python} -m envcheck --lock-selection --lock {shlex.quote(ctx.lock)} "
                   f"> {LOCK_SELECTION}"),
            ctx.sh(f"{ctx.pip} install --require-hashes -r {LOCK_SELECTION}"),
        ))
    return Remedy(summary + " (no requirements-lock.txt found: pass --lock PATH)", ())


def restart(ctx: Context) -> Remedy:
    return Remedy(ctx.restart)

