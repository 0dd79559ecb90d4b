"""The fault matrix: every finding id fires in at least one injected environment and stays silent
in at least one near miss. Facts are built by hand; nothing here looks at the machine."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

import envcheck
from envcheck.facts import (
    Facts,
    Gpu,
    ImportedModule,
    InputDataset,
    KaggleFacts,
    MmcvFacts,
    ProbeResult,
    TorchFacts,
)
from envcheck.rules import FINDING_IDS, evaluate

GIB = 2**30
TURING = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


def local_cpu() -> Facts:
    """MapSage's own environment, as on a laptop or CI: healthy."""
    return Facts(
        platform="local", os="Linux-6.1", machine="x86_64", python="3.11.7",
        executable="/work/.venv/bin/python", cpu_count=2,
        dists={"pip": "23.2.1", "setuptools": "81.0.0", "numpy": "2.4.6", "torch": "2.13.0+cpu",
               "mmcv": "2.1.0", "mmengine": "0.10.7", "mmsegmentation": "1.2.2",
               "opencv-python": "5.0.0.93"},
        pkg_resources=True, mapsage_loader=True, work_dir="/work", disk_free_bytes=50 * GIB,
        lock_path="/work/requirements-lock.txt",
        lock_pins={"numpy": "2.4.6", "torch": "2.13.0+cpu", "mmengine": "0.10.7",
                   "mmsegmentation": "1.2.2", "setuptools": "81.0.0",
                   "opencv-python": "5.0.0.93"},
        torch=TorchFacts("2.13.0+cpu"),
        mmcv=MmcvFacts("2.1.0", ext_loaded=True, ext_file="/x/mmcv/_ext.so", compiler="GCC 12.2"),
        imports={"mmengine": "0.10.7", "mmseg": "1.2.2"},
        probe=ProbeResult(seconds=1.6),
    )


def kaggle_t4() -> Facts:
    """A Kaggle kernel with 2 T4s, Kaggle's torch, mmcv 2.1.0 built for it, LoveDA attached."""
    f = local_cpu()
    f.platform, f.platform_evidence = "kaggle", ["$KAGGLE_KERNEL_RUN_TYPE", "/kaggle/input"]
    f.executable, f.work_dir, f.driver, f.nvcc = "/usr/bin/python3", "/kaggle/working", \
        "560.35.03", "12.4"
    f.dists.update({"torch": "2.6.0+cu124", "numpy": "1.26.4", "setuptools": "75.1.0"})
    f.lock_path, f.lock_pins = None, {}
    f.torch = TorchFacts("2.6.0+cu124", cuda="12.4", cudnn=90100, cuda_available=True,
                         gpus=[Gpu("Tesla T4", (7, 5), 14.7), Gpu("Tesla T4", (7, 5), 14.7)],
                         arch_list=list(TURING))
    f.mmcv = MmcvFacts("2.1.0", ext_loaded=True, ext_file="/x/mmcv/_ext.so", ops_cuda="12.4",
                       compiler="GCC 11.4", cuda_archs=["sm_75"])
    f.kaggle = KaggleFacts(inputs=[InputDataset("/kaggle/input/loveda", ["loveda"],
                                                loveda_root="/kaggle/input/loveda/LoveDA")],
                           internet=True, internet_detail="connected to pypi.org:443")
    return f


def ids(facts: Facts, profile: str) -> dict[str, str]:
    return {f.id: f.severity for f in evaluate(facts, profile)}


def test_baselines_are_healthy():
    assert ids(local_cpu(), "local") == {"compat.torch-checkpoint": "info"}
    assert ids(local_cpu(), "ci") == {"compat.torch-checkpoint": "info"}
    assert ids(kaggle_t4(), "kaggle") == {"compat.torch-checkpoint": "info", "pins.no-lock": "info"}


# --- mutations --------------------------------------------------------------------------------

Mutation = Callable[[Facts], None]


def drop(*names: str) -> Mutation:
    def run(f: Facts) -> None:
        for name in names:
            f.dists.pop(name, None)
    return run


