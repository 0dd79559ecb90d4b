"""The first cell of a built Kaggle notebook: what this kernel runs and what MapSage's cells do.

``mapsage build kaggle`` writes it from the parameters it injects (model, iterations, batch,
device and machine, data set, work_dir, time budget) and the cells it puts in front of the
generated notebook, so a reader on Kaggle meets the run before any code. It names where the
notebook comes from (the MapSage repository) without telling a Kaggle reader to edit a file they
do not have. Standard library only.
"""

from __future__ import annotations

from envcheck.session import SAFETY_MARGIN_S, SESSION_LIMIT_S
from mapsage.artefacts import METRICS, REPORT
from mapsage.models import MODEL_CONFIGS

MACHINES = {
    "NvidiaTeslaT4": "GPU T4 x2 (two NVIDIA T4, 16 GB each)",
    "NvidiaTeslaP100": "GPU P100 (one NVIDIA P100, 16 GB)",
}
"""Kaggle's ``machine_shape`` values as its editor names them (Settings > Accelerator)."""

BUNDLE_TITLE = "MapSage bundle"
CONTINUE_TITLE = "Continue"
FIRST_CHECKS_TITLE = "First checks"
PROVISION_TITLE = "Provision"


def code(value) -> str:
    """``value`` as inline Markdown code, safe inside a table cell."""
    text = " ".join(str(value).split("\n")).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def param(run: dict, name: str) -> str:
    """``name = value`` as the injected cell has it; None: the model's config decides."""
    value = run.get(name)
    if value is None:
        return f"`{name}` from the `{run.get('config') or run['model']}` config"
    return f"`{name}` = {code(value)}"


def machine(spec: dict) -> str:
    """The Kaggle machine the metadata asks for."""
    if spec.get("enable_gpu") is False:
        return "no accelerator (CPU)"
    if spec.get("enable_tpu"):
        return "TPU"
    shape = spec.get("machine_shape")
    if shape:
        return MACHINES.get(shape, code(shape))
    return "GPU (Kaggle's default accelerator)" if spec.get("enable_gpu") else "Kaggle's default"


def processes(run: dict) -> str:
    gpus = run.get("gpus") or 0
    if gpus == 0:
        return "one training process per visible GPU (one on a CPU)"
    if gpus == 1:
        return "one training process"
    return f"{gpus} training processes (torchrun)"


def device(run: dict) -> str:
    name = {"auto": "`auto` (CUDA when a GPU is attached, else the CPU)"}.get(
        run.get("device"), code(run.get("device")))
    amp = f"mixed precision {'on' if run.get('amp') else 'off'}"
    if run.get("amp") and run.get("device") == "cpu":
        amp = "`amp` set, but mixed precision applies on CUDA only"
    return f"{name}, {amp}"


def time_budget(run: dict, measuring: bool = False) -> str:
    limit = run.get("time_limit")
    session = (f"Kaggle's {SESSION_LIMIT_S // 3600} h session minus {SAFETY_MARGIN_S // 60} min "
               "minus the time already spent")
    stop = "then a checkpoint is saved and the run ends with status `time_limit`"
    if not measuring:
        stop += " (the next part continues it: `mapsage push --until-finished`)"
    if limit is None:
        return f"{session}; {stop}"
    hours, rest = divmod(int(limit), 3600)
    return (f"`time_limit` = {code(f'{limit:g}')} s ({hours} h {rest // 60} min), never past "
            f"{session}; {stop}")


def start_weights(run: dict, continue_from: str | None) -> str:
    if continue_from:
        return f"resumed from the checkpoints of {code(continue_from)}"
    if run.get("load_from"):
        return f"{code(run['load_from'])} (`load_from`)"
    if run.get("resume"):
        return f"resumed from the newest checkpoint in the work_dir (`resume={run['resume']}`)"
    pretrained = run.get("pretrained")
    if pretrained == "auto" and run["model"] == "tiny":
        return "random (`pretrained=auto`: the tiny model has no published weights)"
    if pretrained == "auto" and run.get("config"):
        return f"as the config {code(run['config'])} says (`pretrained=auto`)"
    if pretrained in ("auto", "imagenet"):
        return (f"ImageNet MiT-{run['model'].upper()} encoder weights (`pretrained={pretrained}`): "
                "downloaded with the internet on, or found under `/kaggle/input` by file name")
    if pretrained is None:
        return "random (`pretrained=None`)"
    return f"{code(pretrained)} (`pretrained`)"


def data(run: dict, attached: list[dict]) -> str:
    source = next((s["id"] for s in attached if s["role"] in ("loveda", "data")), None)
    where = f"found under {code(run['data_root'])}"
    dataset = run.get("dataset")
    what = ("LoveDA" if dataset in (None, "auto", "loveda") and not any(
                s["role"] == "data" for s in attached) else
            "the data set its `dataset.yaml` describes" if dataset in (None, "auto") else
            f"the data set described by {code(dataset)}")
    return f"{what}, data set {code(source)}, {where}" if source else f"{what} {where}"


