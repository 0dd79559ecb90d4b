"""Long runs across Kaggle sessions, at build time: ``mapsage build kaggle --continue-from
OWNER/SLUG`` builds the next part of a run: its title, attached sources and parameters (its restore
cell is one of :mod:`mapsage.kaggle.cells`).

A training kernel that reaches its ``time_limit`` (by default the end of the Kaggle session,
:mod:`envcheck.session`) saves a checkpoint and ends green with ``"status": "time_limit"`` in
``metrics.json``. The continuation kernel built here

- is the same definition under the title ``<title> part N`` (N = the source's part + 1; the
  first kernel is part 1), so stage N+1 is built from stage N's id alone;
- attaches the source kernel's output through ``kernel_sources`` (Kaggle mounts it read-only
  under ``/kaggle/input``);
- gets one extra cell, right after the code bundle, that copies the source's work_dir (its
  checkpoints, mmengine's logs of every earlier session and metrics.json) into this session's
  work_dir (:func:`mapsage.kaggle.restore_part.restore_previous_stage`, which runs
  on Kaggle);
- trains with ``resume="auto"``: from the newest valid checkpoint to ``max_iters``. The loss and
  mIoU history of metrics.json joins every session's logs (``read_run_scalars``), and stage N+1's
  output again holds the whole run, ready for stage N+2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mapsage.errors import MapSageError

PART = re.compile(r"^(?P<base>.+)-part-(?P<part>\d+)$")
MAX_TITLE = 50  # Kaggle's limit on a kernel title


def parse_kernel_ref(ref: str) -> tuple[str, str]:
    """(owner, slug) of ``OWNER/SLUG``; a clear error for anything else."""
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_-]*)/([a-z0-9][a-z0-9-]*)", ref or "")
    if not match:
        raise MapSageError(
            f"--continue-from {ref!r} is not a Kaggle kernel id OWNER/SLUG (e.g. "
            "alice/mapsage-segformer-loveda-training, as `mapsage push` printed it)."
        )
    return match.group(1), match.group(2)


def part_of(slug: str) -> int:
    """1 for a first kernel, N for ``...-part-N``."""
    match = PART.match(slug)
    return int(match.group("part")) if match else 1


def base_title(title: str) -> str:
    return re.sub(r"\s+part\s+\d+$", "", title.strip(), flags=re.IGNORECASE)


def continuation_title(title: str, source_slug: str) -> str:
    """The title of the kernel that continues ``source_slug``: ``<title> part N``."""
    new = f"{base_title(title)} part {part_of(source_slug) + 1}"
    if len(new) > MAX_TITLE:
        raise MapSageError(f"the continuation's title {new!r} is longer than Kaggle's "
                           f"{MAX_TITLE} characters: shorten the definition's title")
    return new


def definition_of(continue_from: str, kernel_dirs: list[Path]) -> Path:
    """The kernel definition (among ``kernel_dirs``) whose title the source kernel's slug
    continues; with one definition given, that one."""
    from mapsage.kaggle.slug import slug_of

    _, slug = parse_kernel_ref(continue_from)
    if len(kernel_dirs) == 1:
        return kernel_dirs[0]
    base = PART.match(slug).group("base") if PART.match(slug) else slug
    for folder in kernel_dirs:
        spec = json.loads((folder / "kernel.json").read_text())
        if slug_of(base_title(spec.get("title", ""))) == base:
            return folder
    raise MapSageError(
        f"no kernel definition in {', '.join(str(k) for k in kernel_dirs)} has the title of "
        f"{continue_from}: name the definition the run was built from with --kernel DIR.")


def prepare(spec: dict, parameters: dict, continue_from: str) -> tuple[dict, dict]:
    """The definition and parameters of the kernel that continues ``continue_from``."""
    parse_kernel_ref(continue_from)
    sources = [s for s in spec.get("kernel_sources", []) if s != continue_from]
    spec = {**spec, "title": continuation_title(spec["title"], continue_from.split("/")[1]),
            "kernel_sources": [*sources, continue_from]}
    return spec, {**parameters, "resume": "auto"}