def setattrs(obj_path: str = "", **values) -> Mutation:
    def run(f: Facts) -> None:
        target = f
        for part in filter(None, obj_path.split(".")):
            target = getattr(target, part)
        for k, v in values.items():
            setattr(target, k, v)
    return run


def chain(*mutations: Mutation) -> Mutation:
    def run(f: Facts) -> None:
        for m in mutations:
            m(f)
    return run


def dists(**versions: str | None) -> Mutation:
    def run(f: Facts) -> None:
        for name, v in versions.items():
            name = name.replace("_", "-")
            if v is None:
                f.dists.pop(name, None)
            else:
                f.dists[name] = v
    return run


def probe_error(step: str, error: str) -> Mutation:
    return lambda f: f.probe.errors.__setitem__(step, error)


def no_mmcv(f: Facts) -> None:
    f.dists.pop("mmcv", None)
    f.mmcv = None


def lite(f: Facts) -> None:
    f.dists.pop("mmcv", None)
    f.dists["mmcv-lite"] = "2.1.0"
    f.mmcv = MmcvFacts("2.1.0", ext_loaded=False,
                       ext_error="ModuleNotFoundError: No module named 'mmcv._ext'")


def p100(f: Facts) -> None:
    f.torch.gpus = [Gpu("Tesla P100-PCIE-16GB", (6, 0), 15.9)]


def torch_261_cu124_needs_build(f: Facts) -> None:
    no_mmcv(f)


BASE = {"local": local_cpu, "ci": local_cpu, "kaggle": kaggle_t4}

