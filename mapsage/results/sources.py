"""What the pictures and the report were made from, in words: the evaluated split and the
checkpoint (the weights of which iteration, in which file)."""

from __future__ import annotations

from pathlib import Path

from envcheck import folders as folder_shapes

SPLIT_FOLDERS = frozenset(n.lower() for names in
                          (("train", "val", "test"), *folder_shapes.SPLIT_NAMES.values())
                          for n in names)


def split_name(dataset) -> str:
    """``"Val (6 images)"``: the split a validation dataset reads (the first folder of its
    images' prefix that names a split: LoveDA's ``Val/Urban/images_png``, ``val/images``,
    ``img_dir/val``; else the prefix itself; over a ConcatDataset's parts), and how many
    images it has."""
    parts = getattr(dataset, "datasets", None) or [dataset]
    splits = []
    for part in parts:
        prefix = Path(str((getattr(part, "data_prefix", None) or {}).get("img_path", "")))
        root = getattr(part, "data_root", None)
        if root and prefix.is_relative_to(root):  # mmengine joins data_root to the prefix
            prefix = prefix.relative_to(root)
        named = [p for p in prefix.parts if p.lower() in SPLIT_FOLDERS]
        name = (named[0] if named else prefix.as_posix()) \
            if prefix.parts and not prefix.is_absolute() else "?"
        if name not in splits:
            splits.append(name)
    return f"{'+'.join(splits)} ({len(dataset)} images)"


def checkpoint_name(work_dir: str | Path, iteration: int | None,
                    path: str | Path | None = None) -> str:
    """``"iteration 20 (iter_20.pth)"``: the weights evaluated, by iteration and file (the
    given ``path``, else ``iter_N.pth`` when the run saved it)."""
    if iteration is None:
        return "the last weights"
    file = Path(path) if path else Path(work_dir) / f"iter_{iteration}.pth"
    saved = f" ({file.name})" if file.exists() else " (not saved as a checkpoint)"
    return f"iteration {iteration}{saved}"


def final_iteration(metrics: dict) -> int | None:
    """The iteration of the run's last evaluation (the confusion matrix's)."""
    val = metrics.get("history", {}).get("val") or []
    return val[-1]["iteration"] if val else metrics.get("iterations")
