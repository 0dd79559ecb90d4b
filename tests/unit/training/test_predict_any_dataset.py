"""Issue 23, without a model: which config and data set ``mapsage predict`` takes (the run's
saved config beside the checkpoint, its ``dataset_description`` read back strictly), which
images it reads (the data set's ``img_suffix``; LoveDA's split folders and a folder data set's,
a test-only one included) and the label files' names; the incompatible-checkpoint message names
the run's data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mapsage.data.dataset import LOVEDA, Description, parse
from mapsage.errors import InputError, MapSageError
from mapsage.training.predict import (
    description_of,
    find_images,
    label_name,
    run_config,
    saved_config,
    split_role,
)

ROOFS = parse({"name": "roofs", "classes": ["background", "roof", "tree"],
               "img_suffix": ".jpg"}, "test")


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def test_the_saved_config_is_the_one_metrics_names_or_the_only_one(tmp_path):
    assert saved_config(tmp_path) is None
    (tmp_path / "a.py").write_text("x = 1\n")
    assert saved_config(tmp_path) == tmp_path / "a.py"
    (tmp_path / "b.py").write_text("x = 2\n")
    with pytest.raises(MapSageError, match=r"holds 2 config files \(a.py, b.py\).*--config"):
        saved_config(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"config": "/elsewhere/b.py"}))
    assert saved_config(tmp_path) == tmp_path / "b.py"
    (tmp_path / "metrics.json").write_text("[not an object")
    with pytest.raises(MapSageError, match="holds 2 config files"):
        saved_config(tmp_path)


def test_the_description_comes_from_the_config_read_back_strictly():
    assert description_of(Config({}), "c") is LOVEDA, "a run from before descriptions"
    assert description_of(Config({"dataset_description": LOVEDA.as_dict()}), "c") is LOVEDA
    found = description_of(Config({"dataset_description": ROOFS.as_dict()}), "c")
    assert isinstance(found, Description) and found.classes == ROOFS.classes
    assert found.label_offset == 0 and found.img_suffix == ".jpg"
    bad = {**ROOFS.as_dict(), "palette": [[0, 0, 0]]}
    with pytest.raises(InputError, match="c: dataset_description: palette has 1 colours"):
        description_of(Config({"dataset_description": bad}), "c")


def test_run_config_reads_the_named_config_and_never_one_beside_the_checkpoint(tmp_path):
    marker = tmp_path / "executed"
    (tmp_path / "run.py").write_text(f"dataset_description = {ROOFS.as_dict()!r}\n"
                                     "model = dict(type='EncoderDecoder')\n"
                                     f"open({str(marker)!r}, 'w').close()\n")
    lone, cfg = run_config(tmp_path / "iter_1.pth")  # no metrics.json: LoveDA, weights decide
    assert lone.path is None and lone.description is LOVEDA and cfg is None
    assert not marker.exists(), "a config beside a checkpoint is never executed unasked"
    (tmp_path / "metrics.json").write_text(json.dumps({"config": "/x/run.py",
                                                       "dataset": ROOFS.as_dict()}))
    with pytest.raises(MapSageError, match=r"trained on 'roofs' \(3 classes\), not LoveDA.*"
                                           r"--config '.*run.py'"):
        run_config(tmp_path / "iter_1.pth")
    assert not marker.exists()
    found, cfg = run_config(tmp_path / "iter_1.pth", config=tmp_path / "run.py")
    assert marker.exists(), "named on the command line: executed, as the user asked"
    assert found.path == tmp_path / "run.py" and found.description.name == "roofs"
    assert cfg.model.type == "EncoderDecoder"
    (tmp_path / "broken.py").write_text("raise ValueError('no')\n")
    with pytest.raises(MapSageError, match=r"cannot be read as an mmengine config \(ValueError"):
        run_config(tmp_path / "iter_1.pth", config=tmp_path / "broken.py")


def test_images_by_the_data_sets_suffix_and_their_label_names(tmp_path):
    folder = tmp_path / "pictures"
    for name in ("a.jpg", "b.JPG", "c.png"):
        _image(folder / name)
    assert [p.name for p in find_images(folder, description=ROOFS)] == ["a.jpg", "b.JPG"]
    assert [label_name(p, ROOFS) for p in find_images(folder, description=ROOFS)] == \
        ["a.png", "b.png"]
    assert [p.name for p in find_images(folder)] == ["c.png"], "LoveDA: .png"
    (folder / "b.png").write_bytes(b"")
    _image(folder / "d.jpeg")
    with pytest.raises(MapSageError, match=r"No images ending in \.tif .*\.jpeg, \.jpg, \.png"):
        find_images(folder, description=parse({"classes": ["a", "b"], "img_suffix": ".tif"},
                                              "t"))


def test_a_test_only_folder_data_set_and_its_split_folder(tmp_path):
    root = tmp_path / "competition"
    _image(root / "data" / "test" / "images" / "x.jpg")
    assert [p.name for p in find_images(root, "test", ROOFS)] == ["x.jpg"]
    assert [p.name for p in find_images(root / "data" / "test", description=ROOFS)] == \
        ["x.jpg"], "a split folder given itself: its images/"
    _image(root / "img_dir" / "test" / "y.jpg")
    assert [p.name for p in find_images(root, "Test", ROOFS)] == ["y.jpg"], "shallowest"
    with pytest.raises(MapSageError, match="No val/ split under"):
        find_images(root, "val", ROOFS)
    assert split_role("Valid") == "val" and split_role("weird") is None


def test_a_loveda_split_is_found_for_a_loveda_run(tmp_path):
    for domain in ("Urban", "Rural"):
        _image(tmp_path / "LoveDA" / "Test" / domain / "images_png" / f"{domain}.png")
    assert [p.name for p in find_images(tmp_path, "Test")] == ["Rural.png", "Urban.png"]
    assert len(find_images(tmp_path / "LoveDA" / "Test")) == 2


def test_the_incompatible_checkpoint_message_names_the_runs_classes(tmp_path):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mapsage.models import config_for_model
    from mapsage.training.checkpoint.safe_load import check_compatible

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(str(config_for_model("tiny")))
    cfg.model.decode_head.num_classes = 3
    model = MODELS.build(cfg.model)
    cfg.model.decode_head.num_classes = 7
    ckpt = tmp_path / "seven.pth"
    torch.save({"state_dict": MODELS.build(cfg.model).state_dict()}, ckpt)
    with pytest.raises(MapSageError) as err:
        check_compatible(ckpt, model, dataset=ROOFS.as_dict())
    assert "the 3 classes of roofs" in str(err.value) and "LoveDA" not in str(err.value)
    with pytest.raises(MapSageError, match="the 3 classes of this run's data set"):
        check_compatible(ckpt, model)
