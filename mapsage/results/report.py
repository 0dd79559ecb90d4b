"""Human-readable summaries of a run's metrics.json."""

from __future__ import annotations

from pathlib import Path

from mapsage.artefacts import CONFUSION_MATRIX, PREDICTIONS, REPORT, TRAINING_CURVE
from mapsage.models import MODEL_CONFIGS

DEFAULT_DATASET = "LoveDA"
"""The data set of a run whose metrics.json records none (written before data sets were
described): LoveDA, the only one MapSage trained then."""


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def metrics_table(metrics: dict) -> str:
    """A Markdown table: per-class IoU and accuracy, then the summary line."""
    final = metrics["final"]
    lines = ["| class | IoU | Acc |", "|---|---:|---:|"]
    for cls, values in final["per_class"].items():
        lines.append(f"| {cls} | {_num(values['IoU'])} | {_num(values['Acc'])} |")
    best = metrics["best"]
    env = metrics.get("environment", {})
    lines += [
        "",
        f"**mIoU {_num(metrics['mIoU'])}**, aAcc {_num(metrics['aAcc'])}, "
        f"mAcc {_num(metrics['mAcc'])} after {metrics['iterations']} iterations "
        f"({metrics['wall_time_s']:.0f} s on {env.get('device', '?')}); "
        f"best mIoU {_num(best['mIoU'])} at iteration {best['iteration']}.",
    ]
    stopped = time_limit_note(metrics)
    if stopped:
        lines += ["", f"**{stopped}**"]
    return "\n".join(lines)


def time_limit_note(metrics: dict) -> str | None:
    """What to do about a run the time budget stopped (``"status": "time_limit"``), else None."""
    if metrics.get("status") != "time_limit":
        return None
    stop = metrics.get("time_limit") or {}
    return (f"Stopped at the time limit after {stop.get('iteration', metrics['iterations'])} of "
            f"{stop.get('max_iters', '?')} iterations; a checkpoint was saved. Continue with "
            "resume=auto in the same work_dir (on Kaggle: mapsage build kaggle --continue-from "
            "OWNER/SLUG, see docs/long-runs.md).")


def one_line(metrics: dict) -> str:
    """mIoU, aAcc, the best mIoU and its iteration, iterations and wall time on one line."""
    best = metrics["best"]
    return (f"mIoU {_num(metrics['mIoU'])}  aAcc {_num(metrics['aAcc'])}  "
            f"best mIoU {_num(best['mIoU'])} @ {best['iteration']}  "
            f"({metrics['iterations']} iterations, {metrics['wall_time_s']:.0f} s"
            f"{', stopped at the time limit' if metrics.get('status') == 'time_limit' else ''})")


PICTURES = ((TRAINING_CURVE, "Training loss and validation metrics"),
            (CONFUSION_MATRIX, "Confusion matrix (final evaluation)"),
            (PREDICTIONS, "Image / ground truth / prediction (best checkpoint)"))

KEY_PARAMS = ("model", "dataset", "max_iters", "batch_size", "crop_size", "lr", "seed", "amp",
              "pretrained", "load_from", "resume", "device", "gpus", "val_interval", "checkpoint_interval",
              "time_limit", "data_root")
"""The parameters ``report.md`` lists (those the run's metrics.json records, in this order)."""


def parameters_table(metrics: dict) -> list[str]:
    """The run's key parameters as a Markdown table (empty when metrics.json has none)."""
    params = metrics.get("params") or {}
    rows = [(key, params[key]) for key in KEY_PARAMS if key in params]
    if not rows:
        return []
    lines = ["## Parameters", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {key} | `{value!r}` |" if isinstance(value, str) else
              f"| {key} | {'none' if value is None else value} |" for key, value in rows]
    if metrics.get("config"):
        lines.append(f"| config | `{Path(metrics['config']).name}` |")
    return [*lines, ""]


def dataset_name(metrics: dict) -> str:
    """The name of the data set a run trained on (metrics.json's ``dataset``, checked by
    :func:`mapsage.results.record.read_metrics`; LoveDA for a run that records none)."""
    dataset = metrics.get("dataset")
    name = dataset.get("name") if isinstance(dataset, dict) else None
    return name if isinstance(name, str) and name else DEFAULT_DATASET


