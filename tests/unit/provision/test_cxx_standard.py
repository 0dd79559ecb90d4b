"""The C++ standard of the mmcv source build: decided from torch's own ATen.h, applied by patching
mmcv 2.1.0's real setup.py (tests/fixtures/mmcv-2.1.0-setup.py.txt is that file, unchanged)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from envcheck.ops_target import Toolkit
from mapsage.provision import cxx_standard, sdist, wheelhouse
from mapsage.provision import mmcv as provision
from mapsage.provision.cxx_standard import PatchError, patch_setup_py, required_standard
from mapsage.provision.mmcv import TorchFacts
from tests.stand_in_wheels import mmcv_wheel

SETUP_PY = Path(__file__).resolve().parents[2] / "fixtures" / "mmcv-2.1.0-setup.py.txt"
# The requirement lines of torch 2.14.1's include/ATen/ATen.h (CUDA 13.0 wheel), verbatim.
TORCH_214_ATEN = ("#if !defined(_MSC_VER) && __cplusplus < 202002L\n"
                  "#error C++20 or later compatible compiler is required to use ATen.\n")
LOCAL_TORCH_214 = sorted(Path("/opt/pypi-more/files").glob("torch-2.14.1-*.whl"))


def test_this_machines_torch_needs_cpp17_so_the_build_is_not_patched():
    facts = provision.probe_torch()
    assert facts.torch.startswith("2.13")
    assert facts.aten_header and "201703L" in facts.aten_header, "read from the installed ATen.h"
    standard, why = facts.cxx_requirement()
    assert standard == "c++17" and "ATen.h" in why
    assert not cxx_standard.needs_patch(standard)
    steps = provision.source_steps(facts, provision.ops_target(facts), 2, Path("/tmp/build"))
    commands = [" ".join(s.command) for s in steps]
    assert not any("download" in c or "mapsage.provision.sdist" in c for c in commands)
    assert commands[-1].endswith("--no-binary mmcv --require-hashes -w /tmp/build "
                                 "-r /tmp/build/requirements/mmcv-sdist.txt"), \
        "torch 2.13 builds from the index's sdist (hash-checked) unpatched"


def test_torch_214_header_requires_cpp20():
    assert cxx_standard.standard_from_header(TORCH_214_ATEN) == "c++20"
    assert required_standard("2.14.1", TORCH_214_ATEN)[0] == "c++20"


@pytest.mark.skipif(not LOCAL_TORCH_214, reason="torch 2.14.1 wheel not on this machine's disk")
def test_header_inside_the_real_torch_214_wheel_requires_cpp20():
    with zipfile.ZipFile(LOCAL_TORCH_214[0]) as wheel:
        header = wheel.read("torch/" + cxx_standard.ATEN_HEADER).decode()
    assert cxx_standard.standard_from_header(header) == "c++20"


@pytest.mark.parametrize(("version", "standard"), [
    ("2.10.0+cu128", "c++17"), ("2.13.0+cpu", "c++17"), ("2.14.1", "c++20"),
    ("2.15.0.dev20260101+cu130", "c++20"), ("3.0.0", "c++20")])
def test_version_decides_only_without_a_readable_header(version, standard):
    assert required_standard(version, None)[0] == standard
    assert required_standard(version, "// no requirement stated")[0] == standard
    assert required_standard(version, TORCH_214_ATEN)[0] == "c++20", "the header wins"


def test_patch_raises_both_flags_of_the_real_setup_py():
    original = SETUP_PY.read_text()
    patched, changes = patch_setup_py(original, "c++20")
    assert len(changes) == 2
    assert "extra_compile_args['cxx'] = ['-std=c++20']" in patched
    assert "extra_compile_args['nvcc'] += ['-std=c++20']" in patched
    for line in cxx_standard.SETUP_PY_LINES:
        assert line not in patched
    compile(patched, "setup.py", "exec")  # still valid Python
    changed = [(a, b) for a, b in zip(original.splitlines(), patched.splitlines(), strict=True)
               if a != b]
    assert len(changed) == 2, "nothing else in setup.py changes"


@pytest.mark.parametrize("damage", ["remove", "duplicate"])
def test_patch_refuses_a_setup_py_it_was_not_written_for(damage):
    text = SETUP_PY.read_text()
    line = cxx_standard.SETUP_PY_LINES[1]
    text = text.replace(line, "pass") if damage == "remove" else text.replace(line, line + "; " + line)
    with pytest.raises(PatchError, match="not the mmcv 2.1.0 setup.py"):
        patch_setup_py(text, "c++20")


def test_sdist_step_unpacks_patches_and_records(tmp_path):
    sdist_dir = tmp_path / "sdist"
    sdist_dir.mkdir()
    with tarfile.open(sdist_dir / "mmcv-2.1.0.tar.gz", "w:gz") as archive:
        archive.add(SETUP_PY, arcname="mmcv-2.1.0/setup.py")
    proc = subprocess.run([sys.executable, "-m", "mapsage.provision.sdist", str(sdist_dir),
                           str(tmp_path / "src"), "--standard", "c++20"],
                          capture_output=True, text=True, check=True)
    tree = tmp_path / "src" / "mmcv-2.1.0"
    assert "-std=c++20" in (tree / "setup.py").read_text()
    record = json.loads((tree / sdist.PATCH_RECORD).read_text())
    assert record["cxx_standard"] == "c++20" and len(record["setup_py_patch"]) == 2
    assert "-> extra_compile_args['nvcc'] += ['-std=c++20']" in proc.stdout
    facts = TorchFacts("2.14.1", "13.0", (), "3.11", TORCH_214_ATEN)
    built = provision.build_record(facts, tmp_path)
    assert built["setup_py_patch"] == record["setup_py_patch"]
    assert "ATen.h requires c++20" in built["cxx_standard_reason"]


def test_sdist_step_refuses_a_missing_download(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mapsage.provision.sdist", str(tmp_path),
                           str(tmp_path / "src"), "--standard", "c++20"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "expected one mmcv-*.tar.gz" in proc.stderr


def test_torch_214_plan_downloads_patches_and_builds_from_the_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "7.5")
    facts = TorchFacts("2.14.1", "13.0", (), "3.11", TORCH_214_ATEN)
    target = provision.ops_target(facts, Toolkit("nvcc", "13.0"))
    steps, _ = provision.plan(facts, target, installed=(False, "fresh"), roots=[tmp_path],
                              jobs=2, build_dir=tmp_path, python=sys.executable)
    commands = [s.command for s in steps]
    assert commands[1][-3:] == ["pip", "install", "ninja"]
    assert commands[2][2:5] == ["pip", "download", "--no-binary"]
    assert commands[3][1:3] == ["-m", "mapsage.provision.sdist"] and "c++20" in commands[3]
    build = steps[-1]
    assert build.command[-1] == str(tmp_path / "src" / "mmcv-2.1.0")
    assert build.env["FORCE_CUDA"] == "1" and build.env["TORCH_CUDA_ARCH_LIST"] == "7.5"
    assert build.env["PATH"].split(":")[0] == str(Path(sys.executable).parent), "ninja on PATH"
    assert provision.wheel_key(facts, target).arch_list == "7.5"


@pytest.mark.parametrize(("cpus", "free_gb", "cuda", "jobs"), [
    (2, 22.0, True, 2), (4, 4.0, True, 2), (4, 4.0, False, 4), (4, 0.5, True, 1),
    (8, 6.0, False, 6)])
def test_compile_jobs_are_capped_by_free_memory(cpus, free_gb, cuda, jobs):
    assert provision.build_jobs(cpus, int(free_gb * provision.GB), cuda)[0] == jobs


def test_compile_jobs_without_meminfo_use_the_cpus():
    assert provision.build_jobs(3, None, True) == (3, "3 CPUs (free RAM unknown)")
    assert provision.memory_available() > 0  # /proc/meminfo on this machine


def test_manifest_records_the_build(tmp_path):
    wheel = mmcv_wheel(tmp_path / "built", "cp311", cubins=[75])
    key = wheelhouse.WheelKey("2.1.0", "cp311", "2.14.1", "13.0", "7.5")
    record = {"cxx_standard": "c++20", "setup_py_patch": ["setup.py: a -> b"]}
    entry = wheelhouse.store(wheel, key, tmp_path / "house", build=record)
    manifest = json.loads((entry.wheel.parent / wheelhouse.MANIFEST).read_text())
    assert manifest["build"] == record
    hit, _ = wheelhouse.find(key, [tmp_path / "house"])
    assert hit is not None and hit.sha256 == entry.sha256
