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

``kernel-metadata.json`` and ``mapsage-sources.json`` are read as untrusted data: malformed JSON
or a field of the wrong type is a one-paragraph error naming the file, and a ``code_file`` that
leaves the built folder (``../x``, an absolute path, a symlinked folder) is refused, since the
client uploads whatever file it names and the credential scan reads only the folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

from mapsage import paths
from mapsage.errors import MapSageError, PushFailed
from mapsage.kaggle.client import require_client
from mapsage.kaggle.metadata import SOURCES_FILE, validate_metadata
from mapsage.kaggle.secrets import scan_folder

TERMINAL = {"complete", "error", "cancel_acknowledged"}
SOURCE_FIELDS = ("dataset_sources", "kernel_sources")
REBUILD = "rebuild the kernel with `mapsage build kaggle` (it writes this file) and push again"


def official_api():
    """The official client, authenticated from its usual places (its import prints noise)."""
    require_client()
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


def read_json(path: Path) -> object:
    """The JSON document in ``path`` (a file of a built kernel folder), or a MapSageError naming
    the file, what is wrong and the fix."""
    if not path.is_file():
        raise MapSageError(f"{path} is missing: {REBUILD}.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MapSageError(f"{path} is not UTF-8 text (byte {exc.start}): {REBUILD}.") from None
    except json.JSONDecodeError as exc:
        raise MapSageError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}): {REBUILD}, or fix the file by hand.") from None


def read_metadata(bundle: Path) -> dict:
    """``kernel-metadata.json`` of the built folder ``bundle``, its fields checked for what push
    reads: an object, string ``id`` and ``title``, lists of strings for the sources, and a
    ``code_file`` inside ``bundle`` (``kaggle kernels push`` uploads ``bundle/code_file``, which
    may otherwise name any file on this machine, one the credential scan never sees)."""
    path = bundle / "kernel-metadata.json"
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise MapSageError(f"{path} must hold a JSON object, not {json.dumps(meta)[:60]}: "
                           f"{REBUILD}.")
    for field in ("id", "title", "code_file"):
        if field in meta and not isinstance(meta[field], str):
            raise MapSageError(f"{path}: {field} = {meta[field]!r} must be a string: {REBUILD}.")
    for field in (*SOURCE_FIELDS, "model_sources"):
        value = meta.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MapSageError(f"{path}: {field} = {value!r} must be a list of strings: {REBUILD}.")
    code_file = meta.get("code_file")
    if code_file and not _inside(bundle, code_file):
        raise PushFailed(
            f"{path}: code_file {code_file!r} leaves {bundle}: `kaggle kernels push` would upload "
            "that file, which the credential scan of the folder never reads. code_file must be a "
            "relative path to a file inside the built folder (the build writes '<slug>.ipynb'): "
            f"{REBUILD}.")
    return meta


def _inside(folder: Path, relative: str) -> bool:
    """Whether ``folder/relative`` stays inside ``folder``, also after following symlinks."""
    if PurePath(relative).is_absolute() or ".." in PurePath(relative).parts:
        return False
    return (folder / relative).resolve().is_relative_to(folder.resolve())


def _source_problems(source) -> list[str]:
    """What is wrong with one entry of mapsage-sources.json (empty when it is well formed)."""
    if not isinstance(source, dict):
        return [f"{json.dumps(source)[:60]} is not an object"]
    problems = []
    if source.get("field") not in SOURCE_FIELDS:
        problems.append(f"field = {source.get('field')!r}")
    for key, kind in (("id", str), ("why", str), ("required", bool)):
        value = source.get(key)
        if not isinstance(value, kind) or value == "":
            problems.append(f"{key} = {value!r}")
    return problems


def read_sources(bundle: Path) -> list[dict]:
    """The sources listed in ``bundle``'s mapsage-sources.json, each checked: ``field``
    (dataset_sources or kernel_sources), ``id``, ``required`` (true/false) and ``why``."""
    path = bundle / SOURCES_FILE
    document = read_json(path)
    sources = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(sources, list):
        raise MapSageError(f'{path} must hold an object {{"sources": [...]}}, not '
                           f"{json.dumps(document)[:80]}: {REBUILD}.")
    for number, source in enumerate(sources, 1):
        wrong = _source_problems(source)
        if wrong:
            raise MapSageError(
                f"{path}: source {number} is malformed ({'; '.join(wrong)}): each source needs "
                f"field ({' or '.join(SOURCE_FIELDS)}), id (owner/slug), required (true or "
                f"false) and why (text). {REBUILD[0].upper()}{REBUILD[1:]}.")
    return sources


def check_sources(sources: list[dict], api, log=print) -> None:
    """Ask Kaggle whether every attached source (:func:`read_sources`) exists: a missing
    required one stops the push (by its exact name), a missing optional one is a warning."""
    missing = []
    for source in sources:
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


@dataclass(frozen=True)
class Session:
    """One pushed kernel's session: its id, where its outputs were downloaded (None without
    waiting) and the seconds from the push to the session's end, as followed here."""

    kernel: str
    out: Path | None
    seconds: float


def push(bundle: Path, api=None, *, wait: bool = True, poll_s: float = 30.0,
         timeout_s: float = 12 * 3600, download_to: Path | None = None, log=print) -> Path | None:
    """Push the built kernel in ``bundle`` with the Kaggle API after checking its sources and
    scanning it for credentials; unless ``wait`` is False, follow the session and download its
    outputs (returned folder). Every refusal, including those the CLI reports with exit 0, is a
    :class:`~mapsage.errors.PushFailed`."""
    return push_session(bundle, api, wait=wait, poll_s=poll_s, timeout_s=timeout_s,
                        download_to=download_to, log=log).out


def push_session(bundle: Path, api=None, *, wait: bool = True, poll_s: float = 30.0,
                 timeout_s: float = 12 * 3600, download_to: Path | None = None,
                 log=print) -> Session:
    """:func:`push`, returning the :class:`Session` (id, outputs, time followed)."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise MapSageError(f"{bundle} is not a folder: pass the folder `mapsage build kaggle` "
                           "wrote (build/kaggle/<slug>).")
    meta = read_metadata(bundle)  # the file push uploads stays inside the scanned folder
    problems = validate_metadata(meta, bundle)
    if problems:
        raise PushFailed("kernel-metadata.json is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    leaked = scan_folder(bundle)  # the files, and the code bundle inside the notebook
    if leaked:
        raise PushFailed("refusing to push: credentials found in (or files a bundle may not "
                         "carry):\n" + "\n".join(f"  - {line}" for line in leaked)
                         + "\nRemove them from the project, rebuild with `mapsage build kaggle` "
                           "and push again.")
    sources = read_sources(bundle)
    api = api or official_api()
    check_sources(sources, api, log)
    log(f"pushing {bundle} as {meta['id']} ...")
    started = time.monotonic()
    log("pushed " + check_push_response(api.kernels_push(str(bundle)), log))
    if not wait:
        return Session(meta["id"], None, time.monotonic() - started)
    while True:
        response = api.kernels_status(meta["id"])
        state = _status_name(response.status)
        log(f"  {meta['id']}: {state} ({time.monotonic() - started:.0f}s)")
        if state in TERMINAL:
            break
        if time.monotonic() - started > timeout_s:
            raise PushFailed(f"gave up waiting after {timeout_s:.0f}s; the kernel is still {state}.")
        time.sleep(poll_s)
    seconds = time.monotonic() - started
    out = Path(download_to or paths.KAGGLE_DOWNLOADS / meta["id"].split("/")[1])
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
    return Session(meta["id"], out, seconds)
