"""A wheel is what its key says (issue 19): the compiled ops inside a built or attached mmcv
wheel are read (``mmcv/_ext*.so``'s ``.nv_fatbin``) before it is stored or installed, and a
manifest that is not MapSage's, or names a file outside its folder, is skipped and named."""

from __future__ import annotations

import json
import shutil

import pytest

from mapsage.errors import MapSageError
from mapsage.provision import wheelhouse
from mapsage.provision.wheelhouse import WheelKey
from tests.stand_in_wheels import mmcv_wheel

T4_KEY = WheelKey("2.1.0", "cp312", "2.10.0+cu128", "12.8", "7.5")
CPU_OPS_KEY = WheelKey("2.1.0", "cp312", "2.10.0+cu128", "12.8", ops="cpu")


def _entry(folder, wheel, key: WheelKey, **manifest):
    """A wheelhouse entry written as an attacker or an old MapSage would: the manifest says what
    it likes."""
    folder.mkdir(parents=True)
    shutil.copy(wheel, folder / wheel.name)
    data = {**key.__dict__, "wheel": wheel.name, "sha256": wheelhouse.sha256(wheel), **manifest}
    (folder / wheelhouse.MANIFEST).write_text(json.dumps(data))
    return folder / wheel.name


def test_the_key_of_cpu_ops_for_a_cuda_torch_says_so():
    assert CPU_OPS_KEY.slug == "mmcv2.1.0-cp312-torch2.10.0_cu128-cu128-cpu-ops"
    assert T4_KEY.slug == "mmcv2.1.0-cp312-torch2.10.0_cu128-cu128-sm75"
    assert T4_KEY.mismatch(CPU_OPS_KEY) == ["CPU-only ops (need CUDA ops)"]
    assert CPU_OPS_KEY.mismatch(T4_KEY) == [], "CUDA ops carry the CPU ones: they serve a CPU key"
    legacy = WheelKey("2.1.0", "cp311", "2.13.0+cpu", "cpu")
    assert legacy.ops == "cpu" and legacy.slug == "mmcv2.1.0-cp311-torch2.13.0_cpu-cpu"


def test_a_cpu_ops_wheel_labelled_as_a_cuda_build_is_refused(tmp_path):
    """Issue 19, item 3: a CPU-ops wheel (pip's cache served one to a FORCE_CUDA build) stored
    under a CUDA key: store refuses it, and one planted with such a manifest is not installed."""
    cpu_wheel = mmcv_wheel(tmp_path / "built", "cp312")
    with pytest.raises(MapSageError, match="CPU-only but the key says CUDA ops"):
        wheelhouse.store(cpu_wheel, T4_KEY, tmp_path / "house")
    assert not (tmp_path / "house").exists()
    _entry(tmp_path / "attached" / T4_KEY.slug, cpu_wheel, T4_KEY)
    hit, refused = wheelhouse.find(T4_KEY, [tmp_path / "attached"])
    assert hit is None and "its ops are CPU-only but the key says CUDA ops" in refused[0]


def test_cuda_code_for_other_gpus_is_refused_and_ptx_for_older_ones_serves(tmp_path):
    p100_only = mmcv_wheel(tmp_path / "p100", "cp312", cubins=[60])
    _entry(tmp_path / "house" / "a", p100_only, T4_KEY)
    hit, refused = wheelhouse.find(T4_KEY, [tmp_path / "house"])
    assert hit is None and "no code for compute capability 7.5 (they carry sm_60)" in refused[0]
    ptx = mmcv_wheel(tmp_path / "ptx", "cp312", ptx=[70])
    entry = wheelhouse.store(ptx, T4_KEY, tmp_path / "good")
    assert wheelhouse.find(T4_KEY, [tmp_path / "good"])[0] == entry


def test_cuda_code_in_a_wheel_keyed_cpu_ops_is_refused(tmp_path):
    cuda_wheel = mmcv_wheel(tmp_path / "built", "cp312", cubins=[75])
    with pytest.raises(MapSageError, match=r"carry CUDA code \(sm_75\) but the key says CPU"):
        wheelhouse.store(cuda_wheel, CPU_OPS_KEY, tmp_path / "house")


def test_a_wheel_without_compiled_ops_is_refused(tmp_path):
    lite = mmcv_wheel(tmp_path / "built", "cp312", with_ops=False)
    with pytest.raises(MapSageError, match="no compiled ops"):
        wheelhouse.store(lite, CPU_OPS_KEY, tmp_path / "house")


