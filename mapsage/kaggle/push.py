"""``mapsage push``: push a built kernel with the official Kaggle client, wait, fetch its outputs.

Before pushing, Kaggle is asked whether each source in ``mapsage-sources.json`` exists
(``dataset_status`` / ``kernels_status``): a missing required one (LoveDA) stops the push with
its exact name, a missing optional one (the bootstrap's output) is a warning. ``kaggle kernels
push`` prints some server-side refusals ("Kernel push error: ...") and still exits 0; here the
client's Python API is called and its response inspected: an error is an error, while sources
Kaggle dropped from a push it did start (a version number) are warnings and the run is followed. Then the session status is polled until it ends and
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
from mapsage.kaggle.build import SOURCES_FILE, validate_metadata
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


def check_push_response(response, log=print) -> str:
    """The pushed version's URL, or PushFailed with every reason Kaggle gave.

    A response with a version number means Kaggle started the session: sources it could not
    attach (``invalid_*_sources``) are then warnings (the notebook's first checks stop the run
    within seconds if a required one is missing), and the run is followed to its end.
    """
    if response is None:
        raise PushFailed("Kaggle returned no response to the push.")
    problems = []
    if getattr(response, "error", None):
        problems.append(str(response.error))
    invalid = []
    for field in ("invalid_dataset_sources", "invalid_kernel_sources",
                  "invalid_competition_sources", "invalid_model_sources", "invalid_tags"):
        values = list(getattr(response, field, None) or [])
        if values:
            invalid.append(f"{field.replace('_', ' ')}: {', '.join(values)} (check the slugs "
                           "and that you can access them)")
    version = getattr(response, "version_number", None)
    if problems or (invalid and not version):
        raise PushFailed("Kaggle refused the push:\n"
                         + "\n".join(f"  - {p}" for p in problems + invalid))
    for line in invalid:
        log(f"warning: Kaggle started version {version} without {line}")
    return f"version {version}: {getattr(response, 'url', '')}"


def _not_found(exc: Exception) -> bool:
    """The client's way of saying a source does not exist or is not visible to this account."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status in (401, 403, 404) or (isinstance(exc, ValueError) and "denied" in str(exc))


def source_state(api, source: dict) -> str | None:
    """The source's state as Kaggle reports it ("ready", "complete", ...); None if it does not
    exist or this account cannot see it."""
    try:
        if source["field"] == "dataset_sources":
            return str(api.dataset_status(source["id"])).lower()
        return _status_name(api.kernels_status(source["id"]).status)
    except Exception as exc:  # the client raises requests' HTTPError or ValueError
        if _not_found(exc):
            return None
        raise MapSageError(f"could not ask Kaggle about {source['id']} "
                           f"({type(exc).__name__}: {exc})") from exc


def check_sources(bundle: Path, api, log=print) -> None:
    """Ask Kaggle whether every attached source exists: a missing required one stops the push
    (by its exact name), a missing optional one is a warning."""
    path = Path(bundle) / SOURCES_FILE
    if not path.is_file():
        raise MapSageError(f"{path} is missing: rebuild the kernel (mapsage build kaggle).")
    missing = []
    for source in json.loads(path.read_text())["sources"]:
        state = source_state(api, source)
        if state is None and source["required"]:
            missing.append(f"{source['id']} ({source['why']}; {source['field']})")
        elif state is None:
            log(f"warning: {source['id']} does not exist or is not visible to you: "
                f"{source['why']}")
        elif source["field"] == "dataset_sources" and state != "ready":
            log(f"warning: {source['id']} is {state}, not ready: Kaggle may not attach it yet")
        elif source["field"] == "kernel_sources" and state != "complete":
            log(f"warning: {source['id']}'s latest version is {state}, not complete: its output "
                "may not be attached")
    if missing:
        raise PushFailed("not pushed: these required sources do not exist on Kaggle or are not "
                         "visible to your account:\n" + "\n".join(f"  - {m}" for m in missing)
                         + "\nUpload or follow them (or fix the names in kernel.json), rebuild "
                         "and push again.")


def push(bundle: Path, api=None, *, wait: bool = True, poll_s: float = 30.0,
         timeout_s: float = 12 * 3600, download_to: Path | None = None, log=print) -> Path | None:
    """Push the built kernel in ``bundle`` with the Kaggle API after checking its sources and
    scanning it for credentials; unless ``wait`` is False, follow the session and download its
    outputs (returned folder). Every refusal, including those the CLI reports with exit 0, is a
    :class:`~mapsage.errors.PushFailed`."""
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
    check_sources(bundle, api, log)
    log(f"pushing {bundle} as {meta['id']} ...")
    log("pushed " + check_push_response(api.kernels_push(str(bundle)), log))
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
    from mapsage.kaggle.bootstrap import BOOTSTRAP_JSON, one_line

    for summary in sorted(out.rglob(BOOTSTRAP_JSON)):
        log(one_line(summary))
    if state != "complete":
        message = getattr(response, "failure_message", "") or "no failure message"
        raise PushFailed(f"the Kaggle session ended with status {state}: {message}. The executed "
                         f"notebook (with the error) is in {out}.")
    return out
