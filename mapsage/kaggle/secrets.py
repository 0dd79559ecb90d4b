"""Keep credentials out of what MapSage ships to Kaggle: which files, and what is in them.

The Kaggle notebook carries the project code as a base64 zip (``mapsage build kaggle``). Two
guards keep secrets out of it:

- :func:`shipped_files` takes only files git tracks under the bundled folders (a checkout), or,
  outside a git checkout, files whose suffix is in :data:`ALLOWED_SUFFIXES` and whose name is not
  hidden. Symlinks are refused: they can point anywhere (``~/.aws/credentials``).
- :func:`find_secrets` reads a file's *content* for private-key headers, cloud and API keys,
  Kaggle tokens and the user's own Kaggle key (:func:`known_secrets`, from ``KAGGLE_KEY`` /
  ``KAGGLE_API_TOKEN`` or ``kaggle.json`` / ``access_token``). The build scans every bundled file
  before writing anything; the push scans the built folder again, opening the bundle embedded in
  the notebook (:func:`scan_folder`).

The patterns below are written so that this module's own source does not match them.
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
from pathlib import Path

from mapsage.errors import MapSageError, SecretFound

ALLOWED_SUFFIXES = (".py", ".ipynb", ".typed", ".txt", ".yaml", ".yml", ".md")
"""What a bundle may hold outside a git checkout (code, notebooks, configs, the lock file)."""
CREDENTIAL_NAMES = ("kaggle.json", "access_token", ".env", "credentials", ".netrc", ".pypirc")

# (what it is, pattern); each names the kind of secret in the refusal, never the secret
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("a private key", re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("an AWS access key id", re.compile(rb"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b")),
    ("an AWS secret access key",
     re.compile(rb"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}")),
    ("a Google API key", re.compile(rb"\bAIza[0-9A-Za-z_\-]{35}")),
    ("a GitHub token", re.compile(rb"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("a Slack token", re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Hugging Face token", re.compile(rb"\bhf_[A-Za-z]{34}\b")),
    ("a Kaggle API token", re.compile(rb"KGAT_[0-9A-Za-z]{16,}")),
    ("a Kaggle key (kaggle.json)", re.compile(rb'"key"\s*:\s*"[0-9a-f]{32}"')),
    ("a KAGGLE_KEY assignment", re.compile(rb"KAGGLE_KEY\s*=\s*['\"]?[0-9A-Za-z_]{16,}")),
)
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
    """What kinds of credentials ``data`` (the content of file ``name``) holds; empty if none."""
    found = []
    if Path(name).name in CREDENTIAL_NAMES:
        found.append("a credentials file name")
    found += [what for what, pattern in PATTERNS if pattern.search(data)]
    if any(secret.encode() in data for secret in secrets):
        found.append("your own Kaggle key")
    return found


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


def check_files(files: list[tuple[str, bytes]], secrets: list[str] | None = None) -> None:
    """Refuse (naming each file and the kind of secret) if any ``(name, content)`` holds one."""
    secrets = known_secrets() if secrets is None else secrets
    hits = [f"  - {name}: {', '.join(kinds)}" for name, data in files
            if (kinds := find_secrets(name, data, secrets))]
    if hits:
        raise SecretFound(
            "refusing to ship credentials to Kaggle; found:\n" + "\n".join(hits) + "\n"
            "Remove the secret from the file (or the file from the bundle) and build again. "
            "Kaggle keys belong in Kaggle's Secrets add-on, never in code."
        )


def embedded_bundles(notebook: bytes) -> list[tuple[str, bytes]]:
    """The members of every bundle zip embedded (base64) in a built notebook's code cells."""
    members = []
    try:
        cells = json.loads(notebook).get("cells", [])
    except (ValueError, AttributeError):
        return []
    for cell in cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        payloads = BUNDLE_CELL_PAYLOAD.findall(source)
        tags = cell.get("metadata", {}).get("tags", []) if isinstance(cell, dict) else []
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
    """Files in ``folder``, and members of the bundles inside its notebooks, that hold a
    credential, as ``"<file>: <kinds>"`` lines (empty when clean)."""
    secrets = known_secrets() if secrets is None else secrets
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            hits.append(f"{path}: a symlink")
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        entries = [(str(path), data)]
        if path.suffix == ".ipynb":
            entries += [(f"{path} {name}", content) for name, content in embedded_bundles(data)]
        hits += [f"{name}: {', '.join(kinds)}" for name, content in entries
                 if (kinds := find_secrets(name, content, secrets))]
    return hits
