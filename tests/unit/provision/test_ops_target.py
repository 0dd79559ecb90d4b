"""The decision table of envcheck.ops_target, a test per row, and the plan provisioning makes
from each row (issue 19): CPU ops without a GPU even for a CUDA torch, CUDA ops only with a
toolkit of torch's CUDA major, a refusal naming the fix before anything is downloaded, never
"every architecture of torch".

The toolkits are ``Toolkit`` facts, or (for finding one) a stand-in ``nvcc`` script that prints
what a real nvcc prints: a CUDA 12 toolkit cannot exist on this machine (PyPI's -cu12 nvcc wheels
carry only ptxas)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from envcheck.ops_target import Toolkit, decide, find_toolkit, parse_arch_list
from mapsage.errors import MapSageError
from mapsage.provision import dependencies
from mapsage.provision import mmcv as provision
from mapsage.provision.mmcv import TorchFacts

NVCC_128 = Toolkit("/usr/local/cuda/bin/nvcc", "12.8", "/usr/local/cuda")
NVCC_130 = Toolkit("/usr/local/cuda/bin/nvcc", "13.0", "/usr/local/cuda")
NO_NVCC = Toolkit(None, None)
T4, P100 = (7, 5), (6, 0)


def test_cpu_torch_gets_cpu_ops_whatever_else_is_there():
    target = decide(None, [], NVCC_130, "7.5")
    assert (target.ops, target.arch_list, target.row) == ("cpu", "", "cpu-torch")
    assert target.buildable


def test_gpu_and_matching_toolkit_build_cuda_ops_for_the_gpus_seen():
    target = decide("12.8", [T4, P100, T4], NVCC_128, None)
    assert (target.ops, target.arch_list, target.row) == ("cuda", "6.0;7.5", "gpu")
    assert target.buildable


def test_gpu_with_arch_list_builds_for_the_list():
    target = decide("12.8", [T4], NVCC_128, "8.9 7.5;6.0")
    assert (target.ops, target.arch_list) == ("cuda", "6.0;7.5;8.9")


@pytest.mark.parametrize("toolkit", [NO_NVCC, NVCC_130], ids=["no-nvcc", "nvcc-13"])
def test_gpu_without_a_matching_toolkit_is_refused_with_the_remedy(toolkit):
    target = decide("12.8", [T4], toolkit, None)
    assert target.ops == "cuda" and not target.buildable
    assert target.row == "gpu-no-toolkit"
    text = target.refusal()
    assert "CUDA 12.x nvcc" in text and "CUDA 12.8" in text and "CUDA_HOME" in text
    assert "complete only for CUDA 13" in text  # PyPI has no CUDA 12 nvcc
    if toolkit.nvcc:
        assert "nvcc 13.0 at /usr/local/cuda/bin/nvcc" in text
        assert "torch built for CUDA 13" in text
    else:
        assert "no nvcc was found" in text


def test_cuda_13_torch_remedy_names_pypis_toolkit_wheels():
    text = decide("13.0", [T4], NO_NVCC, None).refusal()
    assert "cuda-toolkit[nvcc," in text and "==13.0.*" in text


def test_no_gpu_with_arch_list_and_toolkit_builds_cuda_ops_for_the_list():
    target = decide("13.0", [], NVCC_130, "7.5")
    assert (target.ops, target.arch_list, target.row) == ("cuda", "7.5", "no-gpu-arch-list")
    assert target.buildable


def test_no_gpu_with_arch_list_but_no_toolkit_is_refused():
    target = decide("12.8", [], NVCC_130, "7.5")
    assert not target.buildable and target.row == "no-gpu-arch-list-no-toolkit"
    assert "unset TORCH_CUDA_ARCH_LIST to build CPU ops" in target.refusal()


@pytest.mark.parametrize("toolkit", [NO_NVCC, NVCC_130, NVCC_128])
def test_no_gpu_and_no_arch_list_gets_cpu_ops_even_for_a_cuda_torch(toolkit):
    target = decide("12.8", [], toolkit, "")
    assert (target.ops, target.arch_list, target.row) == ("cpu", "", "no-gpu")
    assert target.buildable and "sees no GPU" in target.why


def test_a_malformed_arch_list_is_refused_naming_it():
    target = decide("12.8", [T4], NVCC_128, "7.5;all")
    assert not target.buildable and "'7.5;all'" in target.refusal() and "all" in target.problem
    assert parse_arch_list("8.6+PTX 7.5") == ("7.5;8.6+PTX", [])


# --- finding the toolkit as torch does -------------------------------------------------------

def _stand_in_nvcc(folder: Path, release: str) -> Path:
    """A script that answers ``--version`` as nvcc does (no CUDA 12 toolkit exists here)."""
    nvcc = folder / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text("#!/bin/sh\necho 'nvcc: NVIDIA (R) Cuda compiler driver'\n"
                    f"echo 'Cuda compilation tools, release {release}, V{release}.93'\n")
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IXUSR)
    return nvcc


def test_cuda_home_wins_over_path_as_in_torchs_cpp_extension(tmp_path):
    home = tmp_path / "cuda-12.8"
    nvcc = _stand_in_nvcc(home, "12.8")
    other = _stand_in_nvcc(tmp_path / "other", "13.0")
    found = find_toolkit({"CUDA_HOME": str(home)}, which=lambda _: str(other))
    assert found == Toolkit(str(nvcc), "12.8", "$CUDA_HOME")
    found = find_toolkit({}, which=lambda _: str(other))
    assert found == Toolkit(str(other), "13.0", "PATH")
    missing = find_toolkit({"CUDA_HOME": str(tmp_path / "nowhere")}, which=lambda _: str(other))
    assert missing.nvcc is None and missing.found_by == "$CUDA_HOME"


# --- the plans provisioning makes from the rows ----------------------------------------------

def _plan(facts, target, tmp_path):
    return provision.plan(facts, target, installed=(False, "absent"), roots=[tmp_path], jobs=2,
                          build_dir=tmp_path / "out", python="/usr/bin/python3")


def test_cuda_torch_without_gpu_plans_a_cpu_ops_build_keyed_cpu_ops(tmp_path):
    facts = TorchFacts("2.13.0", "13.0", (), "3.11")
    target = provision.ops_target(facts, NO_NVCC, {})
    steps, notes = _plan(facts, target, tmp_path)
    build = steps[-1]
    assert "FORCE_CUDA" not in build.env and "TORCH_CUDA_ARCH_LIST" not in build.env
    assert "CPU ops, though torch is a CUDA 13.0 build" in build.description
    assert any("sees no GPU" in n for n in notes)
    key = provision.wheel_key(facts, target)
    assert key.ops == "cpu" and key.slug == "mmcv2.1.0-cp311-torch2.13.0-cu130-cpu-ops"


def test_source_builds_skip_pips_wheel_cache_and_check_the_sdists_hash(tmp_path):
    facts = TorchFacts("2.10.0+cu128", "12.8", (T4,), "3.12")
    steps, _ = _plan(facts, provision.ops_target(facts, NVCC_128, {}), tmp_path)
    build = steps[-1]
    assert "--no-cache-dir" in build.command and "--require-hashes" in build.command
    requirement = Path(build.command[build.command.index("-r") + 1]).read_text()
    assert requirement.startswith("mmcv==2.1.0 --hash=sha256:")
    assert build.env["TORCH_CUDA_ARCH_LIST"] == "7.5" and build.env["FORCE_CUDA"] == "1"


def test_a_refused_row_stops_the_plan_before_any_step(tmp_path):
    facts = TorchFacts("2.10.0+cu128", "12.8", (T4,), "3.12")
    target = provision.ops_target(facts, NVCC_130, {})
    with pytest.raises(MapSageError, match="CUDA 12.x nvcc") as err:
        _plan(facts, target, tmp_path)
    assert "Traceback" not in str(err.value)
    assert not (tmp_path / "out").exists(), "nothing written or downloaded"


def test_never_all_architectures_of_torch(tmp_path):
    for caps, env in (((T4,), {}), ((), {"TORCH_CUDA_ARCH_LIST": "6.0"})):
        facts = TorchFacts("2.10.0+cu128", "12.8", caps, "3.12")
        steps, _ = _plan(facts, provision.ops_target(facts, NVCC_128, env), tmp_path)
        assert steps[-1].env.get("TORCH_CUDA_ARCH_LIST"), "every CUDA build names its archs"
        assert "all of torch" not in steps[-1].description


def test_provision_refuses_through_the_cli_before_installing_anything(tmp_path, monkeypatch,
                                                                      capsys):
    """`python -m mapsage.provision --with-deps` with a CUDA 12.8 torch, TORCH_CUDA_ARCH_LIST set
    and a CUDA 13 toolkit (the Kaggle-image stand-in on this machine): refused with the remedy,
    exit 2, no traceback, and no dependency installed first. torch's facts are given (this
    environment's torch is a CPU build); the toolkit is a stand-in nvcc found through CUDA_HOME."""
    home = tmp_path / "cuda-13.0"
    _stand_in_nvcc(home, "13.0")
    monkeypatch.setenv("CUDA_HOME", str(home))
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "7.5")
    monkeypatch.setenv("MAPSAGE_WHEELHOUSE", str(tmp_path / "house"))
    monkeypatch.setattr(provision, "probe_torch",
                        lambda python=None: TorchFacts("2.10.0+cu128", "12.8", (), "3.12"))
    monkeypatch.setattr(provision, "installed_mmcv", lambda python=None, target=None:
                        (False, "absent"))
    installed = []
    monkeypatch.setattr(dependencies, "install_dependencies", lambda **kw: installed.append(kw))
    code = provision.main(["--with-deps"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "CUDA 12.x nvcc" in err and f"nvcc 13.0 at {home}/bin/nvcc" in err
    assert "unset TORCH_CUDA_ARCH_LIST" in err
    assert installed == [], "the refusal comes before the dependencies"
    assert not (tmp_path / "house").exists()


def test_installed_cpu_ops_do_not_serve_a_gpu_target():
    """This environment's mmcv has CPU ops (no GPU here): usable for the CPU row, refused for a
    CUDA target (a GPU session must never run CPU-only ops)."""
    cuda = decide("12.8", [T4], NVCC_128, None)
    ok, why = provision.installed_mmcv(None, cuda)
    assert not ok and "CPU-only ops" in why
    assert provision.installed_mmcv(None, decide(None, [], NO_NVCC, None))[0]


def _torch_install(folder: Path, cuda: str | None) -> object:
    """What the first checks read of an installed torch, without importing it: its
    torch/version.py (as a CUDA build of torch ships it). A find_spec stand-in points there."""
    import importlib.machinery

    package = folder / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "version.py").write_text(
        "from typing import Optional\n__version__ = '2.10.0+cu128'\n"
        f"cuda: Optional[str] = {cuda!r}\n")
    spec = importlib.machinery.ModuleSpec("torch", None, origin=str(package / "__init__.py"))
    return lambda name: spec if name == "torch" else None


def test_first_checks_stop_a_gpu_session_whose_toolkit_cannot_build_in_seconds(tmp_path):
    """Issue 19: on an image with a CUDA 12.8 torch, a T4 and a CUDA 13 nvcc, the Kaggle first
    checks (standard library, before anything is installed) name the mismatch and the fix."""
    from envcheck.kaggle import toolkit_check

    home = tmp_path / "cuda-13.0"
    _stand_in_nvcc(home, "13.0")
    find_spec = _torch_install(tmp_path / "site", "12.8")
    check = toolkit_check([("Tesla T4", "7.5")], {"CUDA_HOME": str(home)}, find_spec)
    assert check.severity == "error"
    assert "CUDA 12.x nvcc" in check.detail and f"nvcc 13.0 at {home}/bin/nvcc" in check.detail
    no_gpu = toolkit_check([], {"CUDA_HOME": str(home)}, find_spec)
    assert no_gpu.severity == "ok" and "CPU ops" in no_gpu.detail
    matching = tmp_path / "cuda-12.8"
    _stand_in_nvcc(matching, "12.8")
    ok = toolkit_check([("Tesla T4", "7.5")], {"CUDA_HOME": str(matching)}, find_spec)
    assert ok.severity == "ok" and "CUDA 12.8 ops for 7.5" in ok.detail
    cpu = toolkit_check([], {}, _torch_install(tmp_path / "cpu", None))
    assert cpu.severity == "ok" and "CPU build" in cpu.detail


def test_python_313_is_refused_before_any_download_with_the_reason(tmp_path):
    """Measured in the every-Python run: on Python 3.13, pip cannot even read mmcv 2.1.0's
    sdist metadata (its setup.py's exec()/locals() version lookup, PEP 667). The plan refuses
    it, naming the Pythons that work, before anything is downloaded."""
    facts = TorchFacts("2.13.0", "13.0", (), "3.13")
    with pytest.raises(MapSageError, match="PEP 667") as err:
        _plan(facts, provision.ops_target(facts, NO_NVCC, {}), tmp_path)
    assert "Python 3.10-3.12" in str(err.value)
    assert not (tmp_path / "out").exists()
    facts_312 = TorchFacts("2.13.0", "13.0", (), "3.12")
    steps, _ = _plan(facts_312, provision.ops_target(facts_312, NO_NVCC, {}), tmp_path)
    assert steps[-1].strategy == "source"
