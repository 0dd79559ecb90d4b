"""``mapsage build kaggle``: turn a kernel definition in ``kaggle/`` into a pushable folder.

:func:`plan` reads and checks everything first, writing nothing; :func:`write` writes
``build/kaggle/<slug>/``:

- ``kernel-metadata.json``, checked with the rules ``kaggle kernels push`` applies
  (:mod:`mapsage.kaggle.metadata`);
- ``<slug>.ipynb``: the generated notebook with the Kaggle parameters injected by papermill's
  own prepare-only run (the same injection as a local run), a ``python3`` kernelspec, and
  MapSage's cells in front (:mod:`mapsage.kaggle.cells`: the introduction, the code bundle of
  :mod:`mapsage.kaggle.bundle`, the first checks, mmcv's provisioning, a continuation's
  restore). Nothing of the build machine (paths, user name, environment) is left in it:
  papermill's own ``input_path``/``output_path`` are removed;
- ``mapsage-sources.json``: the attached sources, required or optional, for ``mapsage push`` to
  ask Kaggle about before pushing;
- ``mapsage-build.json``: how the folder was built, for the next part of a long run.

The definition (``kernel.json`` and ``params.yaml``) is read by :mod:`mapsage.kaggle.definition`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill

from mapsage import paths, safe_write
from mapsage.errors import MapSageError
from mapsage.kaggle import cells, intro, next_part
from mapsage.kaggle.bundle import make_bundle, vouched_wheels
from mapsage.kaggle.definition import (
    MAPSAGE_FIELDS,
    definition_reference,
    load_definition,
    notebook_named,
    notebook_parameters,
    resolve_spec,
    say_related,
)
from mapsage.kaggle.metadata import (
    SOURCES_FILE,
    check_source_option,
    require_valid,
    resolve_owner,
    sources,
)
from mapsage.kaggle.secrets import BUNDLE_TAG
from mapsage.kaggle.slug import slug_of
from mapsage.params import typed, validate
from mapsage.paths import PROJECT_ROOT

BUILD_DIR = paths.BUILD_DIR / "kaggle"
PAPERMILL_LOCAL_FIELDS = ("input_path", "output_path", "environment_variables")
"""papermill notebook metadata that describes the build machine, not the run."""


def clean_notebook_metadata(nb: nbformat.NotebookNode) -> None:
    """Drop what papermill records about the build machine (paths, environment variables)."""
    papermill_meta = nb.metadata.get("papermill", {})
    for field in PAPERMILL_LOCAL_FIELDS:
        papermill_meta.pop(field, None)


BUILD_RECORD = "mapsage-build.json"
"""How a folder was built (definition, the command line's parameters and sources, owner), for
``mapsage push --until-finished`` to build the next part the same way. Not uploaded to Kaggle."""


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
         data_source: str | None = None, measures: str | None = None, log=print) -> Plan:
    """Read, resolve and check one kernel definition with the command line's ``parameters``
    (``-p``/``-f``, over params.yaml), sources and ``measures`` (over kernel.json), writing
    nothing."""
    kernel_dir = Path(kernel_dir)
    check_source_option(loveda_source, "--loveda-source")
    check_source_option(data_source, "--data-source")
    check_source_option(checkpoint_source, "--checkpoint-source")
    given = typed(parameters or {})  # a wrong -p/-f value is named before anything else
    spec, params = load_definition(kernel_dir)
    if measures and not spec.get("measures"):
        raise MapSageError(
            f"--measures {measures}: {kernel_dir} trains a run of its own; --measures names the "
            "training definition a measuring definition (kernel.json \"measures\", e.g. "
            "kaggle/mapsage-bootstrap) measures. Build that one alone: mapsage build kaggle "
            f"--kernel kaggle/mapsage-bootstrap --measures {measures}.")
    spec = {**spec, **{k: v for k, v in (("loveda_source", loveda_source),
                                          ("data_source", data_source),
                                          ("checkpoint_source", checkpoint_source),
                                          ("measures", measures)) if v}}
    overrides = dict(given)
    if continue_from:
        spec, overrides = next_part.prepare(spec, overrides, continue_from)
    say_related(spec, kernel_dir, log)
    spec = resolve_spec(spec, kernel_dir)
    vouched = vouched_wheels(spec, kernel_dir, downloads, log)  # before anything is written
    injected = notebook_parameters(spec, params, kernel_dir, overrides)
    run = validate(injected.get("train", injected)).as_dict()
    if continue_from:
        cells.restore_cell(continue_from, run["work_dir"])  # its checks, before writing
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
    require_valid(meta)
    record = {"definition": definition_reference(kernel_dir), "owner": owner,
              "parameters": given, "loveda_source": loveda_source, "data_source": data_source,
              "checkpoint_source": checkpoint_source, "measures": measures,
              "continue_from": continue_from,
              "work_dir": run["work_dir"]}
    return Plan(kernel_dir=kernel_dir, spec=spec, injected=injected, run=run, owner=owner,
                payload=payload, slug=slug, source_nb=source_nb, vouched=vouched,
                continue_from=continue_from, attached=attached, meta=meta, record=record)


def build(kernel_dir: Path, owner: str | None = None, out_dir: Path = BUILD_DIR,
          parameters: dict | None = None, continue_from: str | None = None,
          downloads: Path = paths.KAGGLE_DOWNLOADS, log=print, *,
          loveda_source: str | None = None, checkpoint_source: str | None = None,
          data_source: str | None = None, measures: str | None = None) -> Path:
    """Write ``out_dir/<slug>/`` (notebook, kernel-metadata.json, mapsage-sources.json,
    mapsage-build.json).

    ``parameters``: the command line's (``-p``/``-f``), over the definition's params.yaml;
    ``loveda_source``/``data_source``/``checkpoint_source``/``measures``: over kernel.json's.
    ``continue_from`` (OWNER/SLUG):
    build the kernel that continues that run (:mod:`mapsage.kaggle.next_part`). ``downloads``:
    where ``mapsage push`` left the outputs of the kernels this one attaches (the bootstrap's
    names the wheel to trust)."""
    return write(plan(kernel_dir, owner, parameters, continue_from, downloads,
                      loveda_source=loveda_source, checkpoint_source=checkpoint_source,
                      data_source=data_source, measures=measures, log=log),
                 out_dir)


def _intro_text(planned: Plan, sha256: str) -> str:
    """The first cell's text: this kernel's parameters and what MapSage's cells do
    (:mod:`.intro`)."""
    paired = paths.NOTEBOOK_SOURCES / f"{planned.source_nb.stem}.py"
    text = intro.intro(
        title=planned.spec["title"], definition=planned.kernel_dir.name,
        injected=planned.injected, run=planned.run, spec=planned.spec,
        attached=planned.attached, sha256=sha256, continue_from=planned.continue_from,
        notebook_source=(paired.relative_to(PROJECT_ROOT) if paired.is_file()
                         else planned.source_nb.relative_to(PROJECT_ROOT)).as_posix())
    return text


def write(planned: Plan, out_dir: Path = BUILD_DIR) -> Path:
    """Write the folder of a checked :class:`Plan`."""
    run, attached, slug = planned.run, planned.attached, planned.slug
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
    data = next((s["id"] for s in attached if s["role"] in ("loveda", "data")), None)
    nb.cells[:0] = [
        cells.intro_cell(_intro_text(planned, sha256)),
        cells.tagged_code_cell(cells.unpack_cell(planned.payload), BUNDLE_TAG, 0, hidden=True),
        cells.tagged_code_cell(cells.first_checks_cell(run, data, planned.vouched),
                               cells.FIRST_CHECKS_TAG, 1),
        cells.tagged_code_cell(cells.provision_cell(planned.spec), cells.PROVISION_TAG, 2)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata["mapsage"] = {"bundle_sha256": sha256,
                              "kernel_definition": planned.kernel_dir.name}
    clean_notebook_metadata(nb)
    if planned.continue_from:
        cells.insert_restore_cell(nb, planned.continue_from, run["work_dir"])
    nbformat.validate(nb)
    safe_write.write_text(prepared, nbformat.writes(nb) + "\n")  # never through a link

    require_valid(planned.meta, target)
    safe_write.write_text(target / "kernel-metadata.json",
                          json.dumps(planned.meta, indent=2) + "\n")
    safe_write.write_text(target / SOURCES_FILE, json.dumps({"sources": attached}, indent=2)
                          + "\n")
    safe_write.write_text(target / BUILD_RECORD, json.dumps(planned.record, indent=2) + "\n")
    return target
