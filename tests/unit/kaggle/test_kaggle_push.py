"""`mapsage push` against a stand-in for Kaggle's servers (they cannot exist here).

``KaggleServerStandIn`` answers the client calls push uses (``dataset_status``,
``kernels_status``, ``kernels_push``, ``kernels_output``) with the kaggle SDK's real response
types, and a missing data set or kernel with the ``requests.HTTPError`` (404) the client raises;
everything on MapSage's side (validation, source check, credential scan, refusal detection,
polling, download) is the real code path.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetStatusResponse
from kagglesdk.datasets.types.dataset_enums import DatabundleVersionStatus
from kagglesdk.kernels.types.kernels_api_service import (
    ApiGetKernelSessionStatusResponse,
    ApiSaveKernelResponse,
)
from kagglesdk.kernels.types.kernels_enums import KernelWorkerStatus
from requests import HTTPError, Response

from mapsage.cli import main
from mapsage.errors import PushFailed
from mapsage.kaggle.build import build
from mapsage.kaggle.metadata import SOURCES_FILE
from mapsage.kaggle.push import push
from mapsage.paths import KERNELS_DIR


def _not_found(name: str) -> HTTPError:
    response = Response()
    response.status_code = 404
    return HTTPError(f"404 Client Error: Not Found for {name}", response=response)


class KaggleServerStandIn:
    """Kaggle's servers as the official client shows them. ``datasets``: existing data sets;
    ``kernels``: other existing kernels -> their session status (the pushed kernel's statuses
    come from ``statuses``, one per poll)."""

    def __init__(self, *, error=None, invalid_sources=(), statuses=("RUNNING", "COMPLETE"),
                 failure="", datasets=("alice/loveda",),
                 kernels=(("alice/mapsage-bootstrap", "COMPLETE"),), version=3, outputs=None):
        self.error, self.invalid_sources = error, list(invalid_sources)
        self.statuses, self.failure = list(statuses), failure
        self.datasets, self.kernels, self.version = set(datasets), dict(kernels), version
        self.pushed, self.downloads, self.asked = [], [], []
        self.outputs = dict(outputs or {})

    def dataset_status(self, dataset):
        self.asked.append(dataset)
        if dataset not in self.datasets:
            raise _not_found(dataset)
        response = ApiGetDatasetStatusResponse()
        response.status = DatabundleVersionStatus.READY
        return response.status.name.lower()  # what KaggleApi.dataset_status returns

    def kernels_push(self, folder):
        self.pushed.append(folder)
        response = ApiSaveKernelResponse()
        response.url = "https://www.kaggle.com/code/alice/x"
        if self.version is not None:
            response.version_number = self.version
        if self.error:
            response.error = self.error
        response.invalid_dataset_sources = self.invalid_sources
        return response

    def kernels_status(self, kernel):
        response = ApiGetKernelSessionStatusResponse()
        if kernel in self.kernels:
            self.asked.append(kernel)
            response.status = KernelWorkerStatus[self.kernels[kernel]]
            return response
        if not self.pushed:
            raise _not_found(kernel)
        response.status = KernelWorkerStatus[self.statuses.pop(0)]
        if self.failure:
            response.failure_message = self.failure
        return response

    def kernels_output(self, kernel, path, force=False, quiet=True):
        out = Path(path) / "run"
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({"mIoU": 1.0}))
        for name, text in self.outputs.items():
            (Path(path) / name).write_text(text)
        self.downloads.append(path)
        return [str(out / "metrics.json")], ""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build(KERNELS_DIR / "train-segformer-loveda", owner="alice",
                 out_dir=tmp_path_factory.mktemp("b"))


def test_push_waits_and_downloads_outputs(bundle, tmp_path):
    server = KaggleServerStandIn()
    out = push(bundle, server, poll_s=0, download_to=tmp_path / "out", log=lambda *_: None)
    assert server.pushed == [str(bundle)] and out == tmp_path / "out"
    assert (out / "run" / "metrics.json").is_file()


def test_server_error_with_exit_code_zero_is_an_error(bundle):
    server = KaggleServerStandIn(error="Notebook not found")
    with pytest.raises(PushFailed, match="Notebook not found"):
        push(bundle, server, log=lambda *_: None)


def test_invalid_sources_without_a_version_are_an_error(bundle):
    server = KaggleServerStandIn(invalid_sources=["alice/loveda"], version=None)
    with pytest.raises(PushFailed, match="invalid dataset sources: alice/loveda"):
        push(bundle, server, log=lambda *_: None)


def test_a_version_number_means_the_run_is_going_despite_invalid_sources(bundle, tmp_path):
    server = KaggleServerStandIn(invalid_sources=["alice/mapsage-segformer-checkpoint"])
    lines = []
    out = push(bundle, server, poll_s=0, download_to=tmp_path / "out", log=lines.append)
    assert (out / "run" / "metrics.json").is_file() and server.downloads == [str(out)]
    assert any("warning: Kaggle started version 3 without invalid dataset sources: "
               "alice/mapsage-segformer-checkpoint" in line for line in lines)


def test_sources_are_asked_about_before_the_push(bundle, tmp_path):
    server = KaggleServerStandIn()
    push(bundle, server, poll_s=0, download_to=tmp_path / "out", log=lambda *_: None)
    assert server.asked == ["alice/loveda", "alice/mapsage-bootstrap"]


def test_a_missing_required_source_stops_the_push_by_name(bundle):
    server = KaggleServerStandIn(datasets=())
    with pytest.raises(PushFailed, match=r"alice/loveda \(the LoveDA data set; dataset_sources\)"):
        push(bundle, server, log=lambda *_: None)
    assert server.pushed == []


def test_a_missing_optional_source_is_a_warning(bundle, tmp_path):
    server = KaggleServerStandIn(kernels=())
    lines = []
    push(bundle, server, poll_s=0, download_to=tmp_path / "out", log=lines.append)
    assert server.pushed == [str(bundle)]
    assert any(line.startswith("warning: alice/mapsage-bootstrap does not exist") for line in lines)


def test_failed_session_downloads_the_notebook_and_fails(bundle, tmp_path):
    server = KaggleServerStandIn(statuses=["RUNNING", "ERROR"], failure="cell 5 raised")
    with pytest.raises(PushFailed, match="status error: cell 5 raised"):
        push(bundle, server, poll_s=0, download_to=tmp_path / "o", log=lambda *_: None)
    assert server.downloads == [str(tmp_path / "o")]


def test_a_bundle_with_credentials_is_never_sent(bundle, tmp_path):
    leaked = bundle / "kaggle.json"
    leaked.write_text('{"username": "alice", "key": "0123456789abcdef0123456789abcdef"}')
    server = KaggleServerStandIn()
    try:
        with pytest.raises(PushFailed, match="credentials found"):
            push(bundle, server, log=lambda *_: None)
    finally:
        leaked.unlink()
    assert server.pushed == []


def test_a_downloaded_bootstrap_summary_is_shown_and_checked(bundle, tmp_path):
    good = {"seconds_per_iteration": 0.9, "images_per_second": 17.8,
            "data_loader_wait_share": 0.05, "projected_full_run_seconds": 16000 * 0.9,
            "peak_gpu_memory_bytes": [{"device": "cuda:0", "bytes": 6 * 2**30},
                                      {"device": "cuda:1", "bytes": 5 * 2**30}]}
    lines = []
    server = KaggleServerStandIn(outputs={"bootstrap.json": json.dumps(good)})
    push(bundle, server, poll_s=0, download_to=tmp_path / "a", log=lines.append)
    assert any(line.endswith("0.900 s/iteration, 17.8 images/s, data wait 5%, peak GPU memory "
                             "6.0 GiB, 5.0 GiB; full run projected at 4.0 h") for line in lines)
    lines.clear()
    bad = {**good, "images_per_second": "fast"}
    server = KaggleServerStandIn(outputs={"bootstrap.json": json.dumps(bad)})
    push(bundle, server, poll_s=0, download_to=tmp_path / "b", log=lines.append)
    assert any("not a MapSage bootstrap summary (ValueError" in line for line in lines)


@pytest.fixture()
def own_copy(bundle, tmp_path) -> Path:
    """A copy of the built kernel folder that a test may damage."""
    return Path(shutil.copytree(bundle, tmp_path / "kernel"))


def _set_code_file(folder: Path, code_file: str) -> None:
    meta_path = folder / "kernel-metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["code_file"] = code_file
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize("where", ["../victim/leak.ipynb", "absolute", "linked/leak.ipynb"])
def test_a_code_file_outside_the_folder_is_never_pushed(own_copy, tmp_path, where):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "leak.ipynb").write_text(json.dumps({"cells": [], "note": "KGAT_" + "0" * 24}))
    (own_copy / "linked").symlink_to(victim)  # a folder inside that points outside
    code_file = str(victim / "leak.ipynb") if where == "absolute" else where
    _set_code_file(own_copy, code_file)
    server = KaggleServerStandIn()
    with pytest.raises(PushFailed, match=re.escape(f"code_file {code_file!r} leaves {own_copy}")):
        push(own_copy, server, log=lambda *_: None)
    assert server.pushed == [] and server.asked == []


def test_a_code_file_inside_the_folder_is_pushed(own_copy, tmp_path):
    (own_copy / "sub").mkdir()
    notebook = next(own_copy.glob("*.ipynb"))
    notebook.rename(own_copy / "sub" / notebook.name)
    _set_code_file(own_copy, f"sub/{notebook.name}")
    server = KaggleServerStandIn()
    push(own_copy, server, wait=False, log=lambda *_: None)
    assert server.pushed == [str(own_copy)]


@pytest.mark.parametrize(("name", "text", "says"), [
    ("kernel-metadata.json", '{"id": "alice/x", "title": ', "is not valid JSON (Expecting value"),
    ("kernel-metadata.json", "[1, 2]", "must hold a JSON object, not [1, 2]"),
    ("kernel-metadata.json", "\udcff", "is not UTF-8 text"),
    ("kernel-metadata.json", '{"id": "alice/x", "title": "MapSage x", "code_file": 5}',
     "code_file = 5 must be a string"),
    ("kernel-metadata.json", '{"id": "alice/x", "title": "MapSage x", "code_file": "k.ipynb", '
                             '"dataset_sources": "alice/loveda"}',
     "dataset_sources = 'alice/loveda' must be a list of strings"),
    (SOURCES_FILE, '{"sources": [', "is not valid JSON (Expecting value at line 1, column 14)"),
    (SOURCES_FILE, '["alice/loveda"]', 'must hold an object {"sources": [...]}'),
    (SOURCES_FILE, '{"sources": [{"id": "alice/loveda", "required": "yes"}]}',
     "source 1 is malformed (field = None; why = None; required = 'yes')"),
    (SOURCES_FILE, '{"sources": ["alice/loveda"]}',
     'source 1 is malformed ("alice/loveda" is not an object)'),
])
def test_a_malformed_file_of_the_folder_is_one_clear_error(own_copy, capsys, name, text, says):
    if text == "\udcff":
        (own_copy / name).write_bytes(b'{"title": "\xff"}')
    else:
        (own_copy / name).write_text(text)
    assert main(["push", str(own_copy), "--no-wait"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mapsage push: error: {own_copy / name}") and says in err, err
    assert "mapsage build kaggle" in err and "Traceback" not in err


# --- issue 21: mapsage push --until-finished chains the parts of a long run -------------------

class ChainingServerStandIn(KaggleServerStandIn):
    """Kaggle's servers over several sessions: the i-th pushed kernel runs (RUNNING, then
    COMPLETE, or ERROR when ``runs[i]`` is None) and its output holds ``run/metrics.json`` with
    ``runs[i]`` = (status, iterations); a part whose session ended exists afterwards (the next
    part's kernel_sources check asks about it)."""

    def __init__(self, runs, **kwargs):
        super().__init__(statuses=(), **kwargs)
        self.runs, self.pushed_ids = list(runs), []

    def kernels_push(self, folder):
        self.pushed_ids.append(json.loads((Path(folder) / "kernel-metadata.json").read_text())["id"])
        ends = "ERROR" if self.runs[len(self.pushed_ids) - 1] is None else "COMPLETE"
        self.statuses += ["RUNNING", ends]
        return super().kernels_push(folder)

    def kernels_output(self, kernel, path, force=False, quiet=True):
        from mapsage.results.record import build_metrics, write_json

        run = self.runs[len(self.downloads)]
        out = Path(path) / "run"
        out.mkdir(parents=True, exist_ok=True)
        if run is not None:
            status, iterations = run
            rows = [{"step": iterations, "loss": 1.0},
                    {"step": iterations, "aAcc": 80.0, "mIoU": 30.0 + iterations / 100,
                     "mAcc": 50.0}]
            extra = {"error": "CUDA out of memory"} if status == "failed" else {}
            write_json(out / "metrics.json", build_metrics(
                rows, ["road"], best_checkpoint=None, iterations=iterations, wall_time_s=60.0,
                status=status, params={"max_iters": 8000}, **extra))
        self.kernels[kernel] = "COMPLETE" if run is not None else "ERROR"
        self.downloads.append(path)
        return [str(out / "metrics.json")], ""


@pytest.fixture()
def first_part(tmp_path) -> Path:
    return build(KERNELS_DIR / "train-segformer-loveda", owner="alice",
                 out_dir=tmp_path / "build", parameters={"max_iters": 8000},
                 loveda_source="bob/loveda-mirror", downloads=tmp_path / "runs",
                 log=lambda *_: None)


def _chain(first_part, server, tmp_path, lines, **kwargs):
    from mapsage.kaggle.chain import until_finished

    return until_finished(first_part, server, poll_s=0, downloads=tmp_path / "runs",
                          log=lines.append, **kwargs)


FIRST_ID = "alice/mapsage-segformer-loveda-training"


def test_until_finished_builds_and_pushes_each_next_part(first_part, tmp_path):
    server = ChainingServerStandIn([("time_limit", 3000), ("time_limit", 6000),
                                    ("finished", 8000)], datasets=("bob/loveda-mirror",))
    lines = []
    parts = _chain(first_part, server, tmp_path, lines)
    assert server.pushed_ids == [FIRST_ID, f"{FIRST_ID}-part-2", f"{FIRST_ID}-part-3"]
    assert [(p.status, p.iterations) for p in parts] == [
        ("time_limit", 3000), ("time_limit", 6000), ("finished", 8000)]
    slugs = [kernel.split("/")[1] for kernel in server.pushed_ids]
    assert server.downloads == [str(tmp_path / "runs" / s) for s in slugs], \
        "each part's outputs are downloaded to runs/kaggle/<slug>"
    for number, slug in enumerate(slugs[1:], 2):
        bundle = tmp_path / "build" / slug
        meta = json.loads((bundle / "kernel-metadata.json").read_text())
        assert meta["kernel_sources"][-1] == server.pushed_ids[number - 2], \
            "each part attaches the output of the part before it"
        assert meta["dataset_sources"] == ["bob/loveda-mirror"]
        injected = json.loads((bundle / f"{slug}.ipynb").read_text())["metadata"]["papermill"]
        assert injected["parameters"]["max_iters"] == 8000, "the command line's parameters"
        assert injected["parameters"]["resume"] == "auto"
    table = lines[-1].splitlines()
    assert table[0].split() == ["part", "kernel", "status", "iterations", "mIoU", "GPU", "hours"]
    assert table[1].split()[:5] == ["1", FIRST_ID, "time_limit", "3000/8000", "60.00"]
    assert table[3].split()[:5] == ["3", f"{FIRST_ID}-part-3", "finished", "8000/8000", "110.00"]
    assert table[4].startswith("total")


def test_a_run_that_finishes_in_one_part_is_one_row(first_part, tmp_path):
    server = ChainingServerStandIn([("finished", 8000)], datasets=("bob/loveda-mirror",))
    lines = []
    assert len(_chain(first_part, server, tmp_path, lines)) == 1
    assert server.pushed_ids == [FIRST_ID]


def test_a_part_without_progress_stops_the_chain(first_part, tmp_path):
    server = ChainingServerStandIn([("time_limit", 3000), ("time_limit", 3000),
                                    ("finished", 8000)], datasets=("bob/loveda-mirror",))
    lines = []
    with pytest.raises(PushFailed, match=r"part 2 \(.*-part-2\) made no progress \(iteration "
                                         r"3000, as the part before it\)"):
        _chain(first_part, server, tmp_path, lines)
    assert len(server.pushed_ids) == 2
    assert lines[-1].splitlines()[2].split()[:4] == ["2", f"{FIRST_ID}-part-2", "time_limit",
                                                     "3000/8000"]


def test_a_failed_session_stops_the_chain_and_shows_the_parts_so_far(first_part, tmp_path):
    server = ChainingServerStandIn([("time_limit", 3000), None, ("finished", 8000)],
                                   datasets=("bob/loveda-mirror",))
    lines = []
    with pytest.raises(PushFailed, match=r"part 2 \(.*part-2\) did not finish, so the chain "
                                         r"stopped: the Kaggle session ended with status error"):
        _chain(first_part, server, tmp_path, lines)
    assert len(server.pushed_ids) == 2 and lines[-1].splitlines()[1].startswith("1 ")


def test_a_failed_run_stops_the_chain(first_part, tmp_path):
    server = ChainingServerStandIn([("failed", 1200)], datasets=("bob/loveda-mirror",))
    with pytest.raises(PushFailed, match="part 1 .* left no usable result.*CUDA out of memory"):
        _chain(first_part, server, tmp_path, [])
    assert len(server.pushed_ids) == 1


def test_the_chain_is_bounded_by_max_parts(first_part, tmp_path):
    server = ChainingServerStandIn([("time_limit", 1000 * i) for i in range(1, 9)],
                                   datasets=("bob/loveda-mirror",))
    with pytest.raises(PushFailed) as stopped:
        _chain(first_part, server, tmp_path, [], max_parts=2)
    assert len(server.pushed_ids) == 2
    message = str(stopped.value)
    assert "stopped after 2 part(s) (--max-parts 2) at iteration 2000 of 8000" in message
    assert (f"--continue-from {FIRST_ID}-part-2 -p max_iters 8000 --loveda-source "
            "bob/loveda-mirror") in message


def test_cli_until_finished_prints_the_table(first_part, tmp_path, capsys, monkeypatch):
    from mapsage.cli.push import DEFAULT_MAX_PARTS
    from mapsage.kaggle import chain
    from mapsage.kaggle import push as push_module

    assert DEFAULT_MAX_PARTS == chain.DEFAULT_MAX_PARTS
    server = ChainingServerStandIn([("time_limit", 3000), ("finished", 8000)],
                                   datasets=("bob/loveda-mirror",))
    monkeypatch.setattr(push_module, "official_api", lambda: server)  # Kaggle's servers
    monkeypatch.chdir(tmp_path)  # runs/kaggle/ and the bootstrap's downloaded output
    assert main(["push", str(first_part), "--until-finished", "--poll", "0"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["2", f"{FIRST_ID}-part-2", "finished", "8000/8000", "110.00", "0.00"] in rows
    assert (tmp_path / "runs" / "kaggle" / "mapsage-segformer-loveda-training-part-2" / "run" /
            "metrics.json").is_file()


@pytest.mark.parametrize(("argv", "says"), [
    (["--until-finished", "--no-wait"], "drop --no-wait"),
    (["--until-finished", "--max-parts", "0"], "--max-parts 0 must be at least 1"),
    (["--until-finished"], "mapsage-build.json is missing"),
])
def test_until_finished_refuses_before_pushing(own_copy, capsys, argv, says):
    if "missing" in says:  # a folder built before the build recorded how
        (own_copy / "mapsage-build.json").unlink()
    assert main(["push", str(own_copy), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mapsage push: error: ") and says in err and "Traceback" not in err


def test_until_finished_names_a_missing_folder(tmp_path, capsys):
    assert main(["push", str(tmp_path / "nowhere"), "--until-finished"]) == 2
    assert f"{tmp_path / 'nowhere'} is not a folder" in capsys.readouterr().err


def test_a_parts_max_iters_comes_from_its_time_limit_record_when_the_config_set_it():
    from mapsage.kaggle.chain import _max_iters

    assert _max_iters({"params": {"max_iters": None},
                       "time_limit": {"iteration": 900, "max_iters": 16000}}) == 16000
    assert _max_iters({"params": {"max_iters": 8000}}) == 8000
    assert _max_iters({"params": {"max_iters": None}}) is None
    assert _max_iters({"params": "junk", "time_limit": {"max_iters": True}}) is None
