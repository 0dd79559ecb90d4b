"""Human-readable summaries of a run's metrics.json."""

from __future__ import annotations


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
    return "\n".join(lines)


def one_line(metrics: dict) -> str:
    best = metrics["best"]
    return (f"mIoU {_num(metrics['mIoU'])}  aAcc {_num(metrics['aAcc'])}  "
            f"best mIoU {_num(best['mIoU'])} @ {best['iteration']}  "
            f"({metrics['iterations']} iterations, {metrics['wall_time_s']:.0f} s)")
