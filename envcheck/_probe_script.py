"""Run by envcheck in a subprocess (``python -c <this file's text>``): import the heavy packages
and report on them, one JSON line per step on stdout, each prefixed with MARK.

A step prints "begin" before it starts, so when an import segfaults or hangs the parent knows
where. Exceptions become "error" lines with the traceback tail; nothing is swallowed. This file
must not import envcheck (it runs in whatever environment is being checked).
"""

import faulthandler
import json
import sys
import time
import traceback

MARK = "@@envcheck@@ "
faulthandler.enable()  # a segfault in an extension module prints a traceback to stderr


def emit(**record):
    sys.stdout.write("\n" + MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


SKIP = set(sys.argv[sys.argv.index("--skip") + 1:]) if "--skip" in sys.argv else set()


def step(name, fn):
    if name in SKIP:
        emit(step=name, status="skipped")
        return None
    emit(step=name, status="begin")
    started = time.perf_counter()
    try:
        data = fn()
    except BaseException as exc:  # SystemExit/KeyboardInterrupt from an import are facts too
        emit(step=name, status="error", error=f"{type(exc).__name__}: {exc}",
             traceback=traceback.format_exc()[-3000:],
             seconds=round(time.perf_counter() - started, 3))
        return None
    emit(step=name, status="ok", data=data, seconds=round(time.perf_counter() - started, 3))
    return data


def probe_torch():
    import torch

    cudnn = None
    if torch.version.cuda:
        cudnn = torch.backends.cudnn.version()
    return {"version": str(torch.__version__), "cuda": torch.version.cuda, "cudnn": cudnn,
            "arch_list": list(torch.cuda.get_arch_list()), "file": torch.__file__}


def probe_cuda():
    import torch

    available = bool(torch.cuda.is_available())
    gpus = []
    if available:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append({"name": props.name, "capability": [props.major, props.minor],
                         "memory_gib": round(props.total_memory / 2**30, 1)})
    return {"cuda_available": available, "gpus": gpus}


def probe_module(name):
    def run():
        module = __import__(name)
        return {"version": str(getattr(module, "__version__", "")) or None,
                "file": getattr(module, "__file__", None)}

    return run


def probe_mmcv_ext():
    import mmcv._ext as ext
    import torch  # noqa: F401  (the ops link against libtorch: load it first, as mmcv does)

    ops_cuda = ext.get_compiling_cuda_version()
    return {"file": ext.__file__, "ops_cuda": ops_cuda, "compiler": ext.get_compiler_version()}


def main():
    emit(step="python", status="ok", data={"executable": sys.executable,
                                           "version": sys.version.split()[0]})
    torch_ok = step("torch", probe_torch) is not None
    if torch_ok:
        step("cuda", probe_cuda)
    step("mmengine", probe_module("mmengine"))
    if step("mmcv", probe_module("mmcv")) is not None and torch_ok:
        step("mmcv_ext", probe_mmcv_ext)
    step("mmseg", probe_module("mmseg"))
    emit(step="done", status="ok")


main()
