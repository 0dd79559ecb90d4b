"""The data set is swapped into any config: every loader reads the described folders as mmseg
BaseSegDatasets, heads and evaluator take its classes and ignore index. Real mmengine configs:
MapSage's SegFormer and one of mmseg's own (package scope)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsage.data.layout import find_layout
from mapsage.errors import ParamError
from mapsage.models import config_for_model, config_path
from mapsage.params import validate
from mapsage.training.config import _walk, build_config

DESCRIPTION = ("name: roofs\nclasses: [ground, roof, tree, water, road]\nimg_suffix: .jpg\n"
               "reduce_zero_label: false\nignore_index: 255\n")


def folder_data(root: Path) -> Path:
    for split in ("train", "val"):
        (root / "img_dir" / split).mkdir(parents=True)
        (root / "ann_dir" / split).mkdir(parents=True)
    (root / "dataset.yaml").write_text(DESCRIPTION)
    return root


@pytest.mark.parametrize("config", [None, "mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py",
                                    "mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py"])
def test_a_folder_data_set_is_swapped_into_any_config(tmp_path, config):
    root = folder_data(tmp_path / "roofs")
    params = validate({"data_root": str(root), "config": config, "work_dir": str(tmp_path / "w")})
    cfg = build_config(config_path(params.config, params.model), params,
                       layout=find_layout(root, params.dataset))
    for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"),
                          ("test_dataloader", "val")):
        dataset = cfg[loader].dataset
        assert dataset.type == "BaseSegDataset"
        assert dataset.data_root == str(root.resolve())
        assert dataset.data_prefix == dict(img_path=f"img_dir/{split}",
                                           seg_map_path=f"ann_dir/{split}")
        assert (dataset.img_suffix, dataset.seg_map_suffix, dataset.reduce_zero_label) == \
            (".jpg", ".png", False)
        assert dataset.metainfo["classes"] == ["ground", "roof", "tree", "water", "road"]
        assert len(dataset.metainfo["palette"]) == 5
        for node in _walk(dataset.pipeline):
            assert not (node.get("type") == "LoadAnnotations" and "reduce_zero_label" in node)
    heads = [n for n in _walk(cfg.model) if str(n.get("type", "")).endswith("Head")]
    assert heads and all(h.num_classes == 5 and h.ignore_index == 255 for h in heads)
    assert cfg.val_evaluator.ignore_index == 255
    assert cfg.dataset_description["name"] == "roofs"


def test_loveda_keeps_its_domains_and_label_convention(synthetic_root, tmp_path):
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w")})
    cfg = build_config(config_for_model("tiny"), params)
    parts = cfg.train_dataloader.dataset.datasets
    assert [p.data_prefix.img_path for p in parts] == ["Train/Urban/images_png",
                                                         "Train/Rural/images_png"]
    assert all(p.reduce_zero_label and p.metainfo["classes"][0] == "background" for p in parts)
    assert cfg.model.decode_head.num_classes == 7


def test_config_names(tmp_path):
    assert config_path(None, "tiny") == config_for_model("tiny")
    assert config_path("segformer_mit-b0_loveda-512x512.py", "tiny") == config_for_model("b0")
    own = tmp_path / "mine.py"
    own.write_text("_base_ = []\n")
    assert config_path(str(own), "tiny") == own
    for bad, said in (("nope.py", "no such file"), ("mmdet::x.py", "unknown package scope"),
                      ("mmseg::../x.py", "inside the package"),
                      ("mmseg::fcn/missing.py", "has no config")):
        with pytest.raises(ParamError, match=said):
            config_path(bad, "tiny")


def test_a_config_mapsage_cannot_drive_is_refused_naming_what_is_missing(tmp_path, synthetic_root):
    from mapsage.errors import MapSageError

    broken = tmp_path / "epochs.py"
    broken.write_text(
        f"_base_ = [{str(config_for_model('tiny'))!r}]\n"
        "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2)\n"
        "val_evaluator = None\n")
    params = validate({"data_root": str(synthetic_root), "work_dir": str(tmp_path / "w"),
                       "config": str(broken)})
    with pytest.raises(MapSageError) as caught:
        build_config(broken, params)
    said = str(caught.value)
    assert "not iteration-based" in said and "no val_evaluator" in said
    assert "decode head" not in said and "data_preprocessor" not in said  # only what is missing


def test_mmseg_configs_open_mmlab_weights_follow_the_offline_rules(tmp_path, monkeypatch):
    """mmseg's FCN-R18 names ``model.pretrained='open-mmlab://resnet18_v1c'``: it becomes the
    backbone's init_cfg, resolved through mmengine's own table to the published URL (with its
    sha256 prefix), looked for offline, and refused clearly offline when absent."""
    from mapsage.errors import MapSageError
    from mapsage.training import pretrained

    monkeypatch.setenv("MAPSAGE_PRETRAINED_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("MAPSAGE_OFFLINE", "1")
    root = folder_data(tmp_path / "roofs")
    config = "mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py"
    params = validate({"data_root": str(root), "config": config, "work_dir": str(tmp_path / "w")})
    cfg = build_config(config_path(config, "tiny"), params)
    assert cfg.model.get("pretrained") is None
    init = cfg.model.backbone.init_cfg
    assert init.type == "Pretrained"
    assert init.checkpoint == "open-mmlab://resnet18_v1c"
    source = pretrained.locate(init.checkpoint)
    assert source.url.startswith("https://download.openmmlab.com/")
    assert pretrained.HASH_IN_NAME.search(source.name), "hash-checked like MiT's weights"
    with pytest.raises(MapSageError, match="resnet18_v1c-[0-9a-f]+.pth"):
        pretrained.ensure_local(cfg)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / source.name).write_bytes(b"x")
    assert pretrained.ensure_local(cfg) == [tmp_path / "cache" / source.name]
