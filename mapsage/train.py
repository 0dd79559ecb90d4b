"""Train an mmseg model (SegFormer on LoveDA by default) with mmengine's Runner: ``python -m mapsage.train [--config FILE] key=value ...``

Every ``key=value`` is a training parameter (``mapsage.params.SCHEMA``) or, when the key contains a
dot, an mmengine config option (``train_dataloader.num_workers=0``). Parameters are checked and
the data layout is found before anything heavy is imported, so a mistake costs seconds.

The run leaves in ``work_dir``: checkpoints (``best_mIoU_iter_N.pth`` among them), mmengine's
logs, the config it ran, ``metrics.json``, ``report.md`` and the pictures (written by
:class:`mapsage.results.hook.RunResultsHook`). Like mmseg's ``tools/train.py``: parse, build the
config, check, ``Runner.from_cfg``, train; the pieces live in :mod:`mapsage.training`.
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from mapsage.errors import InputError, MapSageError
from mapsage.params import BY_NAME, cli_value, parse_assignments, validate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--config``, ``--launcher``, ``--debug`` and the ``key=value`` assignments."""
    parser = argparse.ArgumentParser(
        prog="python -m mapsage.train", description=__doc__.split("\n\n")[0],
        epilog="Parameters (key=value): " + ", ".join(BY_NAME))
    parser.add_argument("--config", help="mmengine config file: the same as config=FILE (default: "
                                         "the one for model=...)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default=None,
                        help="'pytorch' under torchrun (default: detected from WORLD_SIZE)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved mmengine config and the effective recipe, and "
                             "exit: nothing is trained, downloaded or written")
    parser.add_argument("assignments", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    if args.config is not None:  # --config FILE is the config parameter, given the argparse way
        given = [a for a in args.assignments if a.startswith("config=")]
        if any(cli_value("config", a[len("config="):]) is not None for a in given):
            parser.error("give the config once: --config FILE or config=FILE, not both")
        args.assignments = [a for a in args.assignments if a not in given]
        args.assignments.append(f"config={args.config}")
    return args


def resolve(assignments: list[str]):
    """The run's parameters, validated once, and its dotted config options, checked against
    mmengine's ``--cfg-options`` grammar, and its config file: what :func:`train` and
    :func:`print_config` both start from. Standard library only (nothing heavy imported)."""
    from mapsage.models import config_path
    from mapsage.training.config import parse_options

    values, options = parse_assignments(assignments)
    params = validate(values)
    parse_options(options)  # a dotted option mmengine cannot read is refused now, not later
    return params, options, config_path(params.config, params.model)


def print_config(assignments: list[str]) -> None:
    """Print the config a run with these arguments would train (``Config.pretty_text``) and its
    recipe: no data generated, nothing downloaded, work_dir untouched; works offline."""
    from mapsage.data.synth import SYNTHETIC_DIR
    from mapsage.params import SYNTHETIC
    from mapsage.training.config import build_config
    from mapsage.training.recipe import recipe_message, recipe_values

    params, options, config_file = resolve(assignments)
    if params.data_root == SYNTHETIC:
        params = params.replace(data_root=str(SYNTHETIC_DIR))
    device = params.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = build_config(config_file, params, options, device=device,
                       distributed=params.gpus > 1, require_data=False)
    print(cfg.pretty_text)
    processes = max(1, params.gpus)
    print("\n".join(f"# {line}" for line in recipe_message(recipe_values(cfg, processes))
                     .splitlines()), flush=True)


def train(assignments: list[str], launcher: str = "none") -> None:
    """Check everything that can be checked cheaply, build the config, train."""
    from mapsage.data.layout import find_layout
    from mapsage.data.synth import resolve_data_root
    from mapsage.params import check_runnable_here
    from mapsage.training.data_check import check_data
    from mapsage.training.device import is_main_process
    from mapsage.training.tracking import check_tracking
    from mapsage.training.workdir import check_work_dir
    from mapsage.training.workdir_lock import abandon_work_dir, lock_work_dir

    params, options, config_file = resolve(assignments)  # a missing config: before the data
    check_runnable_here(params)
    check_tracking(params.tracking)
    params = params.replace(data_root=str(resolve_data_root(params.data_root)))
    layout = find_layout(params.data_root, params.dataset)
    check_work_dir(params)
    data = check_data(layout, params.work_dir, crop_size=params.crop_size,
                      check_all=params.check_all_data)
    if is_main_process():  # held for the process's life; a busy work_dir is refused here
        lock_work_dir(params.work_dir)
    try:
        build_and_train(params, options, config_file, layout, data, launcher)
    except MapSageError:
        abandon_work_dir(params.work_dir)  # a run refused before training leaves nothing behind
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise disk_full(params.work_dir, exc) from exc


def disk_full(work_dir: str, exc: OSError) -> InputError:
    """The one paragraph for a disk that filled up during training (checked before it began)."""
    import shutil

    try:
        free = f"{shutil.disk_usage(work_dir).free / 2**20:.0f} MiB free now"
    except OSError:
        free = "free space unknown"
    return InputError(
        f"The disk holding work_dir {work_dir!r} filled up during training ({free}; "
        f"{exc.filename or 'a file'} could not be written). Checkpoints are written whole or not "
        "at all, so the newest one in work_dir is intact: free some space, then run again with "
        "resume=auto to continue from it.")


def build_and_train(params, options: dict, config_file: Path, layout, data,
                    launcher: str) -> None:
    """Build the config, select the checkpoint to resume, fetch the pretrained weights, check
    everything that needs the model, and train with mmengine's Runner."""
    from mapsage.training.device import is_main_process, resolve_device

    device = resolve_device(params.device)
    trusted: list = []
    if params.load_from:
        from mapsage.training.checkpoint.safe_load import check_checkpoint

        _, trusted = check_checkpoint(params.load_from, trust=params.trust_checkpoint)

    from mmengine.runner import Runner

    from mapsage.training import distributed
    from mapsage.training.checkpoint.atomic import (
        remove_partial_writes,
        unlink_plain_write_names,
    )
    from mapsage.training.checkpoint.resume import select_resume
    from mapsage.training.checkpoint.safe_load import safe_checkpoint_loading
    from mapsage.training.config import amp_dtype_for, build_config
    from mapsage.training.distributed import world_size
    from mapsage.training.preflight import check_config_and_crop, preflight
    from mapsage.training.pretrained import drop_pretrained, ensure_local
    from mapsage.training.recipe import recipe_message, recipe_values

    amp_dtype = None
    if params.amp and device == "cuda":
        import torch

        amp_dtype = amp_dtype_for(torch.cuda.get_device_capability())
    cfg = build_config(config_file, params, options, device=device,
                       distributed=launcher != "none", amp_dtype=amp_dtype, layout=layout)
    cfg.launcher = launcher
    for leftover in remove_partial_writes(Path(params.work_dir)) if is_main_process() else []:
        print(f"mapsage: removed {leftover.name}, an unfinished checkpoint save of an "
              "interrupted run", flush=True)
    links = unlink_plain_write_names(cfg, Path(params.work_dir)) if is_main_process() else []
    for link in links:
        print(f"mapsage: removed the symbolic link {link.name} (mmengine would write through it)",
              flush=True)
    select_resume(cfg, params)
    if cfg.resume:
        drop_pretrained(cfg)  # the checkpoint brings every weight
    # cheap checks first: a config or crop mistake is refused before any weights are looked up
    check_config_and_crop(cfg, layout, distributed=launcher != "none", data=data)
    ensure_local(cfg)  # pretrained weights: found, downloaded, or a clear error before training
    preflight(cfg, params, layout, distributed=launcher != "none", trusted=trusted, data=data)
    if is_main_process():
        print(recipe_message(recipe_values(cfg, world_size())), flush=True)
    if launcher != "none" and device == "cpu":
        distributed.init_cpu_process_group()
    runner = Runner.from_cfg(cfg)
    with safe_checkpoint_loading(trusted):
        runner.train()
    distributed.leave_process_group()


def main(argv: list[str] | None = None) -> int:
    """``python -m mapsage.train``: train; exit 0, or 2 with one clear paragraph for a user error."""
    from mapsage.errors import guarded
    from mapsage.training.checkpoint.safe_load import force_weights_only
    from mapsage.training.device import is_distributed

    args = parse_args(argv)
    note = force_weights_only()
    if note:
        print(note, flush=True)
    launcher = args.launcher or ("pytorch" if is_distributed() else "none")

    def run() -> int:
        if args.print_config:
            print_config(args.assignments)
        else:
            train(args.assignments, launcher)
        return 0

    return guarded("mapsage.train", run, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
