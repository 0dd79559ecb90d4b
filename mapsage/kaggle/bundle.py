"""The code a built notebook carries: a deterministic zip of the project's tracked files
(``mapsage``, ``envcheck``, the lock), refused when any file holds a credential
(:mod:`mapsage.kaggle.secrets`), and the mmcv wheels the notebook may install from the outputs of
the kernels it attaches (vouched for by sha256).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from mapsage.kaggle.definition import load_definition, related_definition
from mapsage.kaggle.secrets import check_files, shipped_files, untracked_files
from mapsage.kaggle.slug import slug_of
from mapsage.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
"""The project tree the bundle is made from."""
BUNDLE_PACKAGES = ("mapsage", "envcheck")
BUNDLE_FILES = ("requirements-lock.txt",)


def bundle_files(root: Path | None = None) -> list[Path]:
    """The files the notebook carries: git-tracked files of the bundled packages (outside a
    checkout, allowlisted suffixes only), never a symlink (:mod:`mapsage.kaggle.secrets`)."""
    return shipped_files(root or ROOT, (*BUNDLE_PACKAGES, *BUNDLE_FILES))


def untracked_bundle_files(root: Path | None = None) -> list[str]:
    """Files under the bundled packages that git neither tracks nor ignores: not in the bundle."""
    return untracked_files(root or ROOT, (*BUNDLE_PACKAGES, *BUNDLE_FILES))


def make_bundle(root: Path | None = None) -> bytes:
    """A deterministic zip of the project code the notebook needs, refused if any file in it
    holds a credential (checked before anything is written)."""
    root = root or ROOT
    contents = [(str(path.relative_to(root)), path.read_bytes()) for path in bundle_files(root)]
    check_files(contents)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def vouched_wheels(spec: dict, kernel_dir: Path, downloads: Path, log=print) -> list[str]:
    """sha256 of the mmcv wheels in the downloaded outputs of the kernels this definition
    attaches (``outputs_of``: the bootstrap), read from ``downloads/<slug>/bootstrap.json``
    where ``mapsage push`` left them: the only attached wheels the notebook will install."""
    from mapsage.kaggle.bootstrap import vouched_wheels as from_output

    found = []
    for name in spec.get("outputs_of", []):
        definition = related_definition(kernel_dir, name, "outputs_of")
        folder = Path(downloads) / slug_of(load_definition(definition)[0]["title"])
        digests = from_output(folder)
        if digests:
            log(f"trusting the mmcv wheel of {name}'s output (sha256 {digests[0][:12]}..., from "
                f"{folder / 'bootstrap.json'})")
        else:
            log(f"note: no downloaded output of {name} in {folder}: this notebook will not "
                f"install an mmcv wheel from it and builds mmcv itself (internet on). Push "
                f"{name} first (mapsage push downloads its output), then build again.")
        found += digests
    return found