# (finding id, profile, mutation, expected severity)
FIRES: list[tuple[str, str, Mutation, str]] = [
    ("probe.crashed", "local", setattrs("probe", returncode=-11, unfinished_step="mmcv_ext",
                                        stderr_tail="Fatal Python error: Segmentation fault"),
     "error"),
    ("probe.crashed", "local", setattrs("probe", returncode=0, errors={
        "probe": "the probe exited without finishing its report"}), "error"),
    ("probe.timeout", "kaggle", setattrs("probe", timed_out=True, returncode=None,
                                         unfinished_step="cuda", timeout_s=90.0), "error"),
    ("python.version", "local", setattrs(python="3.9.18"), "error"),
    ("pip.missing", "local", drop("pip"), "warning"),
    ("numpy.missing", "local", drop("numpy"), "error"),
    ("torch.missing", "local", chain(drop("torch"), setattrs(torch=None)), "error"),
    ("torch.missing", "kaggle", chain(drop("torch"), setattrs(torch=None)), "error"),
    ("torch.import-failed", "local", chain(setattrs(torch=None), probe_error(
        "torch", "OSError: libcudnn.so.9: cannot open shared object file")), "error"),
    ("torch.cpu-build", "local", setattrs(driver="550.54.15"), "warning"),
    ("torch.cpu-build", "kaggle", chain(setattrs("torch", cuda=None, cuda_available=False,
                                                 gpus=[], arch_list=[])), "error"),
    ("torch.cuda-unusable", "kaggle", setattrs("torch", cuda_available=False, gpus=[]), "error"),
    ("torch.cuda-unusable", "local", chain(lambda f: setattr(f, "torch", kaggle_t4().torch),
                                           setattrs(driver="470.1"),
                                           setattrs("torch", cuda_available=False, gpus=[])),
     "warning"),
    ("gpu.torch-arch", "kaggle", chain(p100, setattrs("torch", arch_list=[
        "sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"])), "error"),
    ("kaggle.no-gpu", "kaggle", chain(setattrs(driver=None),
                                      setattrs("torch", cuda_available=False, gpus=[])),
     "warning"),
    ("mmcv.missing", "local", no_mmcv, "error"),
    ("mmcv.conflict", "local", dists(mmcv_full="1.7.2"), "error"),
    ("mmcv.import-failed", "local", chain(setattrs(mmcv=None), probe_error(
        "mmcv", "ModuleNotFoundError: No module named 'cv2'")), "error"),
    ("mmcv.ops-missing", "local", lite, "error"),
    ("mmcv.ops-missing", "kaggle", setattrs("mmcv", ext_loaded=False, ext_error=(
        "ImportError: /x/mmcv/_ext.so: undefined symbol: _ZN3c1017RegisterOperatorsD1Ev")),
     "error"),
    ("mmcv.ops-cuda-mismatch", "kaggle", setattrs("mmcv", ops_cuda="11.8"), "error"),
    ("mmcv.ops-cuda-mismatch", "kaggle", setattrs("mmcv", ops_cuda="12.1"), "warning"),
    ("mmcv.ops-cuda-mismatch", "kaggle", setattrs("mmcv", ops_cuda=None, cuda_archs=None),
     "error"),
    ("mmcv.ops-cuda-mismatch", "local", setattrs("mmcv", ops_cuda="12.1"), "error"),
    ("mmcv.gpu-arch", "kaggle", setattrs("mmcv", cuda_archs=["sm_80", "sm_86"]), "error"),
    ("mmcv.gpu-arch", "kaggle", chain(p100, setattrs("mmcv", cuda_archs=["sm_75"])), "error"),
    ("build.pkg-resources", "kaggle", chain(no_mmcv, dists(setuptools=None),
                                            setattrs(pkg_resources=False)), "error"),
    ("build.nvcc", "kaggle", chain(no_mmcv, setattrs(nvcc=None)), "error"),
    ("build.nvcc", "kaggle", chain(lite, setattrs(nvcc="11.8")), "error"),
    ("mmengine.missing", "local", chain(drop("mmengine"), lambda f: f.imports.pop("mmengine")),
     "error"),
    ("mmengine.import-failed", "local", chain(lambda f: f.imports.pop("mmengine"), probe_error(
        "mmengine", "ImportError: cannot import name 'Sequence' from 'collections'")), "error"),
    ("mmseg.missing", "local", chain(drop("mmsegmentation"), lambda f: f.imports.pop("mmseg")),
     "error"),
    ("mmseg.import-failed", "local", chain(lambda f: f.imports.pop("mmseg"), probe_error(
        "mmseg", "ModuleNotFoundError: No module named 'ftfy'")), "error"),
    ("compat.mmseg-mmcv", "local", chain(dists(mmcv="2.2.0"), setattrs("mmcv", version="2.2.0")),
     "error"),
    ("compat.mmseg-mmcv", "kaggle", chain(dists(mmcv="2.0.0rc3"),
                                          setattrs("mmcv", version="2.0.0rc3")), "error"),
    ("compat.mmseg-mmengine", "local", lambda f: f.imports.update(mmengine="1.0.0"), "error"),
    ("compat.mmcv-mmengine", "local", lambda f: f.imports.update(mmengine="0.2.0"), "error"),
    ("compat.torch-checkpoint", "local", lambda f: None, "info"),
    ("compat.torch-checkpoint", "kaggle", setattrs(mapsage_loader=False), "warning"),
    ("compat.setuptools-82", "local", dists(setuptools="82.0.0"), "warning"),
    ("compat.setuptools-82", "kaggle", chain(no_mmcv, dists(setuptools="82.0.1"),
                                             setattrs(pkg_resources=False)), "error"),
    ("pins.openmmlab", "local", lambda f: f.imports.update(mmengine="0.10.6"), "error"),
    ("pins.openmmlab", "kaggle", chain(dists(mmsegmentation="1.2.1"),
                                       lambda f: f.imports.update(mmseg="1.2.1")), "error"),
    ("pins.drift", "local", dists(numpy="2.4.5"), "warning"),
    ("pins.drift", "ci", dists(numpy="2.4.5"), "error"),
    ("pins.drift", "ci", drop("opencv-python"), "error"),
    ("pins.no-lock", "local", setattrs(lock_path=None, lock_pins={}), "warning"),
    ("pins.no-lock", "kaggle", lambda f: None, "info"),
    ("stale.import", "kaggle", lambda f: f.imported.update(mmcv=ImportedModule("2.2.0")),
     "error"),
    ("stale.import", "local", chain(lambda f: f.imported.update(numpy=ImportedModule("2.4.6")),
                                    drop("numpy"), dists(numpy="2.4.6"),
                                    lambda f: f.imported.update(torch=ImportedModule("2.5.1"))),
     "error"),
    ("stale.import", "kaggle", chain(  # same version, reinstalled after the kernel started
        lambda f: f.imported.update(mmcv=ImportedModule("2.1.0")),
        setattrs(process_started=1_000_000.0, installed_at={"mmcv": 1_000_600.0})), "error"),
    ("disk.low", "local", setattrs(disk_free_bytes=3 * GIB), "warning"),
    ("disk.low", "kaggle", setattrs(disk_free_bytes=GIB // 2), "error"),
    ("kaggle.offline", "kaggle", chain(no_mmcv, setattrs("kaggle", internet=False)), "error"),
    ("kaggle.no-loveda", "kaggle", setattrs("kaggle", inputs=[]), "warning"),
]

# near misses: the id must NOT appear
SILENT: list[tuple[str, str, Mutation]] = [
    ("probe.crashed", "local", lambda f: None),
    ("probe.crashed", "local", setattrs(probe=None)),
    ("probe.timeout", "kaggle", lambda f: None),
    ("python.version", "local", setattrs(python="3.10.0")),
    ("pip.missing", "local", lambda f: None),
    ("numpy.missing", "kaggle", lambda f: None),
    ("torch.missing", "local", lambda f: None),
    ("torch.import-failed", "local", lambda f: None),
    ("torch.import-failed", "local", chain(drop("torch"), setattrs(torch=None), probe_error(
        "torch", "ModuleNotFoundError: No module named 'torch'"))),
    ("torch.cpu-build", "local", lambda f: None),  # no NVIDIA driver: CPU torch is right
    ("torch.cpu-build", "kaggle", lambda f: None),
    ("torch.cuda-unusable", "kaggle", lambda f: None),
    ("torch.cuda-unusable", "local", lambda f: None),  # CPU build, no driver
    ("gpu.torch-arch", "kaggle", lambda f: None),
    ("gpu.torch-arch", "kaggle", chain(p100, setattrs("torch", arch_list=["sm_60", "sm_70"]),
                                       setattrs("mmcv", cuda_archs=["sm_60"]))),
    ("gpu.torch-arch", "kaggle", chain(setattrs("torch", arch_list=["sm_70", "compute_70"]))),
    ("kaggle.no-gpu", "kaggle", lambda f: None),
    ("kaggle.no-gpu", "local", lambda f: None),
    ("mmcv.missing", "local", lambda f: None),
    ("mmcv.conflict", "local", lite),  # only the lite build: a different finding
    ("mmcv.import-failed", "local", lambda f: None),
    ("mmcv.ops-missing", "local", lambda f: None),
    ("mmcv.ops-missing", "local", chain(lite, dists(mmcv="2.1.0"))),  # conflict explains it
    ("mmcv.ops-cuda-mismatch", "kaggle", lambda f: None),
    ("mmcv.ops-cuda-mismatch", "local", lambda f: None),
    ("mmcv.ops-cuda-mismatch", "kaggle", chain(setattrs("torch", cuda_available=False, gpus=[]),
                                               setattrs("mmcv", ops_cuda=None),
                                               setattrs(driver=None))),
    ("mmcv.gpu-arch", "kaggle", lambda f: None),
    ("mmcv.gpu-arch", "kaggle", setattrs("mmcv", cuda_archs=["sm_70"])),  # cubin 7.0 runs on 7.5
    ("mmcv.gpu-arch", "kaggle", chain(p100, setattrs("mmcv", cuda_archs=["compute_60"]))),
    ("mmcv.gpu-arch", "kaggle", setattrs("mmcv", cuda_archs=None)),  # unknown: no claim
    ("build.pkg-resources", "kaggle", chain(no_mmcv, setattrs(pkg_resources=True))),
    ("build.pkg-resources", "local", chain(setattrs(pkg_resources=False))),  # no build needed
    ("build.nvcc", "kaggle", chain(no_mmcv, setattrs(nvcc="12.6"))),
    ("build.nvcc", "kaggle", chain(setattrs(nvcc=None))),  # mmcv fine: nothing to build
    ("build.nvcc", "kaggle", chain(no_mmcv, setattrs(nvcc=None),
                                   dists(torch="2.1.2+cu121"),
                                   setattrs("torch", version="2.1.2+cu121", cuda="12.1"))),
    ("mmengine.missing", "local", lambda f: None),
    ("mmengine.import-failed", "local", lambda f: None),
    ("mmseg.missing", "local", lambda f: None),
    ("mmseg.import-failed", "local", lambda f: None),
    ("mmseg.import-failed", "local", chain(
        dists(mmcv="2.2.0"), setattrs("mmcv", version="2.2.0"), lambda f: f.imports.pop("mmseg"),
        probe_error("mmseg", "AssertionError: MMCV==2.2.0 is used but incompatible."))),
    ("compat.mmseg-mmcv", "local", lambda f: None),
    ("compat.mmseg-mmcv", "local", chain(dists(mmcv="2.0.0rc4"),
                                         setattrs("mmcv", version="2.0.0rc4"))),
    ("compat.mmseg-mmcv", "local", chain(dists(mmsegmentation="1.1.2"),
                                         lambda f: f.imports.update(mmseg="1.1.2"),
                                         dists(mmcv="2.2.0"), setattrs("mmcv", version="2.2.0"))),
    ("compat.mmseg-mmengine", "local", lambda f: f.imports.update(mmengine="0.5.0")),
    ("compat.mmcv-mmengine", "local", lambda f: None),
    ("compat.torch-checkpoint", "local", chain(dists(torch="2.5.1+cpu"),
                                               setattrs("torch", version="2.5.1+cpu"))),
    ("compat.torch-checkpoint", "local", lambda f: f.imports.update(mmengine="0.10.8")),
    ("compat.setuptools-82", "local", lambda f: None),
    ("compat.setuptools-82", "kaggle", dists(setuptools="81.9.0")),
    ("pins.openmmlab", "local", lambda f: None),
    ("pins.openmmlab", "local", chain(dists(mmcv="2.2.0"), setattrs("mmcv", version="2.2.0"))),
    ("pins.drift", "local", lambda f: None),
    ("pins.drift", "kaggle", chain(setattrs(lock_path="/repo/requirements-lock.txt",
                                            lock_pins=local_cpu().lock_pins))),
    ("pins.drift", "local", dists(torch="2.13.0+cu126")),  # local labels are not pins
    ("pins.no-lock", "local", lambda f: None),
    ("stale.import", "local", lambda f: f.imported.update(
        torch=ImportedModule("2.13.0+cpu"), mmcv=ImportedModule("2.1.0"))),
    ("stale.import", "local", lambda f: f.imported.update(mmseg=ImportedModule(None))),
    ("stale.import", "kaggle", chain(
        lambda f: f.imported.update(mmcv=ImportedModule("2.1.0")),
        setattrs(process_started=1_000_000.0, installed_at={"mmcv": 999_000.0}))),
    ("stale.import", "kaggle", chain(  # installed during the first second: /proc's slack
        lambda f: f.imported.update(mmcv=ImportedModule("2.1.0")),
        setattrs(process_started=1_000_000.0, installed_at={"mmcv": 1_000_001.0}))),
    ("disk.low", "local", lambda f: None),
    ("disk.low", "local", setattrs(disk_free_bytes=None)),
    ("kaggle.offline", "kaggle", setattrs("kaggle", internet=False)),  # nothing to install
    ("kaggle.offline", "kaggle", chain(no_mmcv)),  # internet on
    ("kaggle.offline", "local", chain(no_mmcv, setattrs(kaggle=KaggleFacts(internet=False)))),
    ("kaggle.no-loveda", "kaggle", lambda f: None),
    ("kaggle.no-loveda", "local", lambda f: None),
]


def _case_id(case) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("fid,profile,mutate,severity", FIRES, ids=map(_case_id, FIRES))
def test_fires(fid, profile, mutate, severity):
    facts = BASE[profile]()
    mutate(facts)
    found = ids(facts, profile)
    assert found.get(fid) == severity, found


@pytest.mark.parametrize("fid,profile,mutate", SILENT, ids=map(_case_id, SILENT))
def test_silent(fid, profile, mutate):
    facts = BASE[profile]()
    mutate(facts)
    assert fid not in ids(facts, profile)


def test_matrix_covers_every_finding_id():
    assert {c[0] for c in FIRES} == set(FINDING_IDS)
    assert {c[0] for c in SILENT} == set(FINDING_IDS)


def test_every_finding_is_documented_with_what_why_and_a_remedy():
    for fid, profile, mutate, _ in FIRES:
        facts = BASE[profile]()
        mutate(facts)
        finding = next(f for f in evaluate(facts, profile) if f.id == fid)
        assert finding.found and finding.why and finding.remedy and finding.remedy.summary, fid
        assert finding.check == FINDING_IDS[fid][0]


def test_envcheck_doc_lists_every_finding_id(repo_root):
    text = (repo_root / "docs" / "envcheck.md").read_text()
    documented = re.findall(r"^\| `([a-z0-9-]+\.[a-z0-9.-]+)` \|", text, flags=re.M)
    assert sorted(documented) == sorted(FINDING_IDS)
    for row in text.splitlines():
        m = re.match(r"^\| `([a-z0-9-]+\.[a-z0-9.-]+)` \| [^|]+ \| ([^|]+) \|", row)
        if m:  # the severity column names the default severity
            assert FINDING_IDS[m.group(1)][1] in m.group(2), row


def test_injected_facts_do_not_touch_the_machine():
    facts = local_cpu()
    before = copy.deepcopy(facts)
    report = envcheck.run("local", facts=facts)
    assert facts == before
    assert report.timings["static_s"] == 0 and report.timings["probe_s"] == 0


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="profile"):
        envcheck.run("colab", facts=local_cpu())


def test_text_report_marks_titles_and_remedy_order():
    facts = local_cpu()
    facts.imported["mmcv"] = ImportedModule("2.0.1")
    no_mmcv(facts)
    facts.disk_free_bytes = 3 * GIB
    report = envcheck.run("local", facts=facts)
    text = report.to_text()
    assert "[✗] mmcv: not installed\n" in text
    assert "[!] Disk: 3.0 GiB free in /work — little free disk space in the work dir" in text
    assert "[✗] In-process imports: mmcv 2.0.1 — restart the kernel" in text
    remedies = text.split("\nRemedies\n")[1]
    # install first, restart after, warnings last
    order = [remedies.index(f"[{fid}]") for fid in ("mmcv.missing", "stale.import", "disk.low")]
    assert order == sorted(order)
    assert report.exit_code == 1
    ascii_text = report.to_text(unicode=False)
    assert "[x] mmcv: not installed" in ascii_text and "✗" not in ascii_text
    assert "\033[31m[✗]\033[0m" in report.to_text(color=True)
    errors = report.errors_text()
    assert errors.startswith("envcheck found 2 error(s):")
    assert errors.index("[mmcv.missing]", errors.index("Remedies:")) < \
        errors.index("[stale.import]", errors.index("Remedies:"))


def test_drift_remedy_installs_the_lock_for_this_python_keeping_its_torch():
    facts = local_cpu()
    facts.dists.update(numpy="2.4.5")
    finding = next(f for f in evaluate(facts, "local") if f.id == "pins.drift")
    select, install = finding.remedy.commands
    assert select == ("/work/.venv/bin/python -m envcheck --lock-selection --lock "
                      "/work/requirements-lock.txt > lock-for-this-python.txt")
    assert install == ("/work/.venv/bin/python -m pip install --require-hashes "
                       "-r lock-for-this-python.txt")


def test_notes_alone_are_suggestions_not_remedies():
    """Issue 21: `mapsage doctor` printed a 'Remedies' section when there were only notes."""
    from envcheck.report import Finding, Remedy, Report

    note = Finding("torch.cpu-build", "info", "torch", "CPU build", "torch is a CPU build",
                   "fine without a GPU", Remedy("Install a CUDA build", ("pip install torch",)))
    text = Report("local", "t", [], [note]).to_text()
    assert "\nRemedies\n" not in text and "\nSuggestions (nothing needs fixing)\n" in text
    warning = Finding("disk.low", "warning", "disk", "disk", "3 GiB free", "room",
                      Remedy("Free disk space"))
    assert "\nRemedies\n" in Report("local", "t", [], [note, warning]).to_text()
