"""Resume trusts no number a checkpoint carries: the training state is vetted against the config.

mmengine restores a checkpoint's training state as it finds it: ``meta['iter']`` becomes the
loop's iteration, the optimizer's ``param_groups`` (``lr``, ``initial_lr``, betas, ...) and
moments are loaded as they are, every key of a scheduler's state becomes an attribute of the
scheduler (``_ParamScheduler.load_state_dict`` is ``__dict__.update``), and the message hub's
``best_score`` decides whether a validation is a new best. A poisoned number is then reported
as a good run: a NaN ``lr`` trains NaN losses to the end, a scheduler ``_global_step`` of 1e9
trains at lr 0, ``meta['iter']`` past ``max_iters`` reports iterations never trained, and a
``best_score`` of 1e9 never saves a best checkpoint.

:func:`check_training_state` refuses such a checkpoint before training, naming the file, the
field, its value, what was expected and the fix (:class:`~mapsage.errors.MapSageError`):

- every number of the optimizer state, the schedulers and the best score is finite; the weights
  and the optimizer's moments hold no NaN or infinity;
- ``meta['iter']`` is at most ``max_iters`` and is the N of the file's ``iter_N.pth`` name;
- each parameter group's ``initial_lr`` is the config's learning rate, scaled to the effective
  batch as mmengine's ``auto_scale_lr`` does, times a ``lr_mult`` of the config's
  ``paramwise_cfg`` (or 1); its ``lr`` lies between 0 and ``initial_lr`` (warm-up and decay
  never exceed it); AdamW's betas lie in [0, 1), ``eps`` is positive, ``weight_decay`` is not
  negative, its ``step`` is not past ``meta['iter']``;
- each scheduler is the config's (same type of state, same factors) with ``_global_step`` equal
  to ``meta['iter']`` (one step per iteration), ``last_step`` what that many steps give within
  its ``begin``/``end``, ``base_values`` the groups' ``initial_lr`` and ``_last_value`` their
  ``lr``; a key mmengine's scheduler does not have is refused;
- ``best_score`` lies within the metric's range, 0 to 100 (mmseg reports percentages).
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from mapsage.errors import MapSageError
from mapsage.training.checkpoint.names import best_iteration_of, iteration_of

REL_TOL = 1e-6
SCORE_RANGE = (0.0, 100.0)  # mmseg's IoUMetric reports mIoU, mAcc and aAcc in percent
# the state mmengine 0.10.7's LR schedulers save (``_ParamScheduler.state_dict``)
SCHEDULER_KEYS = {"begin", "end", "last_step", "by_epoch", "verbose", "param_name",
                  "_global_step", "base_values", "_last_value", "total_iters"}
SCHEDULER_FACTORS = {"LinearLR": ("start_factor", "end_factor"),
                     "PolyLR": ("power", "eta_min"),
                     "ConstantLR": ("factor",),
                     "CosineAnnealingLR": ("T_max", "eta_min", "eta_min_ratio"),
                     "ExponentialLR": ("gamma",),
                     "MultiStepLR": ("milestones", "gamma"),
                     "StepLR": ("step_size", "gamma")}


class PoisonedState(MapSageError):
    """A resume checkpoint whose training state is not finite, out of range or not the config's."""


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return _number(value) and math.isfinite(value)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


