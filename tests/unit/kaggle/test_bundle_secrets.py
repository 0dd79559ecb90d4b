"""The Kaggle bundle ships only tracked files, no symlinks, and no credential in any content.

Each test plants what an adversarial review planted (a private key, AWS keys in ``.env.local``,
a ``KGAT_`` token in a ``.py``, a symlink to a credentials file, the user's own Kaggle key; then
an OpenSSH key inside a ``.gz``, AWS keys in UTF-16, a Kaggle key in a single-quoted dict,
``KAGGLE_KEY:`` in YAML, Google's application_default_credentials.json, netrc lines under another
name, a PuTTY key, an index token in the lock file's URLs) in a small project tree and checks it
never reaches the bundle, the built folder or the push.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

import mapsage.kaggle.bundle as kaggle_bundle
from mapsage.errors import SecretFound
from mapsage.kaggle.build import build
from mapsage.kaggle.bundle import bundle_files, make_bundle, untracked_bundle_files
from mapsage.kaggle.cells import unpack_cell
from mapsage.kaggle.push import PushFailed, push
from mapsage.kaggle.secrets import scan_folder
from mapsage.paths import KERNELS_DIR

# assembled at run time so this file itself holds no credential-shaped text
PRIVATE_KEY = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KGAT = "KGAT_" + "a1b2c3d4e5f6a7b8c9d0e1f2"
OWN_KEY = "3f1c0e5a9b7d2c4e6f8a0b1c2d3e4f5a"
OTHER_KAGGLE_KEY = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"  # someone's key, not the user's own
OPENSSH_KEY = ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\n"
               "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
               "-----END " + "OPENSSH PRIVATE KEY-----\n")
AWS_LINES = f"[default]\naws_access_key_id = {AWS_ID}\n{AWS_SECRET}\n"
GOOGLE_ADC = json.dumps({
    "account": "", "client_id": "32555940559.apps.googleusercontent.com",
    "client_secret": "GOCSPX-" + "q1w2e3r4t5y6u7i8o9p0a1s2d3f4", "quota_project_id": "mapsage",
    "refresh_token": "1//0" + "gXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ-0123456789abcdefGH",
    "type": "authorized_user", "universe_domain": "googleapis.com"}, indent=2)
NETRC = "machine upload.example.org\n  login alice\n  password " + "Tr0ub4dor-and-3\n"
PPK = ("PuTTY-User-Key-File-" + "3: ssh-ed25519\nEncryption: none\nComment: deploy\n"
       "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIDl4vbnVtIGluIGEgcHBrIGtleQ==\n"
       "Private-Lines: 1\nAAAAIBx0aGUgcHJpdmF0ZSBoYWxmIG9mIHRoZSBrZXk=\n")
INDEX_TOKEN = "pypi-AgE" + "IcHlwaS5vcmcCJGE4ZjQ5ZDNhLTM2NDYtNGI2Zi04ZDM4LTE3ZTM3OTJmYzY2NQ"
LOCK_WITH_TOKEN = (f"--extra-index-url https://__token__:{INDEX_TOKEN}@pypi.example.org/simple\n"
                   "torch==2.6.0\n")
LOCK_WITH_PASSWORD = ("--index-url https://ci-bot:" + "s3cretIndexPassw0rd"
                      + "@packages.example.org/simple\ntorch==2.6.0\n")


def _notebook_with(line: str) -> bytes:
    """A notebook whose cell holds ``line`` (JSON escapes its quotes)."""
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                  "execution_count": None, "source": [line]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def _tar_gz(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


# (bundle path, content, what the refusal names besides the path); each an escape that once
# shipped in a bundle and passed the scan
PLANTED = [
    ("mapsage/data/deploy_key.gz", gzip.compress(OPENSSH_KEY.encode()),
     ["a private key (inside gzip)", "a .gz file, not one of the kinds a bundle carries"]),
    ("mapsage/configs/keys.txt", gzip.compress(OPENSSH_KEY.encode()),
     ["a private key (inside gzip)", "not UTF-8 text"]),
    ("mapsage/configs/aws.txt", AWS_LINES.encode("utf-16"),
     ["an AWS access key id (as UTF-16 text)", "an AWS secret access key (as UTF-16 text)",
      "not UTF-8 text"]),
    ("mapsage/configs/aws_le.txt", AWS_LINES.encode("utf-16-le"),
     ["an AWS access key id (with its NUL bytes removed (UTF-16/32 text))"]),
    ("mapsage/configs/auth.py",
     f"KAGGLE = {{'username': 'bob', 'key': '{OTHER_KAGGLE_KEY}'}}\n".encode(),
     ["a Kaggle key (kaggle.json)"]),
    ("mapsage/configs/auth_kwargs.py", f"KAGGLE = dict(username='bob', key='{OTHER_KAGGLE_KEY}')\n".encode(),
     ["a Kaggle key (key=...)"]),
    ("mapsage/configs/kaggle.yaml", f'KAGGLE_USERNAME: bob\nKAGGLE_KEY: "{OTHER_KAGGLE_KEY}"\n'.encode(),
     ["a KAGGLE_KEY assignment"]),
    ("mapsage/notebooks/leak.ipynb", _notebook_with(f'os.environ["KAGGLE_KEY"] = "{OTHER_KAGGLE_KEY}"\n'),
     ["a KAGGLE_KEY assignment (in its JSON strings)"]),
    ("mapsage/configs/application_default_credentials.json", GOOGLE_ADC.encode(),
     ["a credentials file name", "a Google OAuth client secret", "a Google OAuth refresh token",
      "an OAuth client secret or refresh token", "a .json file, not one of the kinds"]),
    ("mapsage/configs/gcloud.txt", GOOGLE_ADC.encode(),
     ["a Google OAuth client secret", "a Google OAuth refresh token"]),
    ("mapsage/configs/hosts.txt", NETRC.encode(), ["a netrc password"]),
    ("mapsage/keys/deploy.ppk", PPK.encode(),
     ["a credentials file name", "a PuTTY private key", "a .ppk file, not one of the kinds"]),
    ("mapsage/configs/putty.txt", PPK.encode(), ["a PuTTY private key"]),
    ("requirements-lock.txt", LOCK_WITH_TOKEN.encode(), ["a PyPI token", "a password in a URL"]),
    ("requirements-lock.txt", LOCK_WITH_PASSWORD.encode(), ["a password in a URL"]),
    ("mapsage/data/tiles.tar.gz", _tar_gz("ssh/id_ed25519.gz", gzip.compress(OPENSSH_KEY.encode())),
     ["a private key (inside gzip, tar member ssh/id_ed25519.gz, inside gzip)"]),
]
PLANTED_IDS = [f"{i}-{rel.rsplit('/', 1)[-1]}" for i, (rel, _, _) in enumerate(PLANTED)]
SECRET_TEXTS = (OPENSSH_KEY.splitlines()[1], AWS_ID, OTHER_KAGGLE_KEY, "Tr0ub4dor-and-3",
                INDEX_TOKEN, "s3cretIndexPassw0rd", "GOCSPX-q1w2")


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
    monkeypatch.setattr(kaggle_bundle, "ROOT", root)  # bundle this tree instead of the checkout
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


def _built_folder(folder: Path, members: dict[str, str | bytes]) -> Path:
    """A built kernel folder whose notebook embeds a bundle of ``members`` the way build does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    payload = buffer.getvalue()
    cell = unpack_cell(payload)
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