def model_title(metrics: dict) -> str:
    """``SegFormer tiny`` for one of MapSage's models trained from its own config, else the
    config the run was built from (``fcn_r18-d8_...``; its file name without ``.py``)."""
    model, config = metrics.get("model"), metrics.get("config")
    config_name = Path(config).name if isinstance(config, str) and config else None
    if model in MODEL_CONFIGS and config_name in (None, MODEL_CONFIGS[model]):
        return f"SegFormer {model}"
    if config_name:
        return f"`{Path(config_name).stem}`"
    return str(model) if model else "a model"


def report_markdown(metrics: dict, sources: dict[str, str] | None = None) -> str:
    """``report.md``: the metrics table, the run's key parameters, batch and learning rate,
    environment, the pictures (each with what it shows: ``sources``, picture -> split and
    checkpoint in words)."""
    env = metrics.get("environment", {})
    batch = metrics.get("batch", {})
    sources = sources or {}
    lines = [f"# MapSage run: {model_title(metrics)} on {dataset_name(metrics)}", "",
             metrics_table(metrics), ""]
    lines += parameters_table(metrics)
    if batch:
        lines += [f"Effective batch {batch['effective_batch_size']} "
                  f"({batch['batch_per_process']} x {batch['processes']} process(es)), "
                  f"learning rate {batch['lr_effective']:g} "
                  f"({batch['lr_base']:g} at base batch {batch['base_batch_size']}).", ""]
    lines += ["Environment: " + ", ".join(f"{k} {env[k]}" for k in
                                          ("python", "torch", "mmcv", "mmengine", "mmseg", "device")
                                          if k in env), ""]
    for name, title in PICTURES:
        lines += [f"## {title}", ""]
        if sources.get(name):
            lines += [f"{sources[name]}.", ""]
        lines += [f"![{title}]({name})", ""]
    return "\n".join(lines)


def write_report(metrics: dict, work_dir: str | Path,
                 sources: dict[str, str] | None = None) -> Path:
    """Write ``report.md`` into ``work_dir``; return its path."""
    from mapsage.safe_write import write_text

    return write_text(Path(work_dir) / REPORT, report_markdown(metrics, sources))


def class_difference(a: tuple[str, dict], b: tuple[str, dict]) -> str | None:
    """In words, how the two runs' classes (or data sets) differ; None when they are the same
    classes, in the same order, of the same data set."""
    (name_a, ma), (name_b, mb) = a, b
    classes_a, classes_b = list(ma["per_class_IoU"]), list(mb["per_class_IoU"])
    set_a, set_b = dataset_name(ma), dataset_name(mb)
    if classes_a != classes_b:
        only_a = [c for c in classes_a if c not in classes_b]
        only_b = [c for c in classes_b if c not in classes_a]
        parts = [f"{name_a} ({set_a}) has {len(classes_a)} classes, {name_b} ({set_b}) has "
                 f"{len(classes_b)}"]
        if only_a:
            parts.append(f"only {name_a} has {', '.join(only_a)}")
        if only_b:
            parts.append(f"only {name_b} has {', '.join(only_b)}")
        if not only_a and not only_b:
            parts.append("the same names in another order")
        return ("The runs have different classes: " + "; ".join(parts) + ". Classes are "
                "compared by name (n/a where a run has no such class), and mIoU, aAcc and mAcc "
                "are over each run's own classes: not directly comparable.")
    if set_a != set_b:
        return (f"The runs were trained on different data sets ({name_a}: {set_a}, {name_b}: "
                f"{set_b}) with the same class names: the scores are over different images.")
    return None


def compare_table(a: tuple[str, dict], b: tuple[str, dict]) -> str:
    """Per-class IoU of two runs (by class name) and the change from the first to the
    second, after a note when their classes or data sets differ."""
    (name_a, ma), (name_b, mb) = a, b
    note = class_difference(a, b)
    lines = [f"**{note}**", ""] if note else []
    lines += [f"| class | {name_a} | {name_b} | change |", "|---|---:|---:|---:|"]
    classes = list(ma["per_class_IoU"]) + [c for c in mb["per_class_IoU"]
                                           if c not in ma["per_class_IoU"]]
    rows = [(c, ma["per_class_IoU"].get(c), mb["per_class_IoU"].get(c)) for c in classes]
    rows += [(key, ma.get(key), mb.get(key)) for key in ("mIoU", "aAcc", "mAcc")]
    for name, va, vb in rows:
        delta = "n/a" if va is None or vb is None else f"{vb - va:+.2f}"
        label = f"**{name}**" if name in ("mIoU", "aAcc", "mAcc") else name
        lines.append(f"| {label} | {_num(va)} | {_num(vb)} | {delta} |")
    return "\n".join(lines)
