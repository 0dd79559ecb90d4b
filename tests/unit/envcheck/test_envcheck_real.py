"""envcheck against real environments: this project's, a crashing or hanging import, a module
swapped in sys.modules, a real CUDA fat binary, a scratch venv with mmcv-lite, and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

import envcheck
from envcheck import fatbin, kaggle
from envcheck.facts import detect_platform, find_lock, gather_static, read_pins

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, cwd: Path = ROOT, python: str = sys.executable, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([python, "-m", "envcheck", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def test_import_uses_only_the_standard_library():
    # envcheck's one project import is mapsage.errors (stdlib-only: the one exception hierarchy)
    code = textwrap.dedent("""
        import sys
        before = set(sys.modules)
        import envcheck, envcheck.__main__
        new = set(sys.modules) - before
        allowed = {"envcheck", "mapsage", "mapsage.errors"}
        print(sorted(m for m in new if m.split(".")[0] not in sys.stdlib_module_names
                     and m.split(".")[0] != "envcheck" and m not in allowed))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_project_environment_has_no_errors_and_reports_its_timings():
    proc = run_cli("--json", "--work-dir", str(ROOT))
    report = json.loads(proc.stdout)
    assert report["findings"] is not None
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors == [], json.dumps(errors, indent=2)
    assert proc.returncode == 0
    facts = report["facts"]
    assert facts["mmcv"]["ext_loaded"] and facts["mmcv"]["version"] == "2.1.0"
    # PyPI's CUDA wheel says 2.13.0 in its metadata and 2.13.0+cu130 in torch.__version__
    assert facts["torch"]["version"].split("+")[0] == facts["dists"]["torch"].split("+")[0]
    # speed is measured by bench/bench_preflight.py, never asserted here (a loaded machine)
    assert set(report["timings"]) >= {"static_s", "probe_s", "rules_s", "total_s"}


def test_swapped_module_is_reported_as_stale(monkeypatch):
    import mmengine  # the real one, installed on disk

    fake = types.ModuleType("mmengine")
    fake.__version__ = "0.9.1"
    fake.__file__ = "/somewhere/old/mmengine/__init__.py"
    monkeypatch.setitem(sys.modules, "mmengine", fake)  # restored by monkeypatch
    report = envcheck.run("kaggle", facts=gather_static(ROOT))
    stale = [f for f in report.findings if f.id == "stale.import"]
    assert len(stale) == 1 and stale[0].severity == "error"
    assert f"mmengine 0.9.1 is imported, mmengine {mmengine.__version__} is installed" \
        in stale[0].found
    assert "Restart the kernel (Run > Restart & clear cell outputs)" in stale[0].remedy.summary


def test_same_version_reinstalled_after_import_is_stale(monkeypatch, tmp_path):
    import mmengine

    # a fresh mmengine .dist-info first on sys.path: what `pip install --force-reinstall` leaves
    info = tmp_path / f"mmengine-{mmengine.__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: mmengine\n"
                                   f"Version: {mmengine.__version__}\n")
    later = time.time() + 60
    os.utime(info, (later, later))
    monkeypatch.syspath_prepend(str(tmp_path))
    facts = gather_static(ROOT)
    assert facts.process_started is not None and facts.process_started < time.time()
    assert facts.installed_at["mmengine"] == pytest.approx(later)
    stale = [f for f in envcheck.run("local", facts=facts).findings if f.id == "stale.import"]
    assert [f.found for f in stale] == [
        f"mmengine {mmengine.__version__} is imported, but mmengine was (re)installed after this "
        "process started"]


def test_matching_imports_are_not_stale():
    import mmengine  # noqa: F401
    import numpy  # noqa: F401

    facts = gather_static(ROOT)
    assert {"mmengine", "numpy"} <= set(facts.imported)
    assert {"mmengine", "numpy"} <= set(facts.installed_at)
    assert "stale.import" not in {f.id for f in envcheck.run("local", facts=facts).findings}


def test_preflight_raises_with_errors_and_remedies(monkeypatch, capsys):
    fake = types.ModuleType("numpy")
    fake.__version__ = "1.0.0"
    monkeypatch.setitem(sys.modules, "numpy", fake)
    with pytest.raises(envcheck.PreflightError) as err:
        envcheck.preflight(work_dir=ROOT)
    message = str(err.value)
    assert "[stale.import] numpy 1.0.0 is imported" in message
    assert "Restart the kernel" in message
    assert err.value.report.errors
    assert "[✗] In-process imports" in capsys.readouterr().out