def _refusal_line(message: str, marker: str) -> str:
    lines = [line for line in message.splitlines() if marker in line]
    assert len(lines) == 1, message
    return lines[0]


@pytest.mark.parametrize(("rel", "content", "named"), PLANTED, ids=PLANTED_IDS)
def test_a_credential_in_any_format_stops_the_build(tmp_path, kaggle_config, rel, content, named):
    root = _project(tmp_path / "p", git=True)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(content)
    _git(root, "add", rel)
    with pytest.raises(SecretFound) as err:
        make_bundle(root)
    line = _refusal_line(str(err.value), f"  - {rel}: ")
    assert [what for what in named if what not in line] == [], line
    assert [s for s in SECRET_TEXTS if s in str(err.value)] == [], "the secret is not repeated"


@pytest.mark.parametrize(("rel", "content", "named"), PLANTED, ids=PLANTED_IDS)
def test_a_credential_in_any_format_stops_the_push(tmp_path, kaggle_config, rel, content, named):
    folder = _built_folder(tmp_path / "k", {"mapsage/__init__.py": "X = 1\n", rel: content})
    api = RecordingApi()
    with pytest.raises(PushFailed) as err:
        push(folder, api, log=lambda *_: None)
    line = _refusal_line(str(err.value), f"k.ipynb bundle:{rel}: ")
    assert [what for what in named if what not in line] == [], line
    assert [s for s in SECRET_TEXTS if s in str(err.value)] == [], "the secret is not repeated"
    assert api.pushed == []


