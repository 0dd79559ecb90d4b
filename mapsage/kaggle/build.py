"""``mapsage build kaggle``: turn a kernel definition in ``kaggle/`` into a pushable folder.

``build/kaggle/<slug>/`` gets

- ``kernel-metadata.json``, checked with the rules the official client applies in
  ``kaggle kernels push`` before anything is sent (title length, slug of the title, source
  string forms, booleans, language, kernel type, pinning type). The client does these checks
  inline in its push method, so they cannot be called without pushing; the source-string checks
  reuse the client's own validators and ``slugify`` (the same package the client uses);
- ``<slug>.ipynb``: the generated notebook with the Kaggle parameters injected by papermill's
  own prepare-only run (the same injection as a local run), a ``python3`` kernelspec, and four
  cells in front: a Markdown introduction written from the injected parameters and these cells
  (:mod:`mapsage.kaggle.intro`), one that unpacks the project code carried inside the notebook
  (checked against its sha256; its code folded away for readers, the payload on its last line),
  one that runs the standard-library first checks (LoveDA attached? GPU? disk? internet if a
  build is needed?) in seconds, one that provisions mmcv and the pinned OpenMMLab stack. Nothing of
  the build machine (paths, user name, environment) is left in it: papermill's own
  ``input_path``/``output_path`` are removed;
- ``mapsage-sources.json``: which attached sources are required and which optional, for
  ``mapsage push`` to ask Kaggle about before pushing (``kaggle kernels push`` uploads only the
  metadata and the code file).

A definition's ``kernel.json`` is Kaggle's metadata plus MapSage's fields (removed from the
pushed metadata): ``notebook`` (the name of one of MapSage's notebooks, e.g.
``train_segformer_loveda``) and ``parameters`` (what to build), ``loveda_source`` (the LoveDA
data set, required) or ``data_source`` (any other training data set, required; its
``dataset.yaml`` or the ``dataset`` parameter describes it), ``checkpoint_source`` (a data set with ``load_from``'s checkpoint, attached
only when set), ``outputs_of`` (definitions in the same folder whose kernels' outputs are
attached through ``kernel_sources``, e.g. the bootstrap's wheelhouse) and ``measures`` (for the
bootstrap: the definition whose full run it measures; its notebook gets ``train`` = that run's
parameters overlaid with this definition's, and ``full_run`` = that run's parameters).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill

from mapsage import kaggle_platform, paths, safe_write
from mapsage.errors import MapSageError, MetadataError
from mapsage.kaggle import intro, next_part
from mapsage.kaggle.client import require_client
from mapsage.kaggle.secrets import BUNDLE_TAG, check_files, shipped_files, untracked_files
from mapsage.kaggle.slug import slug_of
from mapsage.notebook.execute import load_parameter_file
from mapsage.params import typed, validate
from mapsage.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
BUILD_DIR = paths.BUILD_DIR / "kaggle"
BUNDLE_PACKAGES = ("mapsage", "envcheck")
BUNDLE_FILES = ("requirements-lock.txt",)
VALID_LANGUAGES = ("python", "r", "rmarkdown")
VALID_KERNEL_TYPES = ("script", "notebook")
VALID_PINNING = ("original", "latest")
BOOLEAN_FIELDS = ("is_private", "enable_gpu", "enable_tpu", "enable_internet")
SOURCES_FILE = "mapsage-sources.json"
INTRO_TAG = "mapsage-intro"
MAPSAGE_FIELDS = ("notebook", "parameters", "loveda_source", "data_source", "checkpoint_source",
                  "outputs_of", "measures", "also_for_gpus")
PAPERMILL_LOCAL_FIELDS = ("input_path", "output_path", "environment_variables")
"""papermill notebook metadata that describes the build machine, not the run."""




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


def bundle_files(root: Path | None = None) -> list[Path]:
    """The files the notebook carries: git-tracked files of the bundled packages (outside a
    checkout, allowlisted suffixes only), never a symlink (:mod:`mapsage.kaggle.secrets`)."""
    return shipped_files(root or ROOT, (*BUNDLE_PACKAGES, *BUNDLE_FILES))


def untracked_bundle_files(root: Path | None = None) -> list[str]:
    """Files under the bundled packages that git neither tracks nor ignores: not in the bundle."""
    return untracked_files(root or ROOT, (*BUNDLE_PACKAGES, *BUNDLE_FILES))


def make_bundle(root: Path | None = None) -> bytes:
    """A deterministic zip of the project code the notebook needs, refused if any file in it
    holds a credential (checked before anything is written)."""
    root = root or ROOT
    contents = [(str(path.relative_to(root)), path.read_bytes()) for path in bundle_files(root)]
    check_files(contents)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


UNPACK_CELL = '''\
# MapSage bundle: the project code this notebook runs (mapsage, envcheck, configs, the lock),
# carried inside the notebook so nothing is uploaded by hand. Built by `mapsage build kaggle`;
# the code is the base64 payload on the last line, checked against its sha256 before use.
import base64, hashlib, io, os, sys, zipfile


def _unpack_mapsage(sha256, bundle):
    if hashlib.sha256(bundle).hexdigest() != sha256:
        raise RuntimeError("The MapSage bundle in this notebook is corrupt (sha256 mismatch): "
                           "rebuild it with `mapsage build kaggle` and push again.")
    src = os.path.join("/tmp", "mapsage-src-" + sha256[:12])
    zipfile.ZipFile(io.BytesIO(bundle)).extractall(src)
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = src + os.pathsep + os.environ.get("PYTHONPATH", "")
    print(f"MapSage code {{sha256[:12]}} unpacked to {{src}}")


_unpack_mapsage("{sha256}", base64.b64decode("{payload}"))
'''

HIDDEN_SOURCE = {"jupyter": {"source_hidden": True}, "_kg_hide-input": True}
"""Cell metadata that folds a cell's code away for readers: JupyterLab's ``source_hidden`` and
Kaggle's ``_kg_hide-input``. The cell still runs; its output stays visible."""

