"""`mapsage push` against a stand-in for Kaggle's servers (they cannot exist here).

``KaggleServerStandIn`` answers the three client calls push uses with the kaggle SDK's real
response types; everything on MapSage's side (validation, credential scan, refusal detection,
polling, download) is the real code path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kagglesdk.kernels.types.kernels_api_service import (
    ApiGetKernelSessionStatusResponse,
    ApiSaveKernelResponse,
)
from kagglesdk.kernels.types.kernels_enums import KernelWorkerStatus

from mapsage.errors import PushFailed
from mapsage.kaggle.build import build
from mapsage.kaggle.push import push
from mapsage.paths import KERNELS_DIR


class KaggleServerStandIn:
    def __init__(self, *, error=None, invalid_sources=(), statuses=("RUNNING", "COMPLETE"),
                 failure=""):
        self.error, self.invalid_sources = error, list(invalid_sources)
        self.statuses, self.failure = list(statuses), failure
        self.pushed, self.downloads = [], []

    def kernels_push(self, folder):
        self.pushed.append(folder)
        response = ApiSaveKernelResponse()
        response.url, response.version_number = "https://www.kaggle.com/code/alice/x", 3
        if self.error:
            response.error = self.error
        response.invalid_dataset_sources = self.invalid_sources
        return response

    def kernels_status(self, kernel):
        response = ApiGetKernelSessionStatusResponse()
        response.status = KernelWorkerStatus[self.statuses.pop(0)]
        if self.failure:
            response.failure_message = self.failure
        return response

    def kernels_output(self, kernel, path, force=False, quiet=True):
        out = Path(path) / "run"
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({"mIoU": 1.0}))
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


def test_invalid_dataset_sources_are_an_error(bundle):
    server = KaggleServerStandIn(invalid_sources=["alice/loveda"])
    with pytest.raises(PushFailed, match="invalid dataset sources: alice/loveda"):
        push(bundle, server, log=lambda *_: None)


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
