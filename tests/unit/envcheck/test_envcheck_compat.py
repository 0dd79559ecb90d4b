"""The compatibility table's public helpers, the hand-written PEP 440 comparator, and the
remedy commands other MapSage code reuses."""

from __future__ import annotations

import pytest

from envcheck import compat
from envcheck.compat import PREBUILT, arch_runs_on, prebuilt_mmcv_index_url, torch_cuda_arch_list
from envcheck.facts import read_pins
from envcheck.remedies import mmcv_source_build_command
from envcheck.version import InvalidVersion, Specifier, SpecifierSet, parse, satisfies


@pytest.mark.parametrize("lower,higher", [
    ("2.0.0rc4", "2.0.0"), ("2.0.0rc1", "2.0.0rc4"), ("2.0.0", "2.1.0"), ("2.1.0", "2.2.0"),
    ("2.2.0rc1", "2.2.0"), ("1.0.dev0", "1.0a0"), ("1.0a0", "1.0b1"), ("1.0b1", "1.0rc1"),
    ("1.0", "1.0.post1"), ("0.10.7", "0.10.10"), ("0.9.9", "0.10.0"), ("2.13.0", "2.13.0+cpu"),
    ("2.13.0+cpu", "2.13.0+cu121"), ("2.13.0+cu121", "2.13.0+1"), ("1!0.1", "2!0.0"),
])
def test_version_order(lower, higher):
    assert parse(lower) < parse(higher)
    assert not parse(higher) < parse(lower)


def test_version_equality_and_forms():
    assert parse("2.1") == parse("2.1.0") == parse("v2.1.0.0")
    assert parse("2.0.0RC4") == parse("2.0.0rc4") == parse("2.0.0-rc.4")
    assert parse("2.13.0+cpu").public == parse("2.13.0")
    assert parse("2.1.2+cu121").series() == "2.1"
    assert parse("1.0-1").post == 1
    with pytest.raises(InvalidVersion):
        parse("not.a.version")


@pytest.mark.parametrize("version,spec,expected", [
    ("2.1.0", ">=2.0.0rc4,<2.2.0", True),
    ("2.0.0rc4", ">=2.0.0rc4,<2.2.0", True),
    ("2.0.0rc3", ">=2.0.0rc4,<2.2.0", False),
    ("2.2.0", ">=2.0.0rc4,<2.2.0", False),
    ("2.2.0rc1", "<2.2.0", True),  # plain ordering, as mmseg's own check (documented)
    ("0.10.7", ">=0.5.0,<1.0.0", True),
    ("1.0.0rc0", ">=0.5.0,<1.0.0", True),
    ("2.6.0+cu124", ">=2.6", True),
    ("2.5.1+cu124", ">=2.6", False),
    ("0.10.7", "<=0.10.7", True),
    ("0.10.8", "<=0.10.7", False),
    ("2.13.0+cpu", "==2.13.0", True),
    ("2.13.0+cu126", "==2.13.0+cpu", False),
    ("2.13.0+cpu", "==2.13.0+cpu", True),
    ("2.1.2", "==2.1.*", True),
    ("2.2.0", "==2.1.*", False),
    ("2.2.0", "!=2.1.*", True),
    ("1.2.5", "~=1.2.2", True),
    ("1.3.0", "~=1.2.2", False),
    ("82.0.0", ">=82", True),
    ("81.0.0", ">=82", False),
    ("81.0.0", "!=81.0.0", False),
])
def test_specifiers(version, spec, expected):
    assert SpecifierSet.parse(spec).contains(version) is expected


def test_specifier_errors_and_unparsable_versions():
    with pytest.raises(InvalidVersion):
        Specifier.parse(">=2.*")
    with pytest.raises(InvalidVersion):
        Specifier.parse("about 2")
    assert satisfies(None, ">=1") is None
    assert satisfies("weird-version!", ">=1") is None