def _shadow(tmp_path: Path, module: str, code: str) -> Path:
    """A work dir whose ``module.py`` shadows the real package for the probe (cwd on sys.path,
    as in a notebook kernel)."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(code))
    return tmp_path


def test_crashing_import_is_reported_not_fatal(tmp_path):
    work = _shadow(tmp_path, "torch", "import ctypes\nctypes.string_at(0)  # segfault\n")
    report = envcheck.run("local", work_dir=work)
    crash = next(f for f in report.findings if f.id == "probe.crashed")
    assert "signal SIGSEGV while running `import torch`" in crash.found
    # faulthandler's stderr, innermost frame first
    assert "Fatal Python error: Segmentation fault" in crash.found
    assert f'File "{work / "torch.py"}", line 2' in crash.found
    assert crash.remedy.commands[0].endswith('-X faulthandler -c "import torch"')
    assert report.exit_code == 1
    # the probe ran again without the crashed step and learned the rest
    assert report.facts["probe"]["completed"] == ["mmengine"]
    assert report.facts["imports"]["mmengine"] == report.facts["dists"]["mmengine"]
    torch_line = next(c.label for c in report.checks if c.id == "torch")
    assert torch_line == f"torch {report.facts['dists']['torch']} (import crashed)"


def test_failing_import_names_the_error(tmp_path):
    work = _shadow(tmp_path, "mmseg", "raise ImportError('mmseg is broken here')\n")
    report = envcheck.run("local", work_dir=work)
    failed = next(f for f in report.findings if f.id == "mmseg.import-failed")
    assert failed.found == "`import mmseg` fails: ImportError: mmseg is broken here"


def test_fatbin_architectures_of_a_real_cuda_library(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed: no CUDA library can be compiled here")
    src = tmp_path / "k.cu"
    src.write_text('__global__ void k(float* x) { x[0] = 1; }\n'
                   'extern "C" void launch(float* x) { k<<<1, 1>>>(x); }\n')
    lib = tmp_path / "libk.so"
    subprocess.run([nvcc, "-shared", "-Xcompiler", "-fPIC", "-o", str(lib), str(src),
                    "-gencode", "arch=compute_75,code=sm_75",
                    "-gencode", "arch=compute_86,code=sm_86",
                    "-gencode", "arch=compute_80,code=compute_80"],
                   check=True, capture_output=True, timeout=300)
    assert fatbin.cuda_archs(lib) == ["sm_75", "compute_80", "sm_86"]


def test_fatbin_of_cpu_and_non_elf_files(tmp_path):
    import _ctypes

    assert fatbin.cuda_archs(_ctypes.__file__) == []  # an ELF extension without device code
    text = tmp_path / "not.so"
    text.write_text("hello")
    with pytest.raises(fatbin.NotAnElf):
        fatbin.cuda_archs(text)


def _loveda(root: Path, doubled: bool = False, splits=("Train", "Val")) -> None:
    for split in splits:
        base = root / split / split if doubled else root / split
        for domain in ("Urban", "Rural"):
            for sub in ("images_png", "masks_png"):
                (base / domain / sub).mkdir(parents=True)
                (base / domain / sub / "0.png").write_bytes(b"")


def test_kaggle_input_scan(tmp_path):
    root = tmp_path / "input"
    _loveda(root / "loveda" / "LoveDA")
    _loveda(root / "datasets" / "someone" / "loveda-doubled", doubled=True)
    _loveda(root / "half-loveda", splits=("Train",))
    (root / "weights" / "run1").mkdir(parents=True)
    (root / "weights" / "run1" / "best_mIoU_iter_8000.pth").write_bytes(b"")
    (root / "wheels" / "mmcv2.1.0-cp311").mkdir(parents=True)
    (root / "wheels" / "mmcv2.1.0-cp311" / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl").write_bytes(
        b"")
    (root / "tabular").mkdir()
    (root / "tabular" / "train.csv").write_text("a,b\n")
    found = {Path(i.path).name: i for i in kaggle.scan_inputs(root)}
    assert set(found) == {"loveda", "loveda-doubled", "half-loveda", "weights", "wheels"}
    assert found["loveda"].kinds == ["loveda"]
    assert found["loveda"].loveda_root == str(root / "loveda" / "LoveDA")
    assert found["loveda-doubled"].loveda_root == str(root / "datasets" / "someone" /
                                                      "loveda-doubled")
    assert "no Val split" in found["half-loveda"].detail
    assert found["weights"].kinds == ["checkpoint"]
    assert "run1/best_mIoU_iter_8000.pth" in found["weights"].detail
    assert found["wheels"].kinds == ["mmcv-wheel"]
    assert kaggle.scan_inputs(tmp_path / "missing") == []


def test_kaggle_profile_with_a_scanned_input_root(tmp_path):
    _loveda(tmp_path / "loveda")
    report = envcheck.run("kaggle", work_dir=ROOT, kaggle_input=tmp_path)
    ids = {f.id for f in report.findings}
    assert "kaggle.no-loveda" not in ids
    assert report.facts["kaggle"]["internet"] is None  # not Kaggle: the network is never probed
    kaggle_line = next(c for c in report.checks if c.id == "kaggle")
    assert f"data_root={str(tmp_path / 'loveda')!r}" in kaggle_line.label
    empty = envcheck.run("kaggle", work_dir=ROOT, kaggle_input=tmp_path / "nothing")
    assert "kaggle.no-loveda" in {f.id for f in empty.findings}


@pytest.mark.parametrize("environ,exists,expected", [
    ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, (), "kaggle"),
    ({"KAGGLE_URL_BASE": "https://www.kaggle.com"}, (), "kaggle"),
    ({}, ("/kaggle/working",), "kaggle"),
    ({"CI": "true", "KAGGLE_DATA_PROXY_TOKEN": "x"}, (), "kaggle"),
    ({"CI": "true"}, (), "ci"),
    ({"CI": "false"}, (), "local"),
    ({}, (), "local"),
])
def test_detect_platform(environ, exists, expected):
    platform, evidence = detect_platform(environ, exists=lambda p: p in exists)
    assert platform == expected
    assert bool(evidence) == (expected != "local")


def test_read_pins_and_find_lock(tmp_path):
    lock = tmp_path / "requirements-lock.txt"
    lock.write_text(textwrap.dedent("""\
        # comment
        -r other.txt
        --find-links /wheels
        addict==2.4.0
            # via mmengine
        Torch==2.13.0+cpu ; sys_platform == "linux"
        requests[socks]==2.34.2 \\
            --hash=sha256:abc
        setuptools==81.0.0
        """))
    assert read_pins(lock) == {"addict": "2.4.0", "torch": "2.13.0+cpu", "requests": "2.34.2",
                               "setuptools": "81.0.0"}
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_lock(tmp_path / "a" / "b") == lock
    assert read_pins(ROOT / "requirements-lock.txt")["mmengine"] == "0.10.7"


def test_lock_beside_the_package_is_the_last_resort(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # e.g. /kaggle/working, with the bundle unpacked elsewhere
    assert gather_static(tmp_path).lock_path == str(ROOT / "requirements-lock.txt")
    (tmp_path / "requirements-lock.txt").write_text("numpy==1.0\n")
    facts = gather_static(tmp_path)
    assert facts.lock_path == str(tmp_path / "requirements-lock.txt")
    assert facts.lock_pins == {"numpy": "1.0"}
    assert gather_static(tmp_path, lock=ROOT / "requirements-lock.txt").lock_path == \
        str(ROOT / "requirements-lock.txt")


# --- the command line ---------------------------------------------------------------------


def _facts_file(tmp_path: Path, mutate=None) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from test_envcheck_rules import local_cpu
    finally:
        sys.path.pop(0)
    facts = local_cpu()
    if mutate:
        mutate(facts)
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({"facts": facts.to_dict()}))
    return path


def test_cli_exit_codes(tmp_path):
    healthy = run_cli("--facts", str(_facts_file(tmp_path)), "--profile", "local")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "[✓] mmcv 2.1.0 (ops: CPU, GCC 12.2)" in healthy.stdout

    def no_ops(f):
        f.mmcv.ext_loaded = False
        f.mmcv.ext_error = "ImportError: undefined symbol: _ZN3c10"

    broken = run_cli("--facts", str(_facts_file(tmp_path, no_ops)), "--profile", "local")
    assert broken.returncode == 1
    assert "[✗] mmcv 2.1.0 (no compiled ops) — compiled ops missing" in broken.stdout
    assert re.search(r"Remedies\n  1\. \[mmcv\.ops-missing\]", broken.stdout)
    assert "(built for another torch)" in broken.stdout

    for bad in (["--profile", "colab"], ["--lock", str(tmp_path / "nope.txt")],
                ["--timeout", "0"], ["--facts", str(tmp_path / "missing.json")], ["--bogus"]):
        usage = run_cli(*bad)
        assert usage.returncode == 2, (bad, usage.stderr)
        assert "usage:" in usage.stderr


def test_cli_json_and_plain_output(tmp_path):
    proc = run_cli("--facts", str(_facts_file(tmp_path, lambda f: f.dists.pop("pip"))),
                   "--profile", "ci", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert report["ok"] and report["profile"] == "ci" and report["exit_code"] == 0
    assert {"static_s", "probe_s", "total_s"} <= set(report["timings"])
    assert [f["id"] for f in report["findings"]] == ["pip.missing", "compat.torch-checkpoint"]
    assert {c["id"]: c["status"] for c in report["checks"]}["python"] == "warning"
    plain = run_cli("--facts", str(_facts_file(tmp_path)), "--profile", "local", "--ascii")
    assert "\033[" not in plain.stdout  # not a TTY: no colour
    assert "[+] mmcv 2.1.0" in plain.stdout and "✓" not in plain.stdout


def test_the_safe_checkpoint_loader_is_found_where_mapsage_keeps_it():
    from envcheck.facts import mapsage_loader_available

    assert mapsage_loader_available()  # envcheck relaxes its checkpoint finding on this fact
