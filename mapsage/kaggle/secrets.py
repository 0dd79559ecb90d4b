"""Keep credentials out of what MapSage ships to Kaggle: which files, and what is in them.

The Kaggle notebook carries the project code as a base64 zip (``mapsage build kaggle``). Three
guards keep secrets out of it:

- :func:`shipped_files` takes only files git tracks under the bundled folders (a checkout), or,
  outside a git checkout, files whose suffix is in :data:`ALLOWED_SUFFIXES` and whose name is not
  hidden. Symlinks are refused: they can point anywhere (``~/.aws/credentials``).
- an allowlist (:func:`not_carried`): a bundle carries only UTF-8 text files with a suffix in
  :data:`ALLOWED_SUFFIXES` and no hidden path part. A tracked file outside it (a ``.gz``, a
  ``.ppk``, a UTF-16 file, ``.env.local``) is refused by name rather than left out silently.
- :func:`find_secrets` reads a file's *content*, in every form it decodes to (gzip, bzip2, xz,
  zip and tar members, UTF-16/32, a JSON document's strings: :mod:`mapsage.kaggle.content_views`),
  against the table of :mod:`mapsage.kaggle.secret_patterns` and the user's own Kaggle key
  (:func:`known_secrets`, from ``KAGGLE_KEY`` / ``KAGGLE_API_TOKEN`` or ``kaggle.json`` /
  ``access_token``). The build checks every bundled file before writing anything; the push scans
  the built folder again, opening the bundle embedded in the notebook (:func:`scan_folder`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path, PurePosixPath

from mapsage.errors import MapSageError, SecretFound
from mapsage.kaggle import content_views, secret_patterns

ALLOWED_SUFFIXES = (".py", ".ipynb", ".typed", ".txt", ".yaml", ".yml", ".md")
"""What a bundle may hold: code, notebooks, configs, the lock file (UTF-8 text, not hidden)."""
CREDENTIAL_NAMES = secret_patterns.CREDENTIAL_NAMES
BUNDLE_TAG = "mapsage-bundle"  # the tag of the notebook cell that carries the code
BUNDLE_CELL_PAYLOAD = re.compile(r'base64\.b64decode\("([A-Za-z0-9+/=]*)"\)')


def known_secrets(environ=os.environ) -> list[str]:
    """The local Kaggle credentials' secret values, to make sure none is shipped."""
    secrets = [environ[name] for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN") if environ.get(name)]
    config_dir = Path(environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    for name in ("kaggle.json", "access_token"):
        path = config_dir / name
        if path.is_file():
            text = path.read_text(errors="replace").strip()
            if name == "kaggle.json":
                try:
                    text = str(json.loads(text).get("key", ""))
                except (ValueError, AttributeError):
                    text = ""  # not a kaggle.json the client can read either: no key in it
            if text:
                secrets.append(text)
    return [s for s in secrets if len(s) >= 8]


def find_secrets(name: str, data: bytes, secrets: list[str]) -> list[str]:
    """What kinds of credentials ``data`` (the content of file ``name``) holds, in any form it
    decodes to (the form is named: "a private key (inside gzip)"), and the parts of it the scan
    cannot open; empty if none."""
    found = [kind] if (kind := secret_patterns.name_kind(name)) else []
    forms, problems = content_views.views(data)
    seen = set()
    for where, content in forms:
        for kind in secret_patterns.kinds(content, secrets):
            if kind not in seen:
                seen.add(kind)
                found.append(f"{kind} ({where})" if where else kind)
    return found + [f"content the scan cannot read: {problem}" for problem in problems]


def not_carried(name: str, data: bytes) -> str | None:
    """Why a bundle may not carry file ``name`` (a path inside the bundle) holding ``data``, or
    None when it is on the allowlist: UTF-8 text, a suffix in :data:`ALLOWED_SUFFIXES`, no hidden
    path part."""
    path = PurePosixPath(name)
    if any(part.startswith(".") for part in path.parts):
        return "a hidden file, which a bundle never carries"
    if path.suffix not in ALLOWED_SUFFIXES:
        return (f"a {path.suffix or 'suffix-less'} file, not one of the kinds a bundle carries "
                f"({' '.join(ALLOWED_SUFFIXES)})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text, which a bundle carries only"
    if "\0" in text:
        return "not text (it holds NUL bytes), which a bundle carries only"
    return None


def bundle_problems(name: str, data: bytes, secrets: list[str]) -> list[str]:
    """Everything that keeps bundle member ``name`` out of a bundle: the allowlist, then secrets."""
    reason = not_carried(name, data)
    return ([reason] if reason else []) + find_secrets(name, data, secrets)


def _is_checkout_top(root: Path) -> bool:
    """Whether ``root`` is the top folder of a git checkout (and git is installed)."""
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=60)
    except OSError:  # no git on this machine
        return False
    return top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve()


def _ls_files(root: Path, folders: tuple[str, ...], *options: str) -> list[str]:
    """``git ls-files OPTIONS -- FOLDERS`` in ``root``, sorted."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *options, "--", *folders],
                            capture_output=True, timeout=60, check=True)
    return sorted(p for p in listed.stdout.decode().split("\0") if p)


def _git_tracked(root: Path, folders: tuple[str, ...]) -> list[str] | None:
    """Tracked paths under ``folders`` when ``root`` is the top of a git checkout, else None."""
    return _ls_files(root, folders) if _is_checkout_top(root) else None


def untracked_files(root: Path, folders: tuple[str, ...]) -> list[str]:
    """Files under ``folders`` that git does not track and does not ignore: in a checkout they
    are left out of the bundle (a module written but not ``git add``-ed would be missing on
    Kaggle), so the build names them. Empty outside a git checkout."""
    root = Path(root)
    if not _is_checkout_top(root):
        return []
    return _ls_files(root, folders, "--others", "--exclude-standard")


def _allowlisted(root: Path, folders: tuple[str, ...]) -> list[str]:
    names = []
    for folder in folders:
        base = root / folder
        candidates = [base] if not base.is_dir() else sorted(base.rglob("*"))
        for path in candidates:
            rel = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            if (path.is_file() or path.is_symlink()) and path.suffix in ALLOWED_SUFFIXES:
                names.append(rel.as_posix())
    return names


def _refuse_links(root: Path, rel: str) -> None:
    path = root
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            raise SecretFound(
                f"refusing to bundle {path}: it is a symlink (to {os.readlink(path)}), which can "
                "carry any file into the notebook. Replace it with a regular file."
            )


def shipped_files(root: Path, folders: tuple[str, ...]) -> list[Path]:
    """The files under ``folders`` (folders or single files, relative to ``root``) to bundle."""
    root = Path(root)
    names = _git_tracked(root, folders)
    if names is None:
        names = _allowlisted(root, folders)
    files = []
    for rel in names:
        _refuse_links(root, rel)
        path = root / rel
        if not path.is_file():
            raise MapSageError(f"{path} is tracked by git but missing: restore it "
                               f"(git checkout -- {rel}) before building.")
        if "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append(path)
    return files


REMEDY = ("Remove the secret from the file, or the file from the bundled folders (git rm --cached "
          "FILE to stop tracking it), and build again. A bundle carries only UTF-8 text files "
          f"ending in {' '.join(ALLOWED_SUFFIXES)}; Kaggle keys belong in Kaggle's Secrets "
          "add-on, never in code.")


def check_files(files: list[tuple[str, bytes]], secrets: list[str] | None = None) -> None:
    """Refuse (naming each file and what is wrong with it) if any ``(name, content)`` of a
    bundle is off the allowlist or holds a credential."""
    secrets = known_secrets() if secrets is None else secrets
    hits = [f"  - {name}: {', '.join(kinds)}" for name, data in files
            if (kinds := bundle_problems(name, data, secrets))]
    if hits:
        raise SecretFound("refusing to ship to Kaggle; found:\n" + "\n".join(hits) + "\n" + REMEDY)


def _cells(notebook: bytes) -> list[dict]:
    try:
        cells = json.loads(notebook).get("cells", [])
    except (UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return []  # not a notebook: it carries no bundle (its bytes are scanned all the same)
    return [cell for cell in cells if isinstance(cell, dict)] if isinstance(cells, list) else []


def embedded_bundles(notebook: bytes) -> list[tuple[str, bytes]]:
    """The members of every bundle zip embedded (base64) in a built notebook's code cells."""
    members = []
    for cell in _cells(notebook):
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        payloads = BUNDLE_CELL_PAYLOAD.findall(source)
        metadata = cell.get("metadata")
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
        if BUNDLE_TAG in tags and not payloads:
            raise SecretFound("the notebook's bundle cell holds no base64 payload this scan can "
                              "read, so the code it carries cannot be checked for credentials: "
                              "rebuild it with `mapsage build kaggle`.")
        for payload in payloads:
            try:
                archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(payload, validate=True)))
            except (binascii.Error, zipfile.BadZipFile) as exc:
                raise SecretFound(f"the notebook's embedded bundle cannot be opened ({exc}), so "
                                  "it cannot be checked for credentials: rebuild it.") from exc
            with contextlib.closing(archive):
                members += [(f"bundle:{info.filename}", archive.read(info))
                            for info in archive.infolist() if not info.is_dir()]
    return members


def scan_folder(folder: Path, secrets: list[str] | None = None) -> list[str]:
    """Files in ``folder`` (in every form they decode to), and members of the bundles inside its
    notebooks (also against the allowlist), that hold a credential or are not what a bundle
    carries, as ``"<file>: <kinds>"`` lines (empty when clean)."""
    secrets = known_secrets() if secrets is None else secrets
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            hits.append(f"{path}: a symlink")
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        if kinds := find_secrets(str(path), data, secrets):
            hits.append(f"{path}: {', '.join(kinds)}")
        for name, content in embedded_bundles(data):
            if kinds := bundle_problems(name.removeprefix("bundle:"), content, secrets):
                hits.append(f"{path} {name}: {', '.join(kinds)}")
    return hits
