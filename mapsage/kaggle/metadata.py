"""Kaggle's side of a kernel: ``kernel-metadata.json`` checked with the rules the official
client applies in ``kaggle kernels push`` (the client does these checks inline in its push
method, so they cannot be called without pushing; the source-string checks reuse its own
validators and ``slugify``), the owner, data set ids given on the command line, and the sources a
kernel attaches (``mapsage-sources.json``, for ``mapsage push`` to ask Kaggle about).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle import next_part
from mapsage.kaggle.client import require_client
from mapsage.kaggle.definition import kernel_id, related_definition
from mapsage.kaggle.slug import slug_of

VALID_LANGUAGES = ("python", "r", "rmarkdown")
VALID_KERNEL_TYPES = ("script", "notebook")
VALID_PINNING = ("original", "latest")
BOOLEAN_FIELDS = ("is_private", "enable_gpu", "enable_tpu", "enable_internet")
SOURCES_FILE = "mapsage-sources.json"
"""Which attached sources are required and which optional (``kaggle kernels push`` uploads only
the metadata and the code file, so ``mapsage push`` checks them first)."""


def kaggle_username() -> str | None:
    """The user name from KAGGLE_USERNAME or ~/.kaggle/kaggle.json (never the key)."""
    if os.environ.get("KAGGLE_USERNAME"):
        return os.environ["KAGGLE_USERNAME"]
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    path = config_dir / "kaggle.json"
    if path.is_file():
        return json.loads(path.read_text()).get("username")
    return None


def validate_metadata(meta: dict, folder: Path | None = None) -> list[str]:
    """Every reason ``kaggle kernels push`` would refuse this metadata (empty when it is fine)."""
    require_client()
    with contextlib.redirect_stdout(io.StringIO()):  # the client's import prints an auth notice
        from kaggle.api.kaggle_api_extended import KaggleApi

    client = KaggleApi()  # only its validators are used: no credentials, no network
    problems = []
    title = meta.get("title")
    if not title or len(title) < 5:
        problems.append(f"title {title!r} must be at least five characters")
    code_file = meta.get("code_file")
    if not code_file:
        problems.append("code_file is missing: a source file must be specified")
    elif folder is not None and not (folder / code_file).is_file():
        problems.append(f"code_file {code_file!r} does not exist in {folder}")
    kernel_id = meta.get("id")
    if not kernel_id:
        problems.append("id ('owner/slug') is missing")
    else:
        try:  # validate_kernel_string: in every client the lock pins (1.7 on Python 3.10)
            client.validate_kernel_string(kernel_id)
            owner, slug, *rest = kernel_id.split("/")
            version = "/".join(rest) or None
        except ValueError as exc:
            problems.append(f"id {kernel_id!r}: {exc}")
        else:
            if version:
                problems.append(f"id {kernel_id!r} must not contain a version")
            if title and slug.lower() != slug_of(title):
                problems.append(f"id slug {slug!r} does not match the title's slug "
                                f"{slug_of(title)!r}: Kaggle derives the slug from the title")
    if meta.get("language") not in VALID_LANGUAGES:
        problems.append(f"language {meta.get('language')!r} must be one of {VALID_LANGUAGES}")
    if meta.get("kernel_type") not in VALID_KERNEL_TYPES:
        problems.append(f"kernel_type {meta.get('kernel_type')!r} must be one of "
                        f"{VALID_KERNEL_TYPES}")
    for field, check in (("dataset_sources", client.validate_dataset_string),
                         ("kernel_sources", client.validate_kernel_string),
                         ("model_sources", client.validate_model_instance_version_string)):
        for source in meta.get(field, []):
            try:
                check(source)
            except ValueError as exc:
                problems.append(f"{field} entry {source!r}: {exc}")
    pinning = meta.get("docker_image_pinning_type")
    if pinning is not None and pinning not in VALID_PINNING:
        problems.append(f"docker_image_pinning_type {pinning!r} must be one of {VALID_PINNING}")
    for field in BOOLEAN_FIELDS:
        if field in meta:
            try:
                client.get_bool(meta, field, False)
            except (ValueError, TypeError):
                problems.append(f"{field} = {meta[field]!r} is not a boolean (true/false)")
    return problems


def require_valid(meta: dict, folder: Path | None = None) -> None:
    """:func:`validate_metadata`, raising :class:`MetadataError` with every problem."""
    problems = validate_metadata(meta, folder)
    if problems:
        raise MetadataError("kernel-metadata.json would be refused by `kaggle kernels push`:\n"
                            + "\n".join(f"  - {p}" for p in problems))


def check_source_option(value: str | None, option: str) -> None:
    """A data set id given on the command line, checked with the client's own validator."""
    if value is None:
        return
    require_client()
    with contextlib.redirect_stdout(io.StringIO()):  # the client's import prints an auth notice
        from kaggle.api.kaggle_api_extended import KaggleApi
    try:
        KaggleApi().validate_dataset_string(value.replace("{owner}", "owner"))
        if value.count("/") != 1:
            raise ValueError("expected exactly one '/'")
    except ValueError as exc:
        raise MapSageError(f"{option} {value!r} is not a Kaggle data set id ({exc}): give "
                           "OWNER/SLUG as in the data set's address, e.g. alice/loveda "
                           "(kaggle.com/datasets/alice/loveda).") from None


