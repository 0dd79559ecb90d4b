"""Files under ``/kaggle/input`` (wheels, manifests, checkpoints) are found by the same bounded
walk as LoveDA: shallowest first, every mount layout, never inside the tiles' folders."""

from __future__ import annotations

from envcheck import walk
from mapsage import kaggle_platform
from mapsage.provision import wheelhouse
from tests.stand_in_wheels import mmcv_wheel


def _touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_shallowest_match_first_at_every_mount_depth(tmp_path):
    deep = _touch(tmp_path / "notebooks/alice/boot/mapsage-wheelhouse/key/manifest.json")
    shallow = _touch(tmp_path / "boot/mapsage-wheelhouse/key/manifest.json")
    assert list(walk.files_named(tmp_path, "manifest.json")) == [shallow, deep]


def test_tile_folders_and_hidden_folders_are_not_entered(tmp_path):
    _touch(tmp_path / "loveda/Train/Urban/images_png/manifest.json")
    _touch(tmp_path / "loveda/Train/Urban/masks_png/x.whl")
    _touch(tmp_path / ".cache/manifest.json")
    assert list(walk.files_named(tmp_path, "manifest.json")) == []
    assert list(walk.files_named(tmp_path, "*.whl")) == []


def test_depth_is_bounded(tmp_path):
    too_deep = tmp_path.joinpath(*"abcdefg") / "manifest.json"
    _touch(too_deep)
    assert list(walk.files_named(tmp_path, "manifest.json")) == []
    assert list(walk.files_named(tmp_path, "manifest.json", max_depth=7)) == [too_deep]


def test_a_folder_named_like_the_pattern_is_not_a_file(tmp_path):
    (tmp_path / "x.whl").mkdir()
    assert list(walk.files_named(tmp_path, "*.whl")) == []


def test_input_file_found_under_another_layout_prefers_the_same_parent(tmp_path):
    _touch(tmp_path / "datasets/alice/other/best_mIoU_iter_6000.pth")
    wanted = _touch(tmp_path / "datasets/alice/ckpt/ckpt/best_mIoU_iter_6000.pth")
    found = kaggle_platform.find_input_file("/kaggle/input/ckpt/best_mIoU_iter_6000.pth",
                                       search_root=tmp_path)
    assert found == wanted


def test_input_file_name_with_glob_characters_is_taken_literally(tmp_path):
    _touch(tmp_path / "a/best[1].pth")
    _touch(tmp_path / "a/best1.pth")
    found = kaggle_platform.find_input_file("/kaggle/input/a/best[1].pth", search_root=tmp_path)
    assert found == tmp_path / "a/best[1].pth"


def test_wheelhouse_entries_under_a_notebook_output_mount(tmp_path):
    wheel = mmcv_wheel(tmp_path / "src", "cp311", cubins=[75])
    key = wheelhouse.WheelKey(mmcv="2.1.0", python_tag="cp311", torch="2.10.0+cu128",
                              cuda="12.8", arch_list="7.5")
    mount = tmp_path / "input/notebooks/alice/mapsage-bootstrap/mapsage-wheelhouse"
    stored = wheelhouse.store(wheel, key, mount)
    hit, refused = wheelhouse.find(key, [tmp_path / "input"])
    assert refused == []
    assert hit is not None and hit.wheel == stored.wheel
    # as Kaggle's inputs: used only when vouched for
    inputs = wheelhouse.Attached((tmp_path / "input",))
    hit, refused = wheelhouse.find(key, [tmp_path / "input"], inputs)
    assert hit is None and "nobody vouched for" in refused[0]
    inputs = wheelhouse.Attached((tmp_path / "input",), frozenset({stored.sha256}))
    assert wheelhouse.find(key, [tmp_path / "input"], inputs)[0] == stored
