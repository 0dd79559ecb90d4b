"""``mapsage push``: push a built kernel with the official Kaggle client, wait, fetch its outputs.

``kaggle kernels push`` prints some server-side refusals ("Kernel push error: ...", invalid
dataset sources) and still exits 0; here the client's Python API is called and its response
inspected, so every refusal is an error. Then the session status is polled until it ends and
``kernels output`` downloads the executed notebook, metrics.json and pictures. Credentials stay
with the Kaggle client (~/.kaggle or its environment variables): nothing here reads or writes
them, and the bundle is scanned for them before it is sent.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
from pathlib import Path

from mapsage.errors import MapSageError, PushFailed
from mapsage.kaggle.build import validate_metadata

TERMINAL = {"complete", "error", "cancel_acknowledged"}
_SECRET_PATTERNS = (
    re.compile(r'"key"\s*:\s*"[0-9a-f]{32}"'),
    re.compile(r"KAGGLE_KEY\s*=\s*\S+"),
    re.compile(r"KGAT_[0-9A-Za-z]{16,}"),  # Kaggle API tokens
)




def known_secrets() -> list[str]:
    """The local Kaggle credentials' secret values, to make sure none is in a bundle."""
    secrets = [os.environ[name] for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN")
               if os.environ.get(name)]
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    for name in ("kaggle.json", "access_token"):
        path = config_dir / name
        if path.is_file():
            text = path.read_text().strip()
            if name == "kaggle.json":
                with contextlib.suppress(ValueError):
                    text = json.loads(text).get("key", "")
            if text:
                secrets.append(text)
    return [s for s in secrets if len(s) >= 8]


def scan_for_credentials(folder: Path, secrets: list[str] | None = None) -> list[str]:
    """Files in ``folder`` that hold a credential (a known secret value or a token pattern)."""
    secrets = known_secrets() if secrets is None else secrets
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        if path.name in ("kaggle.json", "access_token") or any(s in text for s in secrets) \
                or any(p.search(text) for p in _SECRET_PATTERNS):
            hits.append(str(path))
    return hits


def official_api():
    """The official client, authenticated from its usual places (its import prints noise)."""
    with contextlib.redirect_stdout(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi
    api = KaggleApi()
    try:
        api.authenticate()
    except (Exception, SystemExit) as exc:
        raise MapSageError(
            "The Kaggle client has no credentials: run `kaggle auth login`, or save an API token "
            "from kaggle.com > Settings > API to ~/.kaggle/access_token (or kaggle.json)."
        ) from exc
    return api


def _status_name(status) -> str:
    name = getattr(status, "name", str(status))
    return name.split(".")[-1].lower()


def check_push_response(response) -> str:
    """The pushed version's URL, or PushFailed with every reason Kaggle gave."""
    if response is None:
        raise PushFailed("Kaggle returned no response to the push.")
    problems = []
    if getattr(response, "error", None):
        problems.append(str(response.error))
    for field in ("invalid_dataset_sources", "invalid_kernel_sources",
                  "invalid_competition_sources", "invalid_model_sources", "invalid_tags"):
        values = list(getattr(response, field, None) or [])
        if values:
            problems.append(f"{field.replace('_', ' ')}: {', '.join(values)} (check the slugs "
                            "and that you can access them)")
    if problems:
        raise PushFailed("Kaggle refused the push:\n" + "\n".join(f"  - {p}" for p in problems))
    return f"version {getattr(response, 'version_number', '?')}: {getattr(response, 'url', '')}"


def push(bundle: Path, api=None, *, wait: bool = True, poll_s: float = 30.0,
         timeout_s: float = 12 * 3600, download_to: Path | None = None, log=print) -> Path | None:
    bundle = Path(bundle)
    meta_path = bundle / "kernel-metadata.json"
    if not meta_path.is_file():
        raise MapSageError(f"{meta_path} is missing: build the kernel first (mapsage build kaggle).")
    meta = json.loads(meta_path.read_text())
    problems = validate_metadata(meta, bundle)
    if problems:
        raise PushFailed("kernel-metadata.json is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    leaked = scan_for_credentials(bundle)
    if leaked:
        raise PushFailed(f"refusing to push: credentials found in {', '.join(leaked)}")
    api = api or official_api()
    log(f"pushing {bundle} as {meta['id']} ...")
    log("pushed " + check_push_response(api.kernels_push(str(bundle))))
    if not wait:
        return None
    started = time.monotonic()
    while True:
        response = api.kernels_status(meta["id"])
        state = _status_name(response.status)
        log(f"  {meta['id']}: {state} ({time.monotonic() - started:.0f}s)")
        if state in TERMINAL:
            break
        if time.monotonic() - started > timeout_s:
            raise PushFailed(f"gave up waiting after {timeout_s:.0f}s; the kernel is still {state}.")
        time.sleep(poll_s)
    out = Path(download_to or Path("runs") / "kaggle" / meta["id"].split("/")[1])
    out.mkdir(parents=True, exist_ok=True)
    files, _ = api.kernels_output(meta["id"], str(out), force=True, quiet=True)
    log(f"downloaded {len(files)} output file(s) to {out}")
    if state != "complete":
        message = getattr(response, "failure_message", "") or "no failure message"
        raise PushFailed(f"the Kaggle session ended with status {state}: {message}. The executed "
                         f"notebook (with the error) is in {out}.")
    return out