@pytest.mark.parametrize("mmcv,torch,cuda,python,url", [
    ("2.1.0", "2.1.2+cu121", "12.1", "3.11",
     "https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html"),
    ("2.1.0", "2.1.0", "11.8", "3.10",
     "https://download.openmmlab.com/mmcv/dist/cu118/torch2.1/index.html"),
    ("2.1.0", "2.0.1+cu117", "11.7", "3.8",
     "https://download.openmmlab.com/mmcv/dist/cu117/torch2.0/index.html"),
    ("2.1.0", "2.1.0+cpu", None, "3.11",
     "https://download.openmmlab.com/mmcv/dist/cpu/torch2.1/index.html"),
    ("2.1.0", "2.1.0+cpu", "cpu", "3.11",
     "https://download.openmmlab.com/mmcv/dist/cpu/torch2.1/index.html"),
    ("2.2.0", "2.4.1+cu121", "12.1", "3.11",
     "https://download.openmmlab.com/mmcv/dist/cu121/torch2.4/index.html"),
    ("2.1.0", "2.2.0+cu121", "12.1", "3.11", None),  # 2.1.0 stops at torch 2.1
    ("2.1.0", "2.1.2+cu121", "12.4", "3.11", None),  # no cu124 build
    ("2.1.0", "2.0.1+cu121", "12.1", "3.11", None),  # torch 2.0 had no cu121 wheels
    ("2.1.0", "2.1.2+cu121", "12.1", "3.12", None),  # torch 2.1: no Python 3.12
    ("2.1.0", "2.13.0+cpu", None, "3.11", None),
    ("2.2.0", "2.5.1+cu124", "12.4", "3.11", None),  # 2.2.0 stops at torch 2.4
    ("2.0.1", "2.0.1+cu118", "11.8", "3.10", None),  # not in the table
])
def test_prebuilt_mmcv_index_url(mmcv, torch, cuda, python, url):
    assert prebuilt_mmcv_index_url(mmcv, torch, cuda, python=python, system="linux") == url


def test_prebuilt_wheels_are_linux_only():
    assert prebuilt_mmcv_index_url("2.1.0", "2.1.2", "12.1", python="3.11", system="darwin") is None
    assert all(row.system == "linux" for row in PREBUILT)


def test_torch_cuda_arch_list():
    assert torch_cuda_arch_list([(7, 5)]) == "7.5"
    assert torch_cuda_arch_list([(7, 5), (6, 0)]) == "6.0;7.5"
    assert torch_cuda_arch_list([(7, 5), (7, 5)]) == "7.5"
    assert torch_cuda_arch_list([(8, 6), (12, 0)]) == "8.6;12.0"
    assert torch_cuda_arch_list([]) == ""


@pytest.mark.parametrize("archs,capability,runs", [
    (["sm_75"], (7, 5), True),
    (["sm_70"], (7, 5), True),   # cubins run on later minors of the same major
    (["sm_80"], (7, 5), False),
    (["sm_75"], (8, 0), False),  # ...but not on another major
    (["compute_70"], (8, 6), True),  # PTX is JIT-compiled for newer GPUs
    (["compute_80"], (7, 5), False),
    (["sm_90a"], (9, 0), True),
    (["sm_90a"], (10, 0), False),
    (["sm_100", "sm_120"], (12, 0), True),
    ([], (7, 5), False),
])
def test_arch_runs_on(archs, capability, runs):
    assert arch_runs_on(archs, capability) is runs


def test_source_build_command_cuda():
    cmd = mmcv_source_build_command("2.1.0", "7.5", 2)
    assert cmd.startswith('pip install "setuptools<82" && TORCH_CUDA_ARCH_LIST="7.5" '
                          "MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS=2 pip wheel --no-build-isolation "
                          "--no-deps")
    assert "mmcv==2.1.0" in cmd and cmd.endswith("mmcv-2.1.0-*.whl")


def test_source_build_command_cpu_and_options():
    cmd = mmcv_source_build_command("2.1.0", None, 4, pip="/v/bin/python -m pip")
    assert "MMCV_WITH_OPS=1 MAX_JOBS=4 /v/bin/python -m pip wheel" in cmd
    assert "FORCE_CUDA" not in cmd and "TORCH_CUDA_ARCH_LIST" not in cmd
    every_arch = mmcv_source_build_command("2.1.0", None, 2, cuda=True)
    assert "FORCE_CUDA=1" in every_arch and "TORCH_CUDA_ARCH_LIST" not in every_arch


def test_fallback_pins_match_the_lock(repo_root):
    pins = read_pins(repo_root / "requirements-lock.txt")
    for name, version in compat.FALLBACK_PINS.items():
        assert pins[name] == version, f"compat.FALLBACK_PINS[{name!r}] differs from the lock"
    assert "mmcv" not in pins  # provisioned separately: compat.PROJECT_MMCV is the pin


def test_table_rows_are_well_formed():
    from envcheck.rules import CONDITIONS, FINDING_IDS
    from envcheck.version import SpecifierSet as S

    for row in compat.REQUIRES:
        S.parse(row.versions), S.parse(row.needs_versions)
        assert row.id in FINDING_IDS
    for row in compat.BREAKAGES:
        for _, spec in row.when:
            S.parse(spec)
        assert row.id in FINDING_IDS and (row.relaxed_if is None or row.relaxed_if in CONDITIONS)
    for row in PREBUILT:
        parse(row.mmcv)
        assert all(c == "cpu" or parse(c) for c in row.cuda)