@pytest.mark.parametrize("manifest", [
    "{not json", "[1, 2]", json.dumps({"name": "some other tool's manifest"}),
    json.dumps({**T4_KEY.__dict__, "wheel": "../../outside/mmcv-2.1.0-cp312-x.whl",
                "sha256": "0" * 64}),
    json.dumps({**T4_KEY.__dict__, "wheel": "/abs/mmcv-2.1.0-cp312-x.whl", "sha256": "0" * 64}),
    json.dumps({**T4_KEY.__dict__, "wheel": "mmcv.whl", "sha256": 5}),
], ids=["not-json", "a-list", "unrelated", "leaves-folder", "absolute", "bad-sha"])
def test_foreign_or_malformed_manifests_are_skipped_and_named(tmp_path, manifest):
    folder = tmp_path / "input" / "some-dataset"
    folder.mkdir(parents=True)
    (folder / wheelhouse.MANIFEST).write_text(manifest)
    good = wheelhouse.store(mmcv_wheel(tmp_path / "built", "cp312", cubins=[75]), T4_KEY,
                            tmp_path / "input" / "wheels")
    hit, refused = wheelhouse.find(T4_KEY, [tmp_path / "input"])
    assert hit == good
    assert len(refused) == 1 and str(folder / wheelhouse.MANIFEST) in refused[0]
    assert "(skipped)" in refused[0]


def test_the_real_cached_wheel_holds_what_its_key_says():
    """The wheel provisioning built or found for this environment (CPU ops: no GPU here)."""
    from mapsage.provision import mmcv as provision

    facts = provision.probe_torch()
    key = provision.wheel_key(facts, provision.ops_target(facts))
    hit, refused = wheelhouse.find(key, [wheelhouse.default_root()])
    assert hit is not None, refused
    assert wheelhouse.compiled_archs(hit.wheel) == []
    assert wheelhouse.ops_problems(hit.wheel, T4_KEY) == [
        "its ops are CPU-only but the key says CUDA ops"]


def test_a_planted_wheel_anywhere_under_kaggle_input_is_not_installed(tmp_path, monkeypatch):
    """Issue 20: a data set attached to the notebook holds an mmcv wheel and a manifest claiming
    this session's exact key with the wheel's true sha256. Nobody vouched for it: provisioning
    plans a build, naming the refusal; vouched for by sha256, it is installed."""
    from mapsage.provision import mmcv as provision
    from mapsage.provision.mmcv import TorchFacts

    facts = TorchFacts("2.10.0+cu128", "12.8", (), "3.12")
    target = provision.ops_target(facts, provision.Toolkit(None, None), {})
    root = tmp_path / "kaggle"
    planted = wheelhouse.store(mmcv_wheel(tmp_path / "built", "cp312"),
                               provision.wheel_key(facts, target),
                               root / "input" / "public-loveda-copy" / "extras")
    (root / "working").mkdir()
    monkeypatch.setenv("MAPSAGE_KAGGLE_ROOT", str(root))
    monkeypatch.setenv("MAPSAGE_WHEELHOUSE", str(tmp_path / "house"))
    monkeypatch.delenv("MAPSAGE_TRUSTED_WHEELS", raising=False)
    steps, notes = provision.plan(facts, target, installed=(False, "fresh image"),
                                  roots=provision.search_roots(), jobs=1,
                                  build_dir=tmp_path / "b", python="python",
                                  attached=provision.attached_inputs())
    assert steps[-1].strategy == "source"
    assert any(str(planted.wheel) in n and "nobody vouched for" in n for n in notes), notes
    monkeypatch.setenv("MAPSAGE_TRUSTED_WHEELS", planted.sha256)
    steps, _ = provision.plan(facts, target, installed=(False, "fresh image"),
                              roots=provision.search_roots(), jobs=1, build_dir=tmp_path / "c",
                              python="python", attached=provision.attached_inputs())
    assert [s.strategy for s in steps] == ["wheelhouse"]


def test_storing_a_wheel_never_writes_through_a_link(tmp_path):
    """Issue 20's class: every name store() writes (the wheel, manifest.json, the Kaggle
    metadata) planted as a link to a victim outside; the victims are untouched."""
    wheel = mmcv_wheel(tmp_path / "built", "cp312")
    folder = tmp_path / "house" / CPU_OPS_KEY.slug
    folder.mkdir(parents=True)
    victims = []
    for name in (wheel.name, wheelhouse.MANIFEST, wheelhouse.KAGGLE_METADATA):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (folder / name).symlink_to(victim)
        victims.append(victim)
    entry = wheelhouse.store(wheel, CPU_OPS_KEY, tmp_path / "house")
    assert all(v.read_text() == "precious" for v in victims)
    assert not entry.wheel.is_symlink() and wheelhouse.find(CPU_OPS_KEY, [tmp_path / "house"])[0]
