"""Off-GPU CUDA build rehearsal: mmcv 2.1.0's CUDA ops compiled by MapSage's own provisioning.

Run by ``nox -s cuda_rehearsal`` (not a default or CI session), inside a venv holding torch 2.14.1
(the CUDA 13.0 build) and PyPI's CUDA 13.0 toolkit wheels. No GPU is needed or used:

1. CUDA_HOME = the venv's ``site-packages/nvidia/cu13``, completed by
   ``mapsage.provision.pip_cuda.lay_out`` (``lib64 -> lib``, ``libcudart.so``);
2. ``python -m mapsage.provision`` with FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST (default 7.5, the T4)
   and an empty temporary wheelhouse, so it takes the source route: ninja, the C++ standard from
   torch's ATen.h (c++20 for torch 2.14: the sdist's setup.py is patched), MAX_JOBS capped by RAM;
3. ``import mmcv._ext`` with CUDA hidden (``CUDA_VISIBLE_DEVICES=""``), and the GPU architectures
   the extension carries (``envcheck.fatbin``).

Prints wall time, peak RAM of the build's process tree (summed RSS, sampled every 0.2 s) and the
wheel's size; with ``--results FILE`` also appends them there as a dated section. What is
compiled is torch 2.14.1 + CUDA 13.0, not Kaggle's image (torch 2.10, CUDA 12.8).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from common import ROOT, TreeMemory, report, settle

IMPORT_CHECK = """
import glob, json, os, torch, mmcv, mmcv._ext
from envcheck.fatbin import cuda_archs
so = glob.glob(os.path.join(os.path.dirname(mmcv.__file__), "_ext*.so"))[0]
from mmcv.ops import roi_align  # a compiled op, resolved through mmcv._ext
print(json.dumps({"torch": torch.__version__, "torch_cuda": torch.version.cuda,
                  "cuda_available": torch.cuda.is_available(), "mmcv": mmcv.__version__,
                  "ext": so, "ext_mb": round(os.path.getsize(so) / 2**20, 1),
                  "archs": cuda_archs(so)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="7.5", help="TORCH_CUDA_ARCH_LIST (default 7.5, T4)")
    parser.add_argument("--jobs", type=int, help="MAX_JOBS (default: provisioning's RAM cap)")
    parser.add_argument("--results", type=Path, help="append the numbers to this Markdown file")
    args = parser.parse_args()

    from mapsage.provision import pip_cuda

    home = pip_cuda.lay_out(Path(sysconfig.get_paths()["purelib"]))
    print(f"CUDA_HOME={home}", flush=True)
    start = str(settle(0.0))  # no waiting: record what else was running
    with tempfile.TemporaryDirectory(prefix="mapsage-cuda-rehearsal-") as house:
        env = {**os.environ, "CUDA_HOME": str(home), "FORCE_CUDA": "1",
               "TORCH_CUDA_ARCH_LIST": args.arch, "MAPSAGE_WHEELHOUSE": house,
               "CUDA_VISIBLE_DEVICES": ""}
        cmd = [sys.executable, "-m", "mapsage.provision"]
        if args.jobs:
            cmd += ["--jobs", str(args.jobs)]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
        with TreeMemory(proc.pid) as memory:
            code = proc.wait()
        wall = time.perf_counter() - started
        if code != 0:
            print(f"provisioning failed (exit {code}) after {wall:.0f} s", file=sys.stderr)
            return code
        (manifest_path,) = Path(house).glob("*/manifest.json")
        manifest = json.loads(manifest_path.read_text())
        wheel_mb = (manifest_path.parent / manifest["wheel"]).stat().st_size / 2**20
    check = subprocess.run([sys.executable, "-c", IMPORT_CHECK], env={**os.environ,
                           "CUDA_VISIBLE_DEVICES": ""}, capture_output=True, text=True, cwd=ROOT)
    if check.returncode != 0:
        print(check.stderr[-3000:], file=sys.stderr)
        return check.returncode
    facts = json.loads(check.stdout.strip().splitlines()[-1])
    rows = [
        ("torch / CUDA compiled against", f"{facts['torch']} / {facts['torch_cuda']}"),
        ("TORCH_CUDA_ARCH_LIST", args.arch),
        ("C++ standard", manifest.get("build", {}).get("cxx_standard", "?")),
        ("setup.py patch", "; ".join(manifest.get("build", {}).get("setup_py_patch", [])) or "none"),
        ("wall time of the build (provisioning)", f"{wall / 60:.1f} min"),
        ("peak RAM (summed RSS of the build's processes)", f"{memory.peak_mib / 1024:.2f} GB"),
        ("wheel", f"{manifest['wheel']}, {wheel_mb:.1f} MB"),
        ("mmcv._ext on the CPU", f"imports (cuda available: {facts['cuda_available']}), "
                                 f"{facts['ext_mb']} MB, GPU code for {', '.join(facts['archs'])}"),
    ]
    body = "| what | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    method = ("`nox -s cuda_rehearsal`: torch 2.14.1 (CUDA 13.0 build) and PyPI's CUDA 13.0 "
              "toolkit wheels, no GPU; `python -m mapsage.provision` source route. Not Kaggle's "
              "torch (2.10, CUDA 12.8).")
    if args.results:
        report(args.results, "mmcv CUDA build rehearsal", method, body, start=start)
    else:
        print(body, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