FIRST_CHECKS_CELL = '''\
# First checks, standard library only, in seconds and before anything is installed or built:
# the data set attached (found by the same search training uses), GPU and compute capability, disk room,
# the toolkit and the internet when mmcv would have to be built, session time spent. An error
# stops here. The mmcv wheels this notebook may install from its inputs (by sha256, from the
# downloaded output of the kernels it attaches; nothing else under /kaggle/input is installed):
import os
os.environ["MAPSAGE_TRUSTED_WHEELS"] = " ".join(
    [*os.environ.get("MAPSAGE_TRUSTED_WHEELS", "").split(), *{vouched!r}.split()])
from envcheck.kaggle import run_first_checks
from mapsage.kaggle_platform import input_dir, localize, working_dir

_first_checks = run_first_checks(localize({data_root!r}), input_root=input_dir(),
                                 working_dir=working_dir(), device={device!r},
                                 loveda_source={loveda_source!r}, dataset={dataset!r})
'''

PROVISION_CELL = '''\
# mmcv 2.1.0 with compiled ops and the pinned OpenMMLab stack: from an attached wheelhouse data
# set when one fits (offline, seconds), else built once for this GPU (see the printed command
# that publishes the built wheel as a data set for the next run). Its output shows below.
from mapsage.provision.mmcv import provision_in_child
provision_in_child(["--with-deps"])
'''

ARCH_PROVISION_CELL = '''\
# mmcv 2.1.0 with compiled ops and the pinned OpenMMLab stack, its CUDA ops built for this
# session's GPUs and also for {shapes} (TORCH_CUDA_ARCH_LIST), so that the wheel this session
# leaves serves those machine shapes too.
import os
from envcheck.compat import torch_cuda_arch_list
from envcheck.kaggle import gpus
from mapsage.provision.mmcv import provision_in_child

_session = [tuple(int(x) for x in cap.split(".")) for _, cap in gpus()]
if _session:
    os.environ["TORCH_CUDA_ARCH_LIST"] = torch_cuda_arch_list(_session + {capabilities!r})
    print("TORCH_CUDA_ARCH_LIST =", os.environ["TORCH_CUDA_ARCH_LIST"])
else:
    print("no GPU in this session: mmcv gets CPU ops; also_for_gpus applies to GPU sessions")
provision_in_child(["--with-deps"])
'''


