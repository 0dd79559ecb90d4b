"""One validation batch before the first training iteration: ``ValidationProbeHook``.

mmengine builds the validation loop (its data loader, data set and evaluator) before training,
but first *runs* it at the first ``val_interval``: a validation pipeline that cannot run (a
transform that fails on the val images, a ``test_cfg`` the model cannot apply, an evaluator that
does not fit the predictions) fails only after those iterations, hours into a real run.
``mapsage check-config`` catches what a config shows on its face (the model's ``test_cfg``,
misspelt types); this hook catches the rest by doing it once.

At ``before_train`` (after the model is built, its weights initialised or loaded and any resume
done, before the first iteration) it takes the first batch the validation data loader would
yield (its batch sampler's first indices: ``val_dataloader.batch_size`` images, LoveDA's configs:
1) and sends it through what mmengine's ``ValLoop`` runs, in this process:

1. loading: the val data set's pipeline on each of those images, then the loader's collate
   function (no worker processes are started for it);
2. prediction: ``model.val_step`` in eval mode, without gradients, under the val loop's ``fp16``
   setting (the data preprocessor, the backbone, the decode head and the model's ``test_cfg``);
3. evaluation: ``val_evaluator.process`` and ``val_evaluator.evaluate`` on that one batch (its
   per-class table appears in the log once, announced as the probe's).

**Cost:** one validation batch, no hooks called (no logging of a validation, no checkpoint, no
"best" tracked), typically a second or two; ``runner.iter`` does not move. The model goes back to
the mode it was in, and the probe leaves no trace in what training uses: the random number
states (torch, CUDA, numpy, ``random``) are restored, and so is the message hub's runtime
information (the metric leaves its confusion matrix there, which the end-of-run report reads).

**On failure** it raises :class:`ValidationProbeFailed` (exit code 2, one paragraph: which of the
three steps failed, on which image, the exception and where it was raised, the fix; ``--debug``
shows the traceback) after recording ``"status": "failed"`` with that message in
``metrics.json`` through :meth:`mapsage.results.hook.RunResultsHook.write_failure` (rank 0; under
torchrun a failure on another rank stops the group without that record).

A config that lists the hook twice (the saved config of a run, run again) probes once.
"""

from __future__ import annotations

import contextlib
import random
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mapsage.errors import MapSageError
from mapsage.training.failure import record_failure
from mapsage.training.hooks import VALIDATION_PROBE_HOOK

STEPS = {
    "load": ("loading it through val_dataloader's data set pipeline and collate function",
             "Fix val_dataloader.dataset.pipeline (or val_pipeline) so that it loads these "
             "images, or the val data (mapsage check-data DATA_ROOT checks it)"),
    "predict": ("the model's prediction on it (model.val_step: data preprocessor, backbone, "
                "decode head, model.test_cfg)",
                "Fix model.test_cfg, the model's data_preprocessor, or the val pipeline's "
                "output (image size, keys) so the model can predict on it"),
    "evaluate": ("the evaluator on that prediction (val_evaluator: process, then evaluate)",
                 "Fix val_evaluator (its type and arguments must fit the data set's classes and "
                 "the model's predictions)"),
}


class ValidationProbeFailed(MapSageError):
    """One validation batch, run before training, failed: the first validation would have."""


class _StepFailed(Exception):
    def __init__(self, step: str, exc: BaseException, image: str | None = None):
        super().__init__(step)
        self.step, self.exc, self.image = step, exc, image


def _where(exc: BaseException) -> str:
    """The transform the exception came out of (when it did) and the line that raised it."""
    from mmcv.transforms import BaseTransform

    transform = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        if isinstance(owner, BaseTransform):
            transform = type(owner).__name__  # the innermost one wins
    frames = traceback.extract_tb(exc.__traceback__)
    place = (f"{Path(frames[-1].filename).name}:{frames[-1].lineno}, in {frames[-1].name}"
             if frames else "")
    named = f"in the transform {transform!r}, " if transform else ""
    return f"{named}{place}" if named or place else "no location"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 400:
        text = text[:400] + " ..."
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message)"


def _image(dataset, index: int) -> str | None:
    info = dataset.get_data_info(index) if hasattr(dataset, "get_data_info") else {}
    return info.get("img_path") if isinstance(info, dict) else None


