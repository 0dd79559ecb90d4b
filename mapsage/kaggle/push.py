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
import time
from pathlib import Path

from mapsage.errors import MapSageError, PushFailed
from mapsage.kaggle.build import validate_metadata
from mapsage.kaggle.secrets import scan_folder

TERMINAL = {"complete", "error", "cancel_acknowledged"}




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
    leaked = scan_folder(bundle)  # the files, and the code bundle inside the notebook
    if leaked:
        raise PushFailed("refusing to push: credentials found in\n"
                         + "\n".join(f"  - {line}" for line in leaked))
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