def provision_cell(spec: dict) -> str:
    """The provisioning cell; with ``also_for_gpus`` (Kaggle machine shapes) mmcv's CUDA ops are
    built for those GPUs as well as the session's."""
    shapes = spec.get("also_for_gpus") or []
    if not shapes:
        return PROVISION_CELL
    unknown = [s for s in shapes if s not in kaggle_platform.GPU_CAPABILITIES]
    if unknown:
        raise MetadataError(f"also_for_gpus {unknown} are not Kaggle GPU machine shapes: use "
                            f"{', '.join(kaggle_platform.GPU_CAPABILITIES)}")
    return ARCH_PROVISION_CELL.format(
        shapes=", ".join(shapes), capabilities=[kaggle_platform.GPU_CAPABILITIES[s] for s in shapes])


def _tagged_code_cell(source: str, tag: str, index: int,
                      hidden: bool = False) -> nbformat.NotebookNode:
    metadata = {"tags": [tag], **(json.loads(json.dumps(HIDDEN_SOURCE)) if hidden else {})}
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell["id"] = f"mapsage-{tag}-{index}"
    return cell


def load_definition(kernel_dir: Path) -> tuple[dict, dict]:
    """(kernel.json, the parameters of params.yaml, validated) of a kernel definition folder."""
    spec_path = kernel_dir / "kernel.json"
    if not spec_path.is_file():
        raise MapSageError(f"{spec_path} is missing: a kernel definition needs kernel.json.")
    try:
        spec = json.loads(spec_path.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise MapSageError(f"{spec_path} is not valid JSON ({exc}): fix the kernel "
                           "definition.") from None
    if not isinstance(spec, dict):
        raise MapSageError(f"{spec_path} must hold a JSON object, not {type(spec).__name__}.")
    params_path = kernel_dir / spec.get("parameters", "params.yaml")
    # the same reader, and the same clear errors, as `mapsage run -f`
    params = load_parameter_file(params_path) if params_path.is_file() else {}
    validate(params)  # a wrong Kaggle parameter fails the build, not a GPU session
    return spec, params


RELATED_FIELDS = ("measures", "outputs_of")
"""Fields of kernel.json that name other definitions (by folder name)."""


def related_names(spec: dict) -> list[tuple[str, str]]:
    """(field, name) of every definition ``spec`` names in :data:`RELATED_FIELDS`."""
    found = [("measures", spec["measures"])] if spec.get("measures") else []
    outputs = spec.get("outputs_of") or []
    if not isinstance(outputs, list):
        raise MapSageError(f"outputs_of = {outputs!r} must be a list of definition folder names "
                           "(e.g. [\"mapsage-bootstrap\"]): fix kernel.json.")
    return found + [("outputs_of", name) for name in outputs]


def related_definition(kernel_dir: Path, name: str, field: str) -> Path:
    """The definition folder that ``kernel_dir``'s ``field`` (``measures``, ``outputs_of``) names:
    its sibling ``kernel_dir/../name`` when that holds a kernel.json, else the project's
    ``kaggle/name`` (a definition copied elsewhere alone still builds)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise MapSageError(f"{kernel_dir / 'kernel.json'}: {field} names {name!r}, which is not "
                           "the folder name of a kernel definition (e.g. \"mapsage-bootstrap\"): "
                           "fix kernel.json.")
    sibling = Path(kernel_dir).parent / name
    if (sibling / "kernel.json").is_file():
        return sibling
    project = paths.KERNELS_DIR / name
    if (project / "kernel.json").is_file():
        return project
    raise MapSageError(
        f"{kernel_dir / 'kernel.json'} names {name!r} in {field}, but neither {sibling} nor the "
        f"project's {project} holds a kernel.json: copy that definition beside "
        f"{Path(kernel_dir).name}, or fix the name in {field}.")


def say_related(spec: dict, kernel_dir: Path, log=print) -> None:
    """Say which definition each ``measures`` / ``outputs_of`` name resolved to, when it is not
    the sibling folder (a copied definition falls back to the project's ``kaggle/``)."""
    for field, name in related_names(spec):
        used = related_definition(kernel_dir, name, field)
        if used != Path(kernel_dir).parent / name:
            log(f"{field} {name!r}: no {Path(kernel_dir).parent / name / 'kernel.json'} beside "
                f"{kernel_dir}; using the project's definition {used}")


INHERITED_FIELDS = ("loveda_source", "data_source", "machine_shape", "enable_gpu", "docker_image_pinning_type")
"""What a ``measures`` definition (the bootstrap) takes from the definition it measures, unless it
sets them itself: the same data set, machine and image."""


def resolve_spec(spec: dict, kernel_dir: Path) -> dict:
    """``spec`` with the fields it inherits from the definition it ``measures``."""
    measured = spec.get("measures")
    if not measured:
        return spec
    base, _ = load_definition(related_definition(kernel_dir, measured, "measures"))
    return {**{k: base[k] for k in INHERITED_FIELDS if k in base}, **spec}


def kernel_id(kernel_dir: Path, owner: str) -> str:
    """``owner/<slug of the title>`` of the kernel a definition builds."""
    spec, _ = load_definition(kernel_dir)
    return f"{owner}/{slug_of(spec['title'])}"


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


def clean_notebook_metadata(nb: nbformat.NotebookNode) -> None:
    """Drop what papermill records about the build machine (paths, environment variables)."""
    papermill_meta = nb.metadata.get("papermill", {})
    for field in PAPERMILL_LOCAL_FIELDS:
        papermill_meta.pop(field, None)


def notebook_parameters(spec: dict, params: dict, kernel_dir: Path,
                        overrides: dict) -> dict:
    """What papermill injects: the run's parameters, or for a ``measures`` definition (the
    bootstrap) ``train`` (the measured run's parameters overlaid with this definition's and the
    overrides) and ``full_run`` (the measured run as it will be pushed)."""
    measured = spec.get("measures")
    if not measured:
        return {**params, **overrides}
    _, base = load_definition(related_definition(kernel_dir, measured, "measures"))
    full_run = {**base, **{k: v for k, v in overrides.items() if k not in params}}
    train = {**base, **params, **overrides}
    validate(full_run)
    validate(train)
    return {"train": train, "full_run": full_run}


def vouched_wheels(spec: dict, kernel_dir: Path, downloads: Path, log=print) -> list[str]:
    """sha256 of the mmcv wheels in the downloaded outputs of the kernels this definition
    attaches (``outputs_of``: the bootstrap), read from ``downloads/<slug>/bootstrap.json``
    where ``mapsage push`` left them: the only attached wheels the notebook will install."""
    from mapsage.kaggle.bootstrap import vouched_wheels as from_output

    found = []
    for name in spec.get("outputs_of", []):
        definition = related_definition(kernel_dir, name, "outputs_of")
        folder = Path(downloads) / slug_of(load_definition(definition)[0]["title"])
        digests = from_output(folder)
        if digests:
            log(f"trusting the mmcv wheel of {name}'s output (sha256 {digests[0][:12]}..., from "
                f"{folder / 'bootstrap.json'})")
        else:
            log(f"note: no downloaded output of {name} in {folder}: this notebook will not "
                f"install an mmcv wheel from it and builds mmcv itself (internet on). Push "
                f"{name} first (mapsage push downloads its output), then build again.")
        found += digests
    return found


def _check_source_option(value: str | None, option: str) -> None:
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


BUILD_RECORD = "mapsage-build.json"
"""How a folder was built (definition, the command line's parameters and sources, owner), for
``mapsage push --until-finished`` to build the next part the same way. Not uploaded to Kaggle."""


def definition_reference(kernel_dir: Path) -> str:
    """``kernel_dir`` as the build record stores it: relative to the project when inside it."""
    resolved = Path(kernel_dir).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    return str(resolved)


def definition_path(reference: str) -> Path:
    """The definition folder a build record's ``definition`` names."""
    path = Path(reference)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class Plan:
    """Everything a build writes, computed and checked first (:func:`plan`): a build refused for
    a parameter, a source, the metadata or a credential leaves nothing behind."""

    kernel_dir: Path
    spec: dict
    injected: dict
    run: dict
    owner: str
    payload: bytes
    slug: str
    source_nb: Path
    vouched: list
    continue_from: str | None
    attached: list
    meta: dict
    record: dict


def plan(kernel_dir: Path, owner: str | None = None, parameters: dict | None = None,
         continue_from: str | None = None, downloads: Path = paths.KAGGLE_DOWNLOADS,
         loveda_source: str | None = None, checkpoint_source: str | None = None,
         data_source: str | None = None, log=print) -> Plan:
    """Read, resolve and check one kernel definition with the command line's ``parameters``
    (``-p``/``-f``, over params.yaml) and sources (over kernel.json), writing nothing."""
    kernel_dir = Path(kernel_dir)
    _check_source_option(loveda_source, "--loveda-source")
    _check_source_option(data_source, "--data-source")
    _check_source_option(checkpoint_source, "--checkpoint-source")
    given = typed(parameters or {})  # a wrong -p/-f value is named before anything else
    spec, params = load_definition(kernel_dir)
    spec = {**spec, **{k: v for k, v in (("loveda_source", loveda_source),
                                          ("data_source", data_source),
                                          ("checkpoint_source", checkpoint_source)) if v}}
    overrides = dict(given)
    if continue_from:
        spec, overrides = next_part.prepare(spec, overrides, continue_from)
    say_related(spec, kernel_dir, log)
    spec = resolve_spec(spec, kernel_dir)
    vouched = vouched_wheels(spec, kernel_dir, downloads, log)  # before anything is written
    injected = notebook_parameters(spec, params, kernel_dir, overrides)
    run = validate(injected.get("train", injected)).as_dict()
    if continue_from:
        next_part.restore_cell(continue_from, run["work_dir"])  # its checks, before writing
    owner = resolve_owner(owner, continue_from, log)
    payload = make_bundle()  # refuses credentials before anything is written
    slug = slug_of(spec["title"])
    source_nb = notebook_named(spec["notebook"], kernel_dir)
    meta = {k: v for k, v in spec.items() if k not in MAPSAGE_FIELDS}
    meta = json.loads(json.dumps(meta).replace("{owner}", owner))
    attached = sources(spec, run, owner, kernel_dir)
    for field in ("dataset_sources", "kernel_sources"):
        meta[field] = [s["id"] for s in attached if s["field"] == field]
    meta.update(id=f"{owner}/{slug}", code_file=f"{slug}.ipynb")
    problems = validate_metadata(meta)
    if problems:
        raise MetadataError("kernel-metadata.json would be refused by `kaggle kernels push`:\n"
                            + "\n".join(f"  - {p}" for p in problems))
    record = {"definition": definition_reference(kernel_dir), "owner": owner,
              "parameters": given, "loveda_source": loveda_source, "data_source": data_source,
              "checkpoint_source": checkpoint_source, "continue_from": continue_from,
              "work_dir": run["work_dir"]}
    return Plan(kernel_dir=kernel_dir, spec=spec, injected=injected, run=run, owner=owner,
                payload=payload, slug=slug, source_nb=source_nb, vouched=vouched,
                continue_from=continue_from, attached=attached, meta=meta, record=record)


def build(kernel_dir: Path, owner: str | None = None, out_dir: Path = BUILD_DIR,
          parameters: dict | None = None, continue_from: str | None = None,
          downloads: Path = paths.KAGGLE_DOWNLOADS, log=print, *,
          loveda_source: str | None = None, checkpoint_source: str | None = None,
          data_source: str | None = None) -> Path:
    """Write ``out_dir/<slug>/`` (notebook, kernel-metadata.json, mapsage-sources.json,
    mapsage-build.json).

    ``parameters``: the command line's (``-p``/``-f``), over the definition's params.yaml;
    ``loveda_source``/``data_source``/``checkpoint_source``: over kernel.json's. ``continue_from`` (OWNER/SLUG):
    build the kernel that continues that run (:mod:`mapsage.kaggle.next_part`). ``downloads``:
    where ``mapsage push`` left the outputs of the kernels this one attaches (the bootstrap's
    names the wheel to trust)."""
    return write(plan(kernel_dir, owner, parameters, continue_from, downloads,
                      loveda_source=loveda_source, checkpoint_source=checkpoint_source,
                      data_source=data_source, log=log),
                 out_dir)


def notebook_named(name: str, kernel_dir: Path) -> Path:
    """The generated notebook a definition's ``notebook`` names (``train_segformer_loveda``: one
    of MapSage's notebooks, by name, not a path inside the package)."""
    available = sorted(p.stem for p in paths.NOTEBOOK_DIR.glob("*.ipynb"))
    if not isinstance(name, str) or name not in available:
        raise MetadataError(
            f"{kernel_dir / 'kernel.json'}: notebook {name!r} is not one of MapSage's notebooks "
            f"({', '.join(available)}). Name one of them (its sources are in notebooks/).")
    return paths.NOTEBOOK_DIR / f"{name}.ipynb"


def _intro_cell(planned: Plan, sha256: str) -> nbformat.NotebookNode:
    """The first cell: this kernel's parameters and what MapSage's cells do (:mod:`.intro`)."""
    paired = paths.NOTEBOOK_SOURCES / f"{planned.source_nb.stem}.py"
    text = intro.intro(
        title=planned.spec["title"], definition=planned.kernel_dir.name,
        injected=planned.injected, run=planned.run, spec=planned.spec,
        attached=planned.attached, sha256=sha256, continue_from=planned.continue_from,
        notebook_source=(paired.relative_to(ROOT) if paired.is_file()
                         else planned.source_nb.relative_to(ROOT)).as_posix())
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [INTRO_TAG]})
    cell["id"] = INTRO_TAG
    return cell