def first_batch(loader) -> tuple[list[int], object]:
    """The indices of the first batch ``loader`` would yield and that batch, loaded here."""
    batches = loader.batch_sampler if loader.batch_sampler is not None else (
        [index] for index in loader.sampler)
    indices = list(next(iter(batches), []))
    if not indices:
        raise ValidationProbeFailed(
            "The validation data loader yields no batch: its data set is empty, so every "
            "validation would have nothing to score. Point val_dataloader at the Val split "
            "(mapsage check-data DATA_ROOT shows what it holds).")
    items = []
    for index in indices:
        try:
            items.append(loader.dataset[index])
        except Exception as exc:  # re-raised below as _StepFailed, with the image it failed on
            raise _StepFailed("load", exc, _image(loader.dataset, index)) from exc
    try:
        batch = loader.collate_fn(items) if loader.batch_sampler is not None else \
            loader.collate_fn(items[0])
    except Exception as exc:  # re-raised as _StepFailed
        raise _StepFailed("load", exc, _image(loader.dataset, indices[0])) from exc
    return indices, batch


@contextlib.contextmanager
def _leave_no_trace(runner):
    """Restore the model's mode, the random states and the message hub's runtime info."""
    model = runner.model
    training = model.training
    info = runner.message_hub.runtime_info  # the live dict
    kept = dict(info)
    states = random.getstate(), np.random.get_state()
    devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        for key in [k for k in info if k not in kept]:
            del info[key]
        info.update(kept)
        model.train(training)


def probe(runner, loop) -> int:
    """Run one validation batch of ``loop`` (a ValLoop) through ``runner.model`` and the
    evaluator; return how many images it held. Raises :class:`_StepFailed`."""
    from mmengine.runner.amp import autocast

    indices, batch = first_batch(loop.dataloader)
    image = _image(loop.dataloader.dataset, indices[0])
    runner.model.eval()
    try:
        with torch.no_grad(), autocast(enabled=getattr(loop, "fp16", False)):
            outputs = runner.model.val_step(batch)
    except Exception as exc:  # re-raised as _StepFailed
        raise _StepFailed("predict", exc, image) from exc
    runner.logger.info("mapsage: validation probe: the metrics of one batch follow (a check "
                       "before training, not a validation)")
    try:
        loop.evaluator.process(data_samples=outputs, data_batch=batch)
        loop.evaluator.evaluate(len(indices) * runner.world_size)
    except Exception as exc:  # re-raised as _StepFailed
        raise _StepFailed("evaluate", exc, image) from exc
    return len(indices)


def failure_message(failed: _StepFailed, first_validation) -> str:
    what, fix = STEPS[failed.step]
    on = (f" ({'image' if failed.step == 'load' else 'first image'} {failed.image})"
          if failed.image else "")
    at = f" (iteration {first_validation})" if isinstance(first_validation, int) else ""
    return (f"The validation cannot run: before training MapSage sent the first validation "
            f"batch{on} through the model, and {what} raised {_describe(failed.exc)} "
            f"({_where(failed.exc)}). Without this check the run would have trained until its "
            f"first validation{at} and failed there. {fix}. No training iteration ran; --debug "
            "shows the traceback.")


def _first_validation(runner):
    loop = runner.train_loop
    interval, begin = getattr(loop, "val_interval", None), getattr(loop, "val_begin", 1)
    if not isinstance(interval, int) or interval <= 0:
        return None
    after = max(runner.iter + 1, begin)
    return min(-(-after // interval) * interval, runner.max_iters)


@HOOKS.register_module(name=VALIDATION_PROBE_HOOK)
class ValidationProbeHook(Hook):
    """See the module docstring."""

    priority = "VERY_HIGH"  # before_train: before the time budget's and the measures' start

    def before_train(self, runner) -> None:
        first = next(h for h in runner.hooks if isinstance(h, ValidationProbeHook))
        loop = runner.val_loop
        if first is not self or loop is None:
            return
        if not hasattr(loop, "dataloader") or not hasattr(loop, "evaluator"):
            runner.logger.info(f"mapsage: validation probe skipped: the val loop "
                               f"{type(loop).__name__} has no dataloader and evaluator")
            return
        started = time.monotonic()
        try:
            with _leave_no_trace(runner):
                images = probe(runner, loop)
        except _StepFailed as failed:
            message = failure_message(failed, _first_validation(runner))
            self._record(runner, message)
            raise ValidationProbeFailed(message) from failed.exc
        except ValidationProbeFailed as exc:  # no batch at all
            self._record(runner, str(exc))
            raise
        runner.logger.info(
            f"mapsage: validation probe passed: one batch of {images} validation image(s) "
            f"loaded, predicted (test_cfg mode {_mode(runner)!r}) and scored in "
            f"{time.monotonic() - started:.1f} s; training starts")

    @staticmethod
    def _record(runner, message: str) -> None:
        """Log the failure and leave it in metrics.json (``"status": "failed"``)."""
        runner.logger.error(f"mapsage: {message}")
        record_failure(runner, message, iteration=runner.iter)


def _mode(runner) -> str | None:
    model = getattr(runner.model, "module", runner.model)
    test_cfg = getattr(model, "test_cfg", None)
    return test_cfg.get("mode") if isinstance(test_cfg, dict) else None
