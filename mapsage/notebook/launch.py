"""Start ``mapsage.train`` in its own process and stream its log (used by the notebook).

Training in a child process keeps torch, mmcv and CUDA out of the Jupyter kernel: packages
installed or upgraded in the kernel's session take effect without a restart, a crash in a CUDA
op cannot take the kernel down, and a multi-GPU launch (torchrun) is the same call.
"""

from __future__ import annotations

import codecs
import collections
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mapsage import kaggle_platform
from mapsage.errors import MapSageError, TrainingFailed
from mapsage.notebook import die_with_parent
from mapsage.params import (
    PRETRAINED_AUTO,
    PRETRAINED_IMAGENET,
    SYNTHETIC,
    TrainParams,
)

TAIL_LINES = 30
CHUNK_BYTES = 1 << 16
TAIL_LINE_CHARS = 4000
FLUSH_EVERY = 1.0  # seconds between messages to the notebook while the log flows
_CAN_WAIT_ON_PIPES = os.name != "nt"  # select() takes pipes on POSIX only


def visible_gpus() -> int:
    """GPUs this machine shows (nvidia-smi), without importing torch into the kernel."""
    import shutil

    if os.environ.get("CUDA_VISIBLE_DEVICES") == "" or not shutil.which("nvidia-smi"):
        return 0
    proc = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True,
                          timeout=30)
    return len(proc.stdout.strip().splitlines()) if proc.returncode == 0 else 0


def processes_for(params: TrainParams, gpus_visible: int | None = None) -> int:
    """How many training processes: ``gpus`` if set, else one per visible GPU, at least one."""
    if params.gpus:
        return params.gpus
    if params.device == "cpu":
        return 1
    return max(1, visible_gpus() if gpus_visible is None else gpus_visible)


def training_command(params: TrainParams, config: str | None = None,
                     processes: int = 1) -> list[str]:
    """``python -m mapsage.train``, or the same module under torchrun for several processes."""
    if processes > 1:
        cmd = [sys.executable, "-u", "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", "-m", "mapsage.train", "--launcher", "pytorch"]
    else:
        cmd = [sys.executable, "-u", "-m", "mapsage.train"]
    if config:  # a config file of the caller's (the bootstrap's measuring config): the parameter
        params = params.replace(config=str(config))
    return cmd + params.to_cli_args()