def resolve_owner(owner: str | None, continue_from: str | None, log=print) -> str:
    """--owner, else KAGGLE_USERNAME / kaggle.json, else the owner of ``continue_from``."""
    owner = owner or kaggle_username()
    if not owner and continue_from:
        owner = next_part.parse_kernel_ref(continue_from)[0]
        log(f"owner {owner!r} taken from --continue-from {continue_from} (no --owner, "
            "KAGGLE_USERNAME or kaggle.json)")
    if not owner:
        raise MapSageError(
            "No Kaggle user name: pass --owner NAME, set KAGGLE_USERNAME, or put your API token in "
            "~/.kaggle/kaggle.json (Kaggle > Settings > API > Create New Token)."
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", owner):
        raise MetadataError(f"owner {owner!r} is not a Kaggle user name")
    return owner


def _fill(value, owner: str):
    return None if value is None else str(value).replace("{owner}", owner)


def sources(spec: dict, params: dict, owner: str, kernel_dir: Path) -> list[dict]:
    """Every source the kernel attaches: {"field", "id", "required", "role", "why"}.

    LoveDA and any listed ``dataset_sources`` are required; a ``checkpoint_source`` is attached
    only when set (required when ``load_from`` names a checkpoint); the outputs of ``outputs_of``
    kernels are optional (without them provisioning builds mmcv, with the internet on).
    """
    found = []
    data = _fill(spec.get("data_source"), owner)
    loveda = None if data else _fill(spec.get("loveda_source"), owner)
    if loveda:
        found.append({"field": "dataset_sources", "id": loveda, "required": True,
                      "role": "loveda", "why": "the LoveDA data set"})
    if data:
        found.append({"field": "dataset_sources", "id": data, "required": True,
                      "role": "data", "why": "the training data set"})
    for source in spec.get("dataset_sources", []):
        found.append({"field": "dataset_sources", "id": _fill(source, owner), "required": True,
                      "role": "listed", "why": "listed in dataset_sources"})
    checkpoint = _fill(spec.get("checkpoint_source"), owner)
    if checkpoint:
        found.append({"field": "dataset_sources", "id": checkpoint,
                      "required": bool(params.get("load_from")), "role": "checkpoint",
                      "why": "the checkpoint data set" + (" of load_from" if params.get("load_from")
                                                          else "")})
    for name in spec.get("outputs_of", []):
        found.append({"field": "kernel_sources",
                      "id": kernel_id(related_definition(kernel_dir, name, "outputs_of"), owner),
                      "required": False, "role": "outputs",
                      "why": f"the output of the {name} kernel (its wheelhouse: without it mmcv is "
                             "built in the session)"})
    for source in spec.get("kernel_sources", []):
        found.append({"field": "kernel_sources", "id": _fill(source, owner), "required": True,
                      "role": "listed", "why": "listed in kernel_sources"})
    return found
