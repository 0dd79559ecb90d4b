"""The Kaggle bundle ships only tracked files, no symlinks, and no credential in any content.

Each test plants what an adversarial review planted (a private key, AWS keys in ``.env.local``,
a ``KGAT_`` token in a ``.py``, a symlink to a credentials file, the user's own Kaggle key) in a
small project tree and checks it never reaches the bundle, the built folder or the push.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

import mapsage.kaggle.build as kaggle_build
from mapsage.errors import SecretFound
from mapsage.kaggle.build import (
    UNPACK_CELL,
    build,
    bundle_files,
    make_bundle,
    untracked_bundle_files,
)
from mapsage.kaggle.push import PushFailed, push
from mapsage.kaggle.secrets import scan_folder
from mapsage.paths import KERNELS_DIR

# assembled at run time so this file itself holds no credential-shaped text
PRIVATE_KEY = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KGAT = "KGAT_" + "a1b2c3d4e5f6a7b8c9d0e1f2"
OWN_KEY = "3f1c0e5a9b7d2c4e6f8a0b1c2d3e4f5a"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _project(root: Path, *, git: bool) -> Path:
    """A minimal checkout: the two bundled packages and the lock file, tracked when ``git``."""
    for rel, text in (("mapsage/__init__.py", "VERSION = 1\n"),
                      ("mapsage/configs/model.py", "model = dict(type='X')\n"),
                      ("envcheck/__init__.py", ""),
                      ("requirements-lock.txt", "torch==2.6.0\n")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if git:
        _git(root, "init", "-q")
        _git(root, "add", ".")
    return root


def _names(files: list[Path], root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in files)


@pytest.fixture()
def kaggle_config(tmp_path, monkeypatch) -> Path:
    """The user's own Kaggle credentials, where the client keeps them."""
    config = tmp_path / "kaggle-config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "alice", "key": OWN_KEY}))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    return config


def test_untracked_files_and_links_are_not_bundled_from_a_checkout(tmp_path, kaggle_config):
    root = _project(tmp_path / "p", git=True)
    (root / "mapsage/id_rsa").write_text(PRIVATE_KEY)
    (root / "mapsage/.env.local").write_text(f"AWS_ACCESS_KEY_ID={AWS_ID}\n{AWS_SECRET}\n")
    (root / "mapsage/aws").symlink_to(kaggle_config / "kaggle.json")
    assert _names(bundle_files(root), root) == [
        "envcheck/__init__.py", "mapsage/__init__.py", "mapsage/configs/model.py",
        "requirements-lock.txt"]
    with zipfile.ZipFile(io.BytesIO(make_bundle(root))) as archive:
        shipped = b"".join(archive.read(n) for n in archive.namelist())
    assert b"PRIVATE KEY" not in shipped and AWS_ID.encode() not in shipped
    assert OWN_KEY.encode() not in shipped


def test_the_build_names_untracked_files_it_leaves_out(tmp_path):
    root = _project(tmp_path / "p", git=True)
    (root / "mapsage/new_module.py").write_text("X = 1\n")  # written, never git add-ed
    (root / ".gitignore").write_text("*.log\n")
    (root / "mapsage/train.log").write_text("ignored on purpose\n")
    (root / "notes.txt").write_text("outside the bundled folders\n")
    assert untracked_bundle_files(root) == ["mapsage/new_module.py"]
    assert "mapsage/new_module.py" not in _names(bundle_files(root), root)
    _git(root, "add", "mapsage/new_module.py")
    assert untracked_bundle_files(root) == []
    assert untracked_bundle_files(_project(tmp_path / "plain", git=False)) == []


@pytest.mark.parametrize(("rel", "content", "kind"), [
    ("mapsage/keys.py", f"TOKEN = {KGAT!r}\n", "a Kaggle API token"),
    ("mapsage/configs/cloud.py", f"key_id = {AWS_ID!r}\n", "an AWS access key id"),
    ("mapsage/configs/deploy.txt", PRIVATE_KEY, "a private key"),
    ("envcheck/settings.py", f"KAGGLE = {OWN_KEY!r}\n", "your own Kaggle key"),
])
def test_a_tracked_file_holding_a_secret_is_refused(tmp_path, kaggle_config, rel, content, kind):
    root = _project(tmp_path / "p", git=True)
    (root / rel).write_text(content)
    _git(root, "add", rel)
    with pytest.raises(SecretFound) as err:
        make_bundle(root)
    assert f"{rel}: {kind}" in str(err.value)
    assert content.strip().splitlines()[-1] not in str(err.value), "the secret is not repeated"