def run_rows(run: dict, spec: dict, attached: list[dict], continue_from: str | None) -> list:
    model = run["model"]
    config = MODEL_CONFIGS.get(model, "?")
    described = (f"{code(run['config'])} (config; `model` is not used)" if run.get("config")
                 else f"{code(model)} (SegFormer, config `{config}`)")
    measuring = bool(spec.get("measures"))
    outputs = f"{code(run['work_dir'])}: checkpoints, `{METRICS}`, `{REPORT}`, plots"
    if measuring:
        outputs += ("; in `/kaggle/working`: `bootstrap.json`, `mapsage-wheelhouse/` (mmcv and "
                    "the pinned wheels) and `pretrained/`, for the training kernel to attach")
    return [
        ("model", described),
        ("iterations", ", ".join(param(run, n) for n in
                                 ("max_iters", "val_interval", "checkpoint_interval"))),
        ("batch", ", ".join(param(run, n) for n in ("batch_size", "crop_size", "lr"))
         + " (per process; `lr` is given at 16 images and scaled to the effective batch)"),
        ("machine", f"{machine(spec)}; {processes(run)}"),
        ("device", device(run)),
        ("start weights", start_weights(run, continue_from)),
        ("data", data(run, attached)),
        ("outputs", outputs),
        ("time budget", time_budget(run, measuring)),
    ]


def table(rows: list) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {name} | {text} |" for name, text in rows)])


def cell_list(*, sha256: str, continue_from: str | None, work_dir: str,
              also_for_gpus: list[str], attaches_wheelhouse: bool, notebook_source: str) -> str:
    """What each cell MapSage put in front of the notebook does, in order."""
    items = [f"**{BUNDLE_TITLE}** (code hidden: it holds the code as base64): unpacks the "
             f"MapSage code this notebook carries (mapsage, envcheck, the configs, the pinned "
             f"lock; sha256 `{sha256[:12]}`, checked) and puts it on the import path."]
    if continue_from:
        items.append(f"**{CONTINUE_TITLE}**: copies the work_dir of {code(continue_from)} "
                     f"(attached as its output) into {code(work_dir)}, so training resumes "
                     "from its newest checkpoint.")
    items.append(f"**{FIRST_CHECKS_TITLE}** (seconds, standard library only): the training "
                 "data attached (LoveDA or your data set) in a layout MapSage reads, GPUs and "
                 "their compute capability, free disk, the toolkit and the internet when mmcv "
                 "would have to be built, session time spent. An error stops the notebook here "
                 "and names what to attach or switch on.")
    gpus = f", its CUDA ops also built for {', '.join(also_for_gpus)}" if also_for_gpus else ""
    where = ("offline from the attached bootstrap output when its wheel fits this image, else "
             "built in this session" if attaches_wheelhouse else
             "from an attached wheelhouse when one fits this image, else built in this session")
    items.append(f"**{PROVISION_TITLE}**: installs mmcv 2.1.0 with compiled ops{gpus} and the "
                 f"pinned OpenMMLab stack, {where}.")
    numbered = "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    return (f"MapSage's cells, in front of the notebook:\n\n{numbered}\n\nThen the notebook "
            f"itself, generated from `{notebook_source}` in the MapSage repository: its own "
            "introduction, its parameters cell and the injected-parameters cell (the values "
            "above), and the cells that run it.")


def intro(*, title: str, definition: str, injected: dict, run: dict, spec: dict,
          attached: list[dict], sha256: str, continue_from: str | None,
          notebook_source: str) -> str:
    """The Markdown of a built notebook's first cell."""
    lines = [f"# {title}", "",
             f"Built by `mapsage build kaggle` from the kernel definition `{definition}`. "
             "What this kernel runs:"]
    rows = run_rows(run, spec, attached, continue_from)
    if "full_run" in injected:  # the bootstrap: a short measured stretch of the full run
        full = {"model": run["model"], **injected["full_run"]}
        lines[-1] = (f"Built by `mapsage build kaggle` from the kernel definition `{definition}`. "
                     "It provisions this Kaggle image once, leaves what later runs need, and "
                     f"measures the recipe of `{spec.get('measures')}` ({param(full, 'max_iters')}"
                     "): a short stretch of that run, timed and projected to the full run in "
                     "`bootstrap.json`. The measured run:")
    lines += ["", table(rows), "",
              "Every parameter is in the injected-parameters cell below, and printed when the "
              "notebook checks them. To run other values, edit that cell here, or build the "
              "kernel again with `mapsage build kaggle -p NAME VALUE`.", "",
              cell_list(sha256=sha256, continue_from=continue_from, work_dir=run["work_dir"],
                        also_for_gpus=spec.get("also_for_gpus") or [],
                        attaches_wheelhouse=bool(spec.get("outputs_of")),
                        notebook_source=notebook_source)]
    return "\n".join(lines)