class _Said(str):
    """A description standing for a value in a message (shown without quotes)."""

    def __repr__(self) -> str:
        return str(self)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Vetting:
    """The checks of one checkpoint; :meth:`refuse` raises the one-paragraph error."""

    def __init__(self, path: Path, checkpoint: dict, cfg, processes: int):
        self.path, self.checkpoint, self.cfg, self.processes = path, checkpoint, cfg, processes
        self.meta = checkpoint.get("meta") or {}
        self.iter = self.meta.get("iter")

    def refuse(self, field: str, value: Any, expected: str, why: str = "") -> None:
        name = self.path.name
        raise PoisonedState(
            f"Cannot resume from {str(self.path)!r}: its {field} is {_short(value)}, expected "
            f"{expected}.{' ' + why if why else ''} mmengine would restore it as it is and the "
            f"run would be reported as good. Move {name} out of {str(self.path.parent)!r} to "
            "resume from the previous checkpoint, or train again in a new work_dir "
            "(load_from=<a checkpoint you trust> keeps its weights); nothing was trained or "
            "overwritten."
        )

    # --- iteration counters ---------------------------------------------------------------
    def counters(self) -> None:
        max_iters = int(self.cfg.train_cfg.max_iters)
        if self.iter > max_iters:
            self.refuse("meta['iter']", self.iter, f"at most max_iters={max_iters}",
                        f"Iterations {max_iters + 1}-{self.iter} were never trained.")
        named = iteration_of(self.path.name)
        if named is None:
            named = best_iteration_of(self.path.name)
        if named is not None and named != self.iter:
            self.refuse("meta['iter']", self.iter, f"{named}, the iteration its file name says",
                        "mmengine saves iter_N.pth with meta['iter'] = N.")

    # --- tensors --------------------------------------------------------------------------
    def tensors_finite(self, tree: Any, where: str) -> None:
        import torch

        if isinstance(tree, dict):
            for key, value in tree.items():
                self.tensors_finite(value, f"{where}.{key}")
        elif isinstance(tree, (list, tuple)):
            for i, value in enumerate(tree):
                self.tensors_finite(value, f"{where}[{i}]")
        elif isinstance(tree, torch.Tensor):
            if tree.is_floating_point() or tree.is_complex():
                bad = ~torch.isfinite(tree)
                if bool(bad.any()):
                    first = tree[bad].flatten()[0].item()
                    self.refuse(where, _Said(f"a tensor holding {int(bad.sum())} non-finite "
                                             f"value(s) (first: {first})"), "finite numbers",
                                "NaN or infinity in weights or optimizer moments makes every "
                                "later loss NaN.")
        elif _number(tree) and not math.isfinite(tree):
            self.refuse(where, tree, "a finite number")

    # --- optimizer ------------------------------------------------------------------------
    def effective_lr(self) -> float:
        from mapsage.training.batch import batch_scaling

        return float(batch_scaling(self.cfg, self.processes)["lr_effective"])

    def lr_multipliers(self) -> set[float]:
        found = {1.0}

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if str(key).endswith("lr_mult") and _finite(value):
                        found.add(float(value))
                    walk(value)

        walk(self.cfg.optim_wrapper.get("paramwise_cfg") or {})
        return found

    def optimizer(self) -> list[dict] | None:
        """The optimizer's param_groups and mmengine's ``base_param_settings`` (the group the
        schedulers drive last, for the logged base lr), vetted; None without an optimizer."""
        optimizer = self.checkpoint.get("optimizer")
        if optimizer is None:
            return None
        if not isinstance(optimizer, dict) or not isinstance(optimizer.get("param_groups"), list) \
                or not isinstance(optimizer.get("state"), dict):
            self.refuse("optimizer", type(optimizer).__name__,
                        "a torch optimizer state dict (state and param_groups)")
        groups = optimizer["param_groups"]
        if not groups or not all(isinstance(g, dict) for g in groups):
            self.refuse("optimizer.param_groups", groups, "a non-empty list of dicts")
        base = self.effective_lr()
        multipliers = sorted(self.lr_multipliers())
        scaled = [base * m for m in multipliers]
        settings = optimizer.get("base_param_settings")
        if settings is not None and not isinstance(settings, dict):
            self.refuse("optimizer['base_param_settings']", type(settings).__name__,
                        "a dict like a parameter group")
        config_lr = float(self.cfg.optim_wrapper.optimizer.lr)
        described = (
            f"this run's learning rate {base:g} (lr={config_lr:g} scaled by auto_scale_lr to "
            f"the effective batch of {self.cfg.train_dataloader.batch_size} x {self.processes} "
            "process(es))" + (f" times a lr_mult of {', '.join(f'{m:g}' for m in multipliers[1:])}"
                              if len(multipliers) > 1 else ""))
        named = [(f"optimizer.param_groups[{i}]", g, scaled, described)
                 for i, g in enumerate(groups)]
        if settings is not None:
            # mmengine's record of the config's own lr (not scaled by auto_scale_lr)
            named.append(("optimizer['base_param_settings']", settings, [config_lr],
                          f"this run's lr={config_lr:g}"))
        for where, group, allowed, description in named:
            for key, value in group.items():
                if key == "params":
                    continue
                self.tensors_finite(value, f"{where}[{key!r}]")
            for key in ("lr", "initial_lr"):
                if not _finite(group.get(key)):
                    self.refuse(f"{where}[{key!r}]", group.get(key), "a finite number")
            initial, lr = float(group["initial_lr"]), float(group["lr"])
            if not any(_close(initial, a) for a in allowed):
                self.refuse(f"{where}['initial_lr']", initial, description,
                            "Resume with the saved run's lr, batch_size and number of GPUs.")
            if not (0.0 <= lr <= initial * (1 + REL_TOL)):
                self.refuse(f"{where}['lr']", lr, f"between 0 and its initial_lr {initial:g}",
                            "The schedule's warm-up and decay never exceed the base rate.")
            betas = group.get("betas")
            if betas is not None and not (isinstance(betas, (list, tuple)) and all(
                    _finite(b) and 0.0 <= b < 1.0 for b in betas)):
                self.refuse(f"{where}['betas']", betas, "numbers in [0, 1)")
            if "eps" in group and not (_finite(group["eps"]) and group["eps"] > 0):
                self.refuse(f"{where}['eps']", group["eps"], "a positive number")
            if "weight_decay" in group and not (_finite(group["weight_decay"])
                                                and group["weight_decay"] >= 0):
                self.refuse(f"{where}['weight_decay']", group["weight_decay"],
                            "a number of at least 0")
        for key, value in optimizer.items():
            if key not in ("param_groups", "base_param_settings"):
                self.tensors_finite(value, f"optimizer[{key!r}]")
        for param, state in optimizer["state"].items():
            step = state.get("step") if isinstance(state, dict) else None
            if step is not None:
                steps = float(step.item() if hasattr(step, "item") else step)
                if not (0 <= steps <= self.iter):
                    self.refuse(f"optimizer.state[{param!r}]['step']", steps,
                                f"between 0 and meta['iter']={self.iter} (one step per "
                                "iteration)")
        scaler = optimizer.get("loss_scaler")
        if isinstance(scaler, dict) and "scale" in scaler:
            scale = scaler["scale"]
            scale = float(scale.item() if hasattr(scale, "item") else scale)
            if not scale > 0:
                self.refuse("optimizer['loss_scaler']['scale']", scale, "a positive number")
        return [group for _, group, _, _ in named]

    # --- schedulers -----------------------------------------------------------------------
    @staticmethod
    def expected_last_step(global_step: int, begin: int, end: int) -> int:
        """``last_step`` after ``global_step`` steps: it counts the steps taken in [begin, end)
        (the scheduler's first step, at construction, is step 0)."""
        return -1 + max(0, min(global_step, end - 1) - begin + 1)

    def schedulers(self, groups: list[dict] | None) -> None:
        saved = self.checkpoint.get("param_schedulers")
        if saved is None:
            return
        wanted = self.cfg.get("param_scheduler") or []
        if isinstance(wanted, dict):
            wanted = [wanted]
        if not isinstance(saved, list) or len(saved) != len(wanted):
            self.refuse("param_schedulers", saved,
                        f"a list of {len(wanted)} scheduler states, one per param_scheduler of "
                        "the config")
        for i, (state, config) in enumerate(zip(saved, wanted, strict=True)):
            where = f"param_schedulers[{i}]"
            if not isinstance(state, dict):
                self.refuse(where, type(state).__name__, "a scheduler state dict")
            factors = SCHEDULER_FACTORS.get(config.get("type"), ())
            unknown = sorted(str(k) for k in state if k not in SCHEDULER_KEYS
                             and k not in factors)
            if unknown:
                self.refuse(f"{where} key {unknown[0]!r}", state[unknown[0]] if unknown[0] in
                            state else unknown[0],
                            f"only the keys of mmengine's {config.get('type')} state",
                            "mmengine sets every key of a scheduler state as an attribute.")
            self.tensors_finite(state, where)
            for key in factors:
                if key in config and key in state and state[key] != config[key]:
                    self.refuse(f"{where}[{key!r}]", state[key],
                                f"{config[key]!r}, the config's {config.get('type')} {key}")
            if state.get("param_name", "lr") != "lr":
                self.refuse(f"{where}['param_name']", state["param_name"], "'lr'")
            by_epoch = config.get("by_epoch", True)  # mmengine's default
            if state.get("by_epoch") != by_epoch:
                self.refuse(f"{where}['by_epoch']", state.get("by_epoch"),
                            f"{by_epoch!r}, the config's")
            if by_epoch:
                continue  # MapSage's schedules count iterations; epochs are not vetted here
            step = state.get("_global_step")
            if not (isinstance(step, int) and not isinstance(step, bool) and step == self.iter):
                self.refuse(f"{where}['_global_step']", step,
                            f"{self.iter}, the checkpoint's meta['iter'] (the schedule steps "
                            "once per iteration)",
                            "A schedule stepped past its end trains at learning rate 0.")
            begin, end = state.get("begin"), state.get("end")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (begin, end)):
                self.refuse(f"{where} begin/end", (begin, end), "whole numbers")
            last = self.expected_last_step(step, begin, end)
            if state.get("last_step") != last:
                self.refuse(f"{where}['last_step']", state.get("last_step"),
                            f"{last} after {step} steps within [{begin}, {end})")
            if groups is not None:
                # base_values are the groups' initial_lr; the last scheduler to step left its
                # _last_value as the groups' lr (earlier ones hold the value before the later
                # ones stepped: between 0 and initial_lr)
                last = i == len(saved) - 1
                for key, group_key in (("base_values", "initial_lr"), ("_last_value", "lr")):
                    values = state.get(key)
                    if not (isinstance(values, list) and len(values) == len(groups)):
                        self.refuse(f"{where}[{key!r}]", values,
                                    f"a list of {len(groups)} numbers, one per parameter group")
                    for j, (value, group) in enumerate(zip(values, groups, strict=True)):
                        expected = float(group[group_key])
                        if key == "_last_value" and not last:
                            ok = _finite(value) and 0.0 <= value <= float(
                                group["initial_lr"]) * (1 + REL_TOL)
                            wanted = f"between 0 and group {j}'s initial_lr {group['initial_lr']}"
                        else:
                            ok = _finite(value) and _close(float(value), expected)
                            wanted = f"group {j}'s {group_key} {expected}"
                        if not ok:
                            self.refuse(f"{where}[{key!r}][{j}]", value, wanted)

    # --- best score -----------------------------------------------------------------------
    def best_score(self) -> None:
        hub = self.checkpoint.get("message_hub") or {}
        info = hub.get("runtime_info") if isinstance(hub, dict) else None
        low, high = SCORE_RANGE
        for key, value in (info or {}).items():
            if str(key).startswith("best_score") and not (_finite(value) and low <= value <= high):
                self.refuse(f"message_hub best score {key!r}", value,
                            f"a number from {low:g} to {high:g} (mmseg's metrics are percent)",
                            "A best score no validation can reach means no best checkpoint "
                            "is ever saved again.")

    def run(self) -> None:
        self.counters()
        self.tensors_finite(self.checkpoint.get("state_dict"), "state_dict")
        groups = self.optimizer()
        self.schedulers(groups)
        self.best_score()


def check_training_state(checkpoint: dict, path: str | Path, cfg, processes: int) -> None:
    """Refuse (:class:`PoisonedState`) a resume checkpoint whose optimizer, schedulers,
    iteration counters or best score are not finite, out of range, or not what ``cfg`` run by
    ``processes`` processes would have saved (the module docstring lists the checks).
    ``checkpoint`` must have passed :func:`mapsage.training.checkpoint.resume_guard.check_structure`."""
    try:
        _Vetting(Path(path), checkpoint, cfg, processes).run()
    except RecursionError:
        raise PoisonedState(
            f"Cannot resume from {str(path)!r}: its training state holds lists or dicts nested "
            "inside each other beyond Python's recursion limit, which no mmengine checkpoint "
            f"does. Move {Path(path).name} out of {str(Path(path).parent)!r} to resume from the "
            "previous checkpoint, or train again in a new work_dir; nothing was trained or "
            "overwritten."
        ) from None
