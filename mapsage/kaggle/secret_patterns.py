"""What a credential looks like: the table the Kaggle credential scan matches against.

This is MapSage's own table rather than a dependency on ``detect-secrets`` (1.5.0, May 2024):
its plugins read decoded text a line at a time (a netrc entry or a PuTTY key spans lines), do
not open compressed files or UTF-16, and its keyword and entropy plugins flag ordinary code, so
they would have to be hand-picked and configured anyway; and a scanner dependency would enter
``requirements-lock.txt``, which the Kaggle notebook installs from. The formats it covers each
have a test that plants them (``tests/unit/kaggle/test_bundle_secrets.py``), and
:mod:`mapsage.kaggle.content_views` hands it every decoded form of a file.

Each entry names the kind of secret in a refusal, never the secret. The patterns are written so
that this module's own source (which is bundled) does not match them.
"""

from __future__ import annotations

import re

CREDENTIAL_NAMES = ("kaggle.json", "access_token", ".env", "credentials", ".netrc", "_netrc",
                    ".pypirc", ".npmrc", ".git-credentials", "application_default_credentials.json",
                    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
"""File names that hold credentials whatever their content."""
CREDENTIAL_SUFFIXES = (".ppk", ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore")
"""File suffixes of key and certificate stores."""

_Q = rb"""['"]"""  # a quote, single or double

PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("a private key", re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("a PuTTY private key", re.compile(rb"PuTTY-User-Key-File-[0-9]+:")),
    ("an AWS access key id", re.compile(rb"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b")),
    ("an AWS secret access key",
     re.compile(rb"(?i)aws_?secret_?access_?key['\"]?\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}")),
    ("a Google API key", re.compile(rb"\bAIza[0-9A-Za-z_\-]{35}")),
    ("a Google OAuth client secret", re.compile(rb"\bGOCSPX-[0-9A-Za-z_\-]{20,}")),
    ("a Google OAuth refresh token", re.compile(rb"\b1//0[0-9A-Za-z_\-]{30,}")),
    ("an OAuth client secret or refresh token",
     re.compile(rb"(?i)\b(?:client_secret|refresh_token)" + _Q + rb"?\s*[=:]\s*" + _Q
                + rb"[^'\"\s]{8,}" + _Q)),
    ("a GitHub token", re.compile(rb"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("a GitLab token", re.compile(rb"\bglpat-[0-9A-Za-z_\-]{20,}")),
    ("a Slack token", re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Hugging Face token", re.compile(rb"\bhf_[A-Za-z]{34}\b")),
    ("a PyPI token", re.compile(rb"\bpypi-AgE[0-9A-Za-z_\-]{50,}")),
    ("an npm token", re.compile(rb"\bnpm_[A-Za-z0-9]{36}\b")),
    ("a Stripe secret key", re.compile(rb"\b[rs]k_live_[0-9A-Za-z]{20,}")),
    ("an Azure storage account key", re.compile(rb"AccountKey=[A-Za-z0-9+/]{80,}={0,2}")),
    ("a password in a URL",
     re.compile(rb"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'\"<>]+:[^\s/@'\"<>]+@[A-Za-z0-9\[]")),
    ("a netrc password",
     re.compile(rb"(?:\bmachine\s+\S+(?:\s+(?:login|account)\s+\S+)*"
                rb"|\bdefault(?:\s+(?:login|account)\s+\S+)+)\s+password\s+\S+")),
    ("a Kaggle API token", re.compile(rb"KGAT_[0-9A-Za-z]{16,}")),
    ("a Kaggle key (kaggle.json)",
     re.compile(_Q + rb"key" + _Q + rb"\s*:\s*" + _Q + rb"[0-9a-f]{32}" + _Q)),
    ("a Kaggle key (key=...)", re.compile(rb"\bkey\s*=\s*" + _Q + rb"[0-9a-f]{32}" + _Q)),
    ("a KAGGLE_KEY assignment",
     re.compile(rb"KAGGLE_(?:KEY|API_TOKEN)['\"]?\]?\s*[=:]\s*['\"]?[0-9A-Za-z_]{16,}")),
)
"""(what it is, pattern over bytes); :func:`kinds` matches every one against every decoded form."""


def name_kind(name: str) -> str | None:
    """"a credentials file name" when ``name``'s last part marks a credentials file."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base in CREDENTIAL_NAMES or base.lower().endswith(CREDENTIAL_SUFFIXES):
        return "a credentials file name"
    return None


def kinds(data: bytes, secrets: list[str] = ()) -> list[str]:
    """The kinds of credentials in ``data`` (one decoded form of a file), including any of the
    user's own ``secrets``; empty if none."""
    found = [what for what, pattern in PATTERNS if pattern.search(data)]
    if any(secret.encode() in data for secret in secrets):
        found.append("your own Kaggle key")
    return found