def test_a_tracked_symlink_is_refused(tmp_path, kaggle_config):
    root = _project(tmp_path / "p", git=True)
    (root / "mapsage/credentials.py").symlink_to(kaggle_config / "kaggle.json")
    _git(root, "add", "mapsage/credentials.py")
    with pytest.raises(SecretFound, match="credentials.py: it is a symlink"):
        bundle_files(root)


def test_outside_a_checkout_only_allowlisted_plain_files_are_bundled(tmp_path, kaggle_config):
    root = _project(tmp_path / "p", git=False)
    (root / "mapsage/id_rsa").write_text(PRIVATE_KEY)
    (root / "mapsage/.env.local").write_text(f"{AWS_SECRET}\n")
    (root / "mapsage/notes.bin").write_bytes(b"\0" * 8)
    assert _names(bundle_files(root), root) == [
        "envcheck/__init__.py", "mapsage/__init__.py", "mapsage/configs/model.py",
        "requirements-lock.txt"]
    (root / "mapsage/cloud.py").write_text(f"{AWS_SECRET}\n")
    with pytest.raises(SecretFound, match="mapsage/cloud.py: an AWS secret access key"):
        make_bundle(root)
    (root / "mapsage/cloud.py").unlink()
    (root / "mapsage/linked.py").symlink_to(kaggle_config / "kaggle.json")
    with pytest.raises(SecretFound, match="it is a symlink"):
        make_bundle(root)


def test_build_refuses_before_writing_anything(tmp_path, kaggle_config, monkeypatch):
    root = _project(tmp_path / "p", git=True)
    (root / "mapsage/keys.py").write_text(f"KEY = {OWN_KEY!r}\n")
    _git(root, "add", "mapsage/keys.py")
    monkeypatch.setattr(kaggle_build, "ROOT", root)  # bundle this tree instead of the checkout
    out = tmp_path / "out"
    with pytest.raises(SecretFound, match="your own Kaggle key"):
        build(KERNELS_DIR / "train-segformer-loveda", owner="alice", out_dir=out)
    assert not out.exists()


def test_the_real_bundle_is_clean(kaggle_config, repo_root):
    with zipfile.ZipFile(io.BytesIO(make_bundle(repo_root))) as archive:
        names = archive.namelist()
    assert "mapsage/kaggle/secrets.py" in names and "requirements-lock.txt" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


class RecordingApi:
    """Stand-in for Kaggle's servers: records a push (there must be none here)."""

    def __init__(self):
        self.pushed = []

    def kernels_push(self, folder):
        self.pushed.append(folder)


def _built_folder(folder: Path, members: dict[str, str]) -> Path:
    """A built kernel folder whose notebook embeds a bundle of ``members`` the way build does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    payload = buffer.getvalue()
    cell = UNPACK_CELL.format(sha256=hashlib.sha256(payload).hexdigest(),
                              payload=base64.b64encode(payload).decode())
    folder.mkdir()
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["mapsage-bundle"]},
                           "source": cell, "outputs": [], "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "k.ipynb").write_text(json.dumps(notebook))
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": "alice/mapsage-kernel", "title": "MapSage kernel", "code_file": "k.ipynb",
        "language": "python", "kernel_type": "notebook"}))
    return folder


def test_push_scan_opens_the_bundle_inside_the_notebook(tmp_path, kaggle_config):
    clean = _built_folder(tmp_path / "clean", {"mapsage/__init__.py": "X = 1\n"})
    assert scan_folder(clean) == []
    leaky = _built_folder(tmp_path / "leaky", {"mapsage/__init__.py": "X = 1\n",
                                               "mapsage/keys.py": f"T = {KGAT!r}\n",
                                               "mapsage/own.py": f"K = {OWN_KEY!r}\n"})
    hits = scan_folder(leaky)
    assert hits == [f"{leaky / 'k.ipynb'} bundle:mapsage/keys.py: a Kaggle API token",
                    f"{leaky / 'k.ipynb'} bundle:mapsage/own.py: your own Kaggle key"]
    api = RecordingApi()
    with pytest.raises(PushFailed, match="credentials found in"):
        push(leaky, api, log=lambda *_: None)
    assert api.pushed == []


def test_a_bundle_cell_the_scan_cannot_read_is_refused(tmp_path, kaggle_config):
    folder = _built_folder(tmp_path / "k", {"mapsage/__init__.py": "X = 1\n"})
    notebook = json.loads((folder / "k.ipynb").read_text())
    notebook["cells"][0]["source"] = "_bundle = base64.b64decode(PAYLOAD_FROM_ELSEWHERE)\n"
    (folder / "k.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(SecretFound, match="cannot be checked for credentials"):
        scan_folder(folder)