def write(planned: Plan, out_dir: Path = BUILD_DIR) -> Path:
    """Write the folder of a checked :class:`Plan`."""
    spec, run, attached, slug = planned.spec, planned.run, planned.attached, planned.slug
    target = Path(out_dir) / slug
    target.mkdir(parents=True, exist_ok=True)
    code_file = f"{slug}.ipynb"
    prepared = target / code_file
    with tempfile.TemporaryDirectory(prefix="mapsage-build-") as tmp:  # papermill's own write
        injected = Path(tmp) / code_file
        papermill.execute_notebook(str(planned.source_nb), str(injected),
                                   parameters=planned.injected, prepare_only=True,
                                   kernel_name="python3", language="python", progress_bar=False)
        nb = nbformat.read(injected, as_version=4)
    sha256 = hashlib.sha256(planned.payload).hexdigest()
    unpack = UNPACK_CELL.format(sha256=sha256, payload=base64.b64encode(planned.payload).decode())
    data = next((s["id"] for s in attached if s["role"] in ("loveda", "data")), None)
    checks = FIRST_CHECKS_CELL.format(data_root=run["data_root"], device=run["device"],
                                      loveda_source=data, dataset=run["dataset"],
                                      vouched=" ".join(planned.vouched))
    nb.cells[:0] = [_intro_cell(planned, sha256),
                    _tagged_code_cell(unpack, BUNDLE_TAG, 0, hidden=True),
                    _tagged_code_cell(checks, "mapsage-first-checks", 1),
                    _tagged_code_cell(provision_cell(spec), "mapsage-provision", 2)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata["mapsage"] = {"bundle_sha256": sha256,
                              "kernel_definition": planned.kernel_dir.name}
    clean_notebook_metadata(nb)
    if planned.continue_from:
        next_part.insert_restore_cell(nb, planned.continue_from, run["work_dir"])
    nbformat.validate(nb)
    safe_write.write_text(prepared, nbformat.writes(nb) + "\n")  # never through a link

    meta = planned.meta
    problems = validate_metadata(meta, target)
    if problems:
        raise MetadataError("kernel-metadata.json would be refused by `kaggle kernels push`:\n"
                            + "\n".join(f"  - {p}" for p in problems))
    safe_write.write_text(target / "kernel-metadata.json", json.dumps(meta, indent=2) + "\n")
    safe_write.write_text(target / SOURCES_FILE, json.dumps({"sources": attached}, indent=2)
                          + "\n")
    safe_write.write_text(target / BUILD_RECORD, json.dumps(planned.record, indent=2) + "\n")
    return target
