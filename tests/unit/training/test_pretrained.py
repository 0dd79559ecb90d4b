"""ImageNet MiT weights: found locally (cache, torch hub, Kaggle inputs), loaded safely into the
backbone, refused for the wrong size, never fetched from the network in tests.

The weights files here are made locally (the ``mit_weights`` fixture: a freshly initialised
``MixVisionTransformer`` of the right size saved with ``torch.save`` under the real file's name;
this machine cannot reach download.openmmlab.com, and tests must not use the network).
``MAPSAGE_OFFLINE=1`` makes any attempt to download an error.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest
import torch

from mapsage.errors import MapSageError
from mapsage.models import config_for_model
from mapsage.params import validate
from mapsage.training import pretrained
from mapsage.training.checkpoint.safe_load import safe_checkpoint_loading
from mapsage.training.config import build_config


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "pretrained"
    monkeypatch.setenv("MAPSAGE_PRETRAINED_DIR", str(folder))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("MAPSAGE_OFFLINE", "1")
    monkeypatch.delenv("MAPSAGE_KAGGLE_ROOT", raising=False)
    return folder


def _cfg(synthetic_root, tmp_path, **values):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w"),
                       **values})
    return build_config(config_for_model(params.model), params)


def test_backbone_equals_the_files_tensors_after_init(mit_weights, cache, synthetic_root, tmp_path):
    from mmseg.registry import MODELS

    path, state = mit_weights.save("b0", cache)
    cfg = _cfg(synthetic_root, tmp_path, model="b0")
    assert cfg.model.backbone.init_cfg.checkpoint == str(path), "the cached copy, not the URL"
    assert pretrained.ensure_local(cfg) == [path]
    model = MODELS.build(cfg.model)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    with safe_checkpoint_loading():
        model.init_weights()
    after = model.backbone.state_dict()
    assert set(after) == set(state)
    assert all(torch.equal(after[k], state[k]) for k in state)
    assert not all(torch.equal(before[k], state[k]) for k in state), "init really loaded them"
    pretrained.check_fits(path, model.backbone)  # the right size fits


def test_a_b0_file_for_a_b2_model_is_refused_with_the_shapes(mit_weights, cache):
    path, _ = mit_weights.save("b0", cache, name=mit_weights.name("b2"))
    with pytest.raises(MapSageError) as err:
        pretrained.check_fits(path, mit_weights.backbone("b2"))
    text = str(err.value)
    assert "do not fit this model's backbone" in text and str(path) in text
    assert "layers.0.0.projection.weight: file (32, 3, 7, 7) vs model (64, 3, 7, 7)" in text
    assert "weights missing from the file" in text  # b2 has more blocks than b0


def test_offline_without_the_file_names_it_and_where_to_put_it(cache, synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, model="b2")
    assert "not on this machine" in pretrained.describe(cfg)
    with pytest.raises(MapSageError) as err:
        pretrained.ensure_local(cfg)
    text = str(err.value)
    assert "mit_b2_20220624-66e8bf70.pth" in text and str(cache) in text
    assert "/kaggle/input" in text and "pretrained=None" in text
    assert not cache.exists(), "nothing written"


def test_torch_hub_cache_and_kaggle_inputs_are_searched(mit_weights, cache, tmp_path, monkeypatch,
                                                        synthetic_root):
    name = mit_weights.name("b1")
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / name).write_bytes(b"x")
    assert pretrained.locate(f"https://host/{name}").path == hub / name
    (hub / name).unlink()
    kaggle = tmp_path / "kaggle"
    folder = kaggle / "input" / "datasets" / "me" / "mit-weights"
    folder.mkdir(parents=True)
    vouched = folder / f"mit_b1_test-{hashlib.sha256(b'x').hexdigest()[:8]}.pth"
    vouched.write_bytes(b"x")  # its name carries its own sha256 prefix
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(kaggle))
    assert pretrained.locate(f"https://host/{vouched.name}").path == vouched


def test_weights_under_kaggle_input_whose_hash_lies_are_refused(mit_weights, cache, tmp_path,
                                                                monkeypatch, synthetic_root):
    """Issue 20: a file under /kaggle/input named like the published MiT weights, with other
    content (NaN-filled here), is not loaded; offline, the run stops naming it."""
    name = mit_weights.name("b1")
    kaggle = tmp_path / "kaggle"
    planted = kaggle / "input" / "public-loveda-copy" / name
    planted.parent.mkdir(parents=True)
    torch.save({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                for k, v in mit_weights.backbone("b1").state_dict().items()}, planted)
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(kaggle))
    source = pretrained.locate(f"https://host/{name}")
    assert source.path is None and str(planted) in source.refused
    assert "not " + name.rsplit("-", 1)[1].split(".")[0] in source.refused
    cfg = _cfg(synthetic_root, tmp_path, model="b1")
    assert cfg.model.backbone.init_cfg.checkpoint != str(planted)
    with pytest.raises(MapSageError, match="Refused: .*public-loveda-copy") as err:
        pretrained.ensure_local(cfg)
    assert "Nothing was trained" in str(err.value)


def test_pretrained_parameter_choices(mit_weights, cache, synthetic_root, tmp_path):
    assert _cfg(synthetic_root, tmp_path, model="b2", pretrained=None).model.backbone.get(
        "init_cfg") is None
    loaded = _cfg(synthetic_root, tmp_path, model="b2", load_from=str(tmp_path / "best.pth"))
    assert loaded.model.backbone.get("init_cfg") is None, "load_from wins: nothing to download"
    path, _ = mit_weights.save("b0", tmp_path / "mine", name="my-mit-b0.pth")
    assert _cfg(synthetic_root, tmp_path, model="b0",
                pretrained=str(path)).model.backbone.init_cfg.checkpoint == str(path)
    with pytest.raises(MapSageError, match="does not exist"):
        _cfg(synthetic_root, tmp_path, model="b0", pretrained=str(tmp_path / "nope.pth"))
    b3 = _cfg(synthetic_root, tmp_path, model="b3", pretrained="imagenet")
    assert b3.model.backbone.init_cfg.checkpoint.endswith(mit_weights.name("b3"))
    with pytest.raises(MapSageError, match="no ImageNet weights for this backbone"):
        _cfg(synthetic_root, tmp_path, pretrained="imagenet")


class _Payload:
    """Unpickling this runs a shell command: the marker file proves whether it ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_payload_in_a_weights_file_never_runs(mit_weights, cache, tmp_path):
    marker = tmp_path / "payload-ran"
    path = cache / mit_weights.name("b0")
    cache.mkdir(parents=True)
    torch.save({"state_dict": {}, "meta": _Payload(marker)}, path)
    backbone = mit_weights.backbone("b0")
    with pytest.raises(Exception) as err:
        pretrained.check_fits(path, backbone)
    assert "Unsupported global" in str(err.value) or "system" in str(err.value)
    assert not marker.exists()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 standing in for download.openmmlab.com (no network)."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_download_checks_the_hash_in_the_name(mit_weights, cache, tmp_path, monkeypatch,
                                              local_server):
    import hashlib

    monkeypatch.delenv("MAPSAGE_OFFLINE")
    root, base = local_server
    made, _ = mit_weights.save("b0", tmp_path / "made", name="weights.pth")
    digest = hashlib.sha256(made.read_bytes()).hexdigest()[:8]
    good, bad = f"mit_b0_20220624-{digest}.pth", "mit_b0_20220624-00000000.pth"
    for name in (good, bad):
        (root / name).write_bytes(made.read_bytes())
    path = pretrained.fetch(pretrained.locate(f"{base}/{good}"))
    assert path == cache / good and path.read_bytes() == made.read_bytes()
    with pytest.raises(MapSageError, match="does not match the sha256 prefix"):
        pretrained.fetch(pretrained.locate(f"{base}/{bad}"))
    assert not (cache / bad).exists()