@pytest.mark.parametrize(("rel", "reason"), [
    ("mapsage/data/classes.csv", "a .csv file, not one of the kinds a bundle carries"),
    ("mapsage/configs/Makefile", "a suffix-less file"),
    ("mapsage/.hidden.py", "a hidden file"),
    ("mapsage/.config/settings.yaml", "a hidden file"),
])
def test_a_tracked_file_off_the_allowlist_is_refused_by_name(tmp_path, kaggle_config, rel, reason):
    root = _project(tmp_path / "p", git=True)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text("harmless = 1\n")
    _git(root, "add", rel)
    with pytest.raises(SecretFound) as err:
        make_bundle(root)
    assert reason in _refusal_line(str(err.value), f"  - {rel}: ")
    assert "git rm --cached" in str(err.value)


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("notes.gz", gzip.compress(OPENSSH_KEY.encode()), "a private key (inside gzip)"),
    ("notes.bz2", bz2.compress(OPENSSH_KEY.encode() * 20), "a private key (inside bzip2)"),
    ("notes.xz", lzma.compress(OPENSSH_KEY.encode() * 20), "a private key (inside xz)"),
    ("notes.txt", AWS_LINES.encode("utf-16"), "an AWS access key id (as UTF-16 text)"),
    ("notes.txt", AWS_LINES.encode("utf-32"), "an AWS access key id (as UTF-32 text)"),
    ("backup.tgz", _tar_gz("x/kaggle.yaml.gz",
                           gzip.compress(f"KAGGLE_KEY: {OTHER_KAGGLE_KEY}\n".encode())),
     "a KAGGLE_KEY assignment (inside gzip, tar member x/kaggle.yaml.gz, inside gzip)"),
    ("backup.zip", _zip("x/aws.txt", AWS_LINES.encode()),
     "an AWS access key id (zip member x/aws.txt)"),
    ("netrc-backup", NETRC.encode(), "a netrc password"),
    ("deploy.ppk", PPK.encode(), "a PuTTY private key"),
    ("adc.json", GOOGLE_ADC.encode(), "a Google OAuth refresh token"),
], ids=["gzip", "bzip2", "xz", "utf-16", "utf-32", "tar.gz", "zip", "netrc", "ppk", "adc"])
def test_the_push_scan_reads_every_file_of_the_folder_decoded(tmp_path, kaggle_config, name,
                                                              data, kind):
    folder = _built_folder(tmp_path / "k", {"mapsage/__init__.py": "X = 1\n"})
    (folder / name).write_bytes(data)
    hits = scan_folder(folder)
    assert len(hits) == 1 and hits[0].startswith(f"{folder / name}: ") and kind in hits[0], hits


def _nested_gzip(data: bytes, times: int) -> bytes:
    for _ in range(times):
        data = gzip.compress(data)
    return data


@pytest.mark.parametrize(("data", "problem"), [
    (gzip.compress(b"X = 1\n" * 1000)[:-12], "gzip data the scan cannot open (EOFError"),
    (gzip.compress(bytes(65 * 2**20)), "gzip data that decompresses to more than 64 MiB"),
    (_nested_gzip(b"X = 1\n", 5), "gzip data nested more than 4 containers deep"),
], ids=["truncated", "bomb", "nested"])
def test_what_the_scan_cannot_open_is_refused(tmp_path, kaggle_config, data, problem):
    folder = _built_folder(tmp_path / "k", {"mapsage/__init__.py": "X = 1\n"})
    (folder / "data.bin").write_bytes(data)
    hits = scan_folder(folder)
    assert len(hits) == 1 and f"content the scan cannot read: {problem}" in hits[0], hits
    assert scan_folder(_built_folder(tmp_path / "ok", {"a.py": _nested_gzip(b"X", 4)})) != [], \
        "a .py holding gzip is not text: the bundle's allowlist refuses it"


@pytest.mark.parametrize("text", [
    "The default password of the demo server is printed by `mapsage doctor`.\n",
    'url = f"{scheme}://{user}:{password}@{host}/simple"\n',
    "mmcv @ git+https://github.com/open-mmlab/mmcv.git@v2.1.0\n",
    "remote = 'ssh://git@github.com/open-mmlab/mmcv'\n",
    "env:\n  KAGGLE_KEY: ${{ secrets.KAGGLE_KEY }}\n",
    'key = os.environ.get("KAGGLE_KEY")\n',
    "    --hash=sha256:249bb56bbfd3cdc2a004ea0ff4c2b6ddc84d53bc2194761636eb314d5cfa5dfc\n",
    "checksum = {'key': 'value', 'md5': 'd41d8cd98f00b204e9800998ecf8427e'}\n",
])
def test_ordinary_code_and_prose_are_not_taken_for_secrets(tmp_path, kaggle_config, text):
    root = _project(tmp_path / "p", git=True)
    (root / "mapsage/configs/ordinary.py").write_text(text)
    _git(root, "add", "mapsage/configs/ordinary.py")
    with zipfile.ZipFile(io.BytesIO(make_bundle(root))) as archive:
        assert "mapsage/configs/ordinary.py" in archive.namelist()