def stream(cmd: list[str], out=None, flush_every: float = FLUSH_EVERY) -> tuple[int, list[str]]:
    """Run ``cmd``, echo its merged stdout/stderr as it comes; return (exit code, last lines).

    In a Jupyter kernel every flush is a message to the notebook client, which papermill logs
    and adds to the notebook: work on the CPU the training shares. So output is passed on at
    most once per ``flush_every`` seconds while it flows (everything written since the last
    flush, as one message), and at once after a quiet spell: a burst of hundreds of lines
    (mmengine prints its whole config) or a log line every few iterations costs a message a
    second, and a line printed before a long validation still shows within ``flush_every``.
    ``cmd`` dies with this process (:mod:`mapsage.notebook.die_with_parent`): a killed
    ``mapsage run`` or a dead kernel leaves no training behind.
    """
    out = out or sys.stdout
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    partial = ""
    pending: list[str] = []
    flushed = time.monotonic() - flush_every  # the first output goes out at once

    def emit() -> None:
        nonlocal flushed
        if pending:
            out.write("".join(pending))
            out.flush()
            pending.clear()
        flushed = time.monotonic()

    with subprocess.Popen(die_with_parent.wrap(cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            if pending and _CAN_WAIT_ON_PIPES:  # wait for more output, or until it is due
                due = max(0.0, flushed + flush_every - time.monotonic())
                if not select.select([fd], [], [], due)[0]:
                    emit()
                    continue
            chunk = os.read(fd, CHUNK_BYTES)
            if not chunk:
                break
            text = decoder.decode(chunk)
            if text:  # empty while a UTF-8 character is split between chunks
                pending.append(text)
            *lines, partial = (partial + text).split("\n")
            tail.extend(lines)
            partial = partial[-TAIL_LINE_CHARS:]  # a progress bar redrawn with \r never ends
            if not _CAN_WAIT_ON_PIPES or time.monotonic() - flushed >= flush_every:
                emit()
        code = proc.wait()
    text = decoder.decode(b"", final=True)
    if text:
        pending.append(text)
    emit()
    if partial + text:
        tail.append(partial + text)
    return code, list(tail)


def how_it_ended(code: int) -> str:
    """'exited with code N', or the signal that ended the process, with the likely cause of a
    SIGKILL (the out-of-memory killer) and what to change."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code == signal.SIGKILL:
        return (f"was killed ({name}), most often by the system's out-of-memory killer: lower "
                "batch_size or num_workers (or crop_size), then run again with resume=auto")
    return f"was stopped by {name}"


def for_this_platform(params: TrainParams) -> TrainParams:
    """On Kaggle: find load_from (and a pretrained weights file) under whatever mount layout the
    data set got, and map
    ``/kaggle`` paths onto the rehearsal root when one is set. Elsewhere: unchanged."""
    if not kaggle_platform.on_kaggle():
        return params
    values = {}
    for key in ("data_root", "work_dir", "load_from", "dataset", "config"):
        value = getattr(params, key)
        if isinstance(value, str) and value.startswith("/"):
            values[key] = kaggle_platform.localize(value)  # a path, not inline or mmseg::
    if params.load_from:
        found = kaggle_platform.find_input_file(values.get("load_from", params.load_from))
        if found is None:
            raise MapSageError(
                f"load_from {params.load_from!r} is not under {kaggle_platform.input_dir()} in any "
                "mount layout. Attach the checkpoint's data set to the notebook (Add Input), or "
                "set load_from=None."
            )
        values["load_from"] = str(found)
    if params.pretrained not in (None, PRETRAINED_AUTO, PRETRAINED_IMAGENET):
        # a weights file: found under any mount layout, like load_from
        found = kaggle_platform.find_input_file(kaggle_platform.localize(params.pretrained))
        if found is not None:
            values["pretrained"] = str(found)
    return params.replace(**values)


def _for_a_child(params: TrainParams) -> TrainParams:
    """``params`` as a child process gets them: :func:`for_this_platform`, and the synthetic data
    set generated once here, not once per training process."""
    params = for_this_platform(params)
    if params.data_root == SYNTHETIC:
        from mapsage.data.synth import resolve_data_root

        params = params.replace(data_root=str(resolve_data_root(SYNTHETIC)))
    return params


def _run_streamed(what: str, cmd: list[str], is_error: Callable[[str], bool]) -> None:
    """Run ``cmd`` with its log streamed here; on failure raise
    :class:`~mapsage.errors.TrainingFailed` with its last error, whole (:func:`error_summary`)."""
    print("$ " + " ".join(cmd), flush=True)
    code, tail = stream(cmd)
    if code != 0:
        raise TrainingFailed(f"{what} {how_it_ended(code)}:\n{error_summary(tail, is_error)}")


def error_summary(tail: list[str], is_error: Callable[[str], bool]) -> str:
    """The child's last error, whole: from its last error line to the end of its output (an
    error's paragraph may go on over several lines, a list of problems after a colon), or its
    last lines when none is an error line."""
    starts = [i for i, line in enumerate(tail) if is_error(line)]
    return "\n".join(tail[starts[-1]:] if starts else tail[-12:])


def run_training(params: TrainParams, config: str | None = None,
                 gpus_visible: int | None = None) -> dict:
    """Train in a child process (``python -m mapsage.train``, or torchrun for several GPUs),
    streaming its log here; return the run's metrics.json (checked), or raise
    :class:`~mapsage.errors.TrainingFailed` with its last lines."""
    params = _for_a_child(params)
    _run_streamed("training", training_command(params, config, processes_for(params, gpus_visible)),
                  lambda line: line.startswith("mapsage.train: error:"))
    from mapsage.results.record import read_metrics

    return read_metrics(params.work_dir)[1]


def prediction_command(checkpoint: str | Path, params: TrainParams,
                       saved_config: Path | None = None) -> tuple[list[str], Path]:
    """``python -m mapsage predict`` for ``data_root``'s ``predict_split`` and its output folder."""
    out = Path(params.work_dir) / f"predictions-{params.predict_split}"
    cmd = [sys.executable, "-u", "-m", "mapsage", "predict", str(checkpoint),
           str(params.data_root), "--split", str(params.predict_split), "--out", str(out),
           "--device", params.device, "--overwrite"]
    if saved_config is not None:  # the config this run just saved: MapSage's own, trusted
        cmd += ["--config", str(saved_config)]
    return cmd, out


def run_prediction(params: TrainParams, metrics: dict) -> Path:
    """Predict ``predict_split`` with the run's best checkpoint; the folder of label PNGs."""
    params = _for_a_child(params)
    checkpoint = (metrics.get("best") or {}).get("checkpoint")
    if not checkpoint:
        raise MapSageError(f"{params.work_dir} has no best checkpoint to predict with.")
    # the config mmengine saved in work_dir during this very run (named as the config it was
    # built from): predict executes a config only when it is named
    trained = metrics.get("config")
    saved = Path(params.work_dir) / Path(trained).name if isinstance(trained, str) else None
    cmd, out = prediction_command(checkpoint, params,
                                  saved if saved is not None and saved.is_file() else None)
    _run_streamed("prediction", cmd, lambda line: "error:" in line)
    return out
