"""Predict label maps with a trained checkpoint (``mapsage predict CHECKPOINT INPUT --out DIR``),
for any data set and any mmseg model a MapSage run trained.

The model and the data set come from the run's own config, named with ``--config`` (the config
mmengine saved in the run's work_dir, e.g. ``runs/roofs/fcn_tiny-128x128.py``), whose
``dataset_description`` (recorded by :func:`mapsage.training.config.apply_dataset`) is the data
set's description (:mod:`mapsage.data.dataset`), read back as strictly as a ``dataset.yaml``.
Without ``--config`` the checkpoint is LoveDA's, the model recognised from the weights
(``--model auto``) or named (``--model``); a run whose metrics.json records another data set is
refused, naming the config to pass. A config is Python that mmengine executes: MapSage executes
one only when it is named on the command line (``mapsage run``'s prediction names the config its
own run just saved), never because it lies beside a checkpoint.

``INPUT`` is a folder of images (those ending in the data set's ``img_suffix``), a LoveDA split
folder (``Test/``, ``Val/``: its ``{Urban,Rural}/images_png``), or a data set's root plus a split
name (``--split Test`` for LoveDA; ``--split test`` for a folder data set, whose split folders are
found as training finds them, :mod:`envcheck.folders`' shapes ``test/images``,
``img_dir/test``, ... or its description's ``splits``). Each image is segmented whole at the
recipe's test scale (the config's test pipeline, mmseg's ``inference_model``), and one label PNG
per image, named as the image (``.png``), is written directly into ``--out`` in the data set's
label convention: class index + ``label_offset``, so LoveDA's classes are 1..7 (0 is no data, as
mmseg's ``format_only`` writes a ``reduce_zero_label`` data set, ready to zip for the LoveDA test
server) and a data set without ``reduce_zero_label`` gets 0..N-1. A sample of colour overlays
(the data set's palette) goes into ``--out/overlays``. Test images need no masks. A LoveDA split
folder may be doubled (Kaggle's ``Test/Test``), found as training finds its splits
(:mod:`envcheck.loveda`).

Test-time options (:mod:`mapsage.training.predict_options`): sliding windows (the model's
``test_cfg`` mode='slide'), flip and multi-scale averaging (mmseg's ``SegTTAModel``). A long
prediction prints its progress (:mod:`mapsage.training.predict_progress`); ``--zip`` adds the
test server's zip (:mod:`mapsage.training.predict_zip`).

The checkpoint is vetted and loaded like every checkpoint (``weights_only``, MapSage's allowlist:
:mod:`mapsage.training.checkpoint.safe_load`), and its weights must fit the model exactly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envcheck import folders as folder_shapes
from envcheck.loveda import MAX_DEPTH, split_dir
from envcheck.walk import MAX_DIRS, walk
from mapsage.artefacts import METRICS
from mapsage.data.dataset import LOVEDA, Description, parse
from mapsage.data.layout import DOMAINS, IMAGES
from mapsage.errors import MapSageError
from mapsage.safe_write import link_message, refuse_link, replacing
from mapsage.training.predict_options import (
    WHOLE,
    TestOptions,
    apply_to_config,
    describe,
    tta_pipeline,
)
from mapsage.training.predict_progress import Progress
from mapsage.training.predict_zip import ZIP_NAME, write_zip

OVERLAY_DIR = "overlays"
OVERLAY_ALPHA = 0.5
LABEL_SUFFIX = ".png"  # label maps are written as PNGs, whatever the masks' suffix


@dataclass(frozen=True)
class Prediction:
    out: Path
    labels: list[Path]
    overlays: list[Path]
    model: str
    archive: Path | None = None
    description: Description = LOVEDA


@dataclass(frozen=True)
class RunConfig:
    """Where the model and the data set come from: the config file (None: MapSage's config of
    the model the weights describe) and the data set's description."""
    path: Path | None
    description: Description
    source: str  # in words, for messages: "the run's saved config '...'"


def saved_config(folder: Path) -> Path | None:
    """The config mmengine saved in a run's work_dir (``Runner.dump_config``: named as the
    config file the run was built from): the one metrics.json names, else the only ``.py``
    file there; None when there is none."""
    if not folder.is_dir():
        return None
    configs = sorted(p for p in folder.glob("*.py") if p.is_file())
    if not configs:
        return None
    try:
        named = json.loads((folder / METRICS).read_text()).get("config")
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, AttributeError):
        named = None
    if isinstance(named, str):
        match = [p for p in configs if p.name == Path(named).name]
        if match:
            return match[0]
    if len(configs) == 1:
        return configs[0]
    raise MapSageError(
        f"The checkpoint's folder {str(folder)!r} holds {len(configs)} config files "
        f"({', '.join(p.name for p in configs[:5])}) and no metrics.json naming the run's: "
        "which one the checkpoint was trained with is not known. Name it with --config.")


MAX_METRICS_BYTES = 16 * 2**20


def refuse_foreign_run(folder: Path) -> None:
    """Without ``--config``, a checkpoint is LoveDA's with one of MapSage's models. When the
    run's metrics.json (untrusted data: it can only make predict refuse) says it trained on
    another data set, stop and name
    the config to pass: a config is Python that mmengine executes, so MapSage runs one only when
    it is named on the command line, never because a file lies beside a checkpoint (an attached
    Kaggle input, a downloaded run)."""
    metrics_file = folder / METRICS
    try:  # untrusted data: it can only make predict refuse, never make it execute anything
        if not metrics_file.is_file() or metrics_file.stat().st_size > MAX_METRICS_BYTES:
            return
        dataset = json.loads(metrics_file.read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, AttributeError):
        return  # not a run MapSage can read: the weights decide (a misfit names --config)
    if not isinstance(dataset, dict) or dataset.get("name") == LOVEDA.name:
        return
    classes = dataset.get("classes")
    count = len(classes) if isinstance(classes, list) else "?"
    try:
        saved = saved_config(folder)
    except MapSageError:
        saved = None
    named = f"--config {str(saved)!r}" if saved else "--config FILE (the config it trained)"
    raise MapSageError(
        f"The run in {str(folder)!r} trained on {str(dataset.get('name'))[:100]!r} "
        f"({count} classes), not LoveDA, so predicting needs its "
        f"config: pass {named}. mmengine configs are Python, so MapSage executes one only when "
        "you name it: do so for a run you made or trust.")


def description_of(cfg, source: str) -> Description:
    """The data set a run's config records (``dataset_description``), read back as strictly
    as a dataset.yaml; LoveDA when it records none (a run from before data sets were
    described, or a config not saved by a run)."""
    recorded = cfg.get("dataset_description")
    if recorded is None:
        return LOVEDA
    try:
        data = json.loads(json.dumps(recorded))  # plain dicts and lists, as YAML gives them
    except (TypeError, ValueError):
        data = recorded
    description = parse(data, f"{source}: dataset_description")
    return LOVEDA if description.as_dict() == LOVEDA.as_dict() else description


def run_config(checkpoint: str | Path, *, model: str = "auto",
               config: str | Path | None = None) -> tuple[RunConfig, Any]:
    """The config (``--config``; MapSage's for ``--model``; else the run's saved config beside
    the checkpoint) read with mmengine, and its data set; ``(RunConfig, Config or None)``."""
    from mmengine.config import Config

    from mapsage.models import config_for_model, config_path

    if config is not None:
        path, source = config_path(str(config), "tiny"), f"--config {str(config)!r}"
    elif model != "auto":
        path, source = config_for_model(model), f"model {model!r}"
    else:
        refuse_foreign_run(Path(checkpoint).expanduser().parent)
        path, source = None, "LoveDA (no --config)"
    if path is None:
        return RunConfig(None, LOVEDA, source), None
    try:
        cfg = Config.fromfile(str(path))
    except MapSageError:
        raise
    except Exception as exc:  # mmengine raises whatever the config's Python raises
        raise MapSageError(
            f"{source} cannot be read as an mmengine config ({type(exc).__name__}: {exc}). "
            "Name the config the checkpoint was trained with (--config).") from None
    return RunConfig(path, description_of(cfg, source), source), cfg


def _loveda_split(root: Path, split: str) -> Path | None:
    """``root/split`` holding LoveDA domain folders, also down to
    :data:`envcheck.loveda.MAX_DEPTH` folders below ``root`` (as training finds LoveDA's root)
    or doubled (``Test/Test``), as archives unpack."""
    names = list(dict.fromkeys([split, split.capitalize()]))
    queue = [(root, 0)]
    while queue:
        here, depth = queue.pop(0)
        for name in names:
            for candidate in (here / name / name, here / name):
                if any((candidate / d / IMAGES).is_dir() for d in DOMAINS):
                    return candidate
        if depth < MAX_DEPTH and here.is_dir():
            queue.extend((p, depth + 1) for p in sorted(here.iterdir())
                         if p.is_dir() and not p.name.startswith("."))
    return None


def split_role(split: str) -> str | None:
    """The split role (train, val, test) a ``--split`` name stands for, any case."""
    for role, names in folder_shapes.SPLIT_NAMES.items():
        if split.lower() in {n.lower() for n in (role, *names)}:
            return role
    return None


def _folder_split(root: Path, split: str, description: Description) -> Path | None:
    """The images folder of a folder data set's split under ``root``: its description's
    ``splits`` (relative to ``root``, where its dataset.yaml is), else the shallowest of
    :data:`envcheck.folders.SHAPES` holding the split (a test-only data set included)."""
    role = split_role(split)
    if role is None:
        return None
    spec = (description.splits or {}).get(role)
    if spec is not None and (root / spec.images).is_dir():
        return root / spec.images
    for here, _, _ in walk(root, MAX_DEPTH, MAX_DIRS):
        for shape in folder_shapes.SHAPES:
            found = folder_shapes.splits_in(here, shape)
            if role in found:
                return found[role].images
    return None


def find_split(root: Path, split: str, description: Description = LOVEDA) -> list[Path]:
    """The images folders of ``split`` under the data set root ``root``: LoveDA's
    ``split/{Urban,Rural}/images_png`` or a folder data set's split images folder (the one
    the data set's description suggests tried first)."""
    def loveda() -> list[Path] | None:
        found = _loveda_split(root, split)
        return None if found is None else \
            [found / d / IMAGES for d in DOMAINS if (found / d / IMAGES).is_dir()]

    def folder() -> list[Path] | None:
        found = _folder_split(root, split, description)
        return None if found is None else [found]

    searches = (loveda, folder) if description.layout == LOVEDA.layout else (folder, loveda)
    for search in searches:
        found = search()
        if found:
            return found
    shapes = ", ".join(s.images.format(split=split, kind="images") for s in folder_shapes.SHAPES)
    raise MapSageError(
        f"No {split}/ split under {str(root)!r}: expected LoveDA's {split}/{{Urban,Rural}}/"
        f"{IMAGES} or a folder data set's images folder ({shapes}, or its dataset.yaml's "
        "splits), up to "
        f"{MAX_DEPTH} folders down. Unpack the split there, give its images folder itself, or "
        "check --split (train, val or test; LoveDA's Train, Val or Test).")


def label_name(image: Path, description: Description = LOVEDA) -> str:
    """The label PNG's name: the image's, its ``img_suffix`` replaced by ``.png``."""
    name, suffix = image.name, description.img_suffix
    if name.lower().endswith(suffix.lower()):
        return name[: len(name) - len(suffix)] + LABEL_SUFFIX
    return image.with_suffix(LABEL_SUFFIX).name


def find_images(source: str | Path, split: str | None = None,
                description: Description = LOVEDA) -> list[Path]:
    """The images to segment (files ending in the data set's ``img_suffix``): a folder of
    images, a LoveDA split folder, a folder data set's split folder (its ``images/``), or a
    data set root + split."""
    root = Path(source).expanduser()
    if split:
        image_folders = find_split(root, split, description)
    else:
        if root.is_dir():
            # a split folder given itself, also doubled as Kaggle's archives unpack (Test/Test)
            root = split_dir(root.parent, root.name) or root
        if not root.is_dir():
            raise MapSageError(
                f"{str(root)!r} is not a folder. Give a folder of images, a split folder "
                "(e.g. LoveDA's /data/LoveDA/Test, holding Urban/images_png and Rural/images_png, "
                "or a data set's test/ holding images/), or the data set's root and --split.")
        image_folders = [root / d / IMAGES for d in DOMAINS if (root / d / IMAGES).is_dir()]
        image_folders += [root / IMAGES] if (root / IMAGES).is_dir() else []
        if not image_folders and not _matching(root, description):
            image_folders = [root / k for k in folder_shapes.IMAGE_NAMES
                             if (root / k).is_dir()][:1]
        image_folders = image_folders or [root]
    images = sorted(p for folder in image_folders for p in _matching(folder, description))
    if not images:
        others = sorted({p.suffix.lower() for folder in image_folders if folder.is_dir()
                         for p in folder.iterdir() if p.is_file() and p.suffix})
        raise MapSageError(
            f"No images ending in {description.img_suffix} (the img_suffix of "
            f"{description.name}, the data set the model was trained on) in "
            f"{', '.join(str(f) for f in image_folders)}"
            + (f"; it holds files ending in {', '.join(others[:6])}" if others else "")
            + ". Point at a folder of the data set's images, a split folder, or a data set "
            "root and --split.")
    seen: dict[str, Path] = {}
    for image in images:
        name = label_name(image, description)
        if name in seen:
            raise MapSageError(
                f"Two images would write the same label file {name}: {seen[name]} and {image}. "
                "Predict each folder into its own --out.")
        seen[name] = image
    return images


def _matching(folder: Path, description: Description) -> list[Path]:
    suffix = description.img_suffix.lower()
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffix)
            and len(p.name) > len(suffix)]


def _stage_layers(state: dict) -> tuple[int, tuple[int, ...]] | None:
    """MiT width and blocks per stage, read from the weights' names and shapes."""
    first = state.get("backbone.layers.0.0.projection.weight")
    if first is None:
        return None
    blocks = []
    for stage in range(8):
        prefix = f"backbone.layers.{stage}.1."
        found = {k[len(prefix):].split(".", 1)[0] for k in state if k.startswith(prefix)}
        if not found:
            break
        blocks.append(len(found))
    return int(first.shape[0]), tuple(blocks)


def model_for_weights(state: dict) -> str:
    """The ``model=`` name whose config has the architecture these weights describe."""
    from mmengine.config import Config

    from mapsage.models import MODEL_CONFIGS, config_for_model

    arch = _stage_layers(state)
    for model in MODEL_CONFIGS:
        backbone = Config.fromfile(str(config_for_model(model))).model.backbone
        if arch == (backbone.embed_dims, tuple(backbone.num_layers)):
            return model
    raise MapSageError(
        "The checkpoint's weights are not those of a MapSage SegFormer (MiT width and blocks "
        f"per stage: {arch}); known: {', '.join(MODEL_CONFIGS)}. Name the model (--model) or "
        "the config it was trained with (--config)."
    )


def load_model(checkpoint: str | Path, *, model: str = "auto", config: str | Path | None = None,
               device: str = "cpu", trust: bool = False,
               options: TestOptions = WHOLE, run: tuple[RunConfig, Any] | None = None,
               ) -> tuple[Any, str]:
    """The segmentor of the run's config (:func:`run_config`) with the checkpoint's weights,
    on ``device``, its ``test_cfg`` set by ``options`` (``--mode``), its ``dataset_meta`` the
    data set's classes and palette (``segmentor.dataset_description``: the description)."""
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from mapsage.models import config_for_model
    from mapsage.training.checkpoint.safe_load import check_checkpoint, load_state_dict, misfits
    from mapsage.training.config import apply_test_scale

    found, cfg = run if run is not None else run_config(checkpoint, model=model, config=config)
    path, extra = check_checkpoint(checkpoint, trust=trust, role="checkpoint")
    state = load_state_dict(path, extra)
    if cfg is None:
        model = model_for_weights(state) if model == "auto" else model
        cfg = Config.fromfile(str(config_for_model(model)))
    else:
        model = model if found.path is None or (config is None and model != "auto") \
            else found.path.stem
    apply_test_scale(cfg)
    apply_to_config(cfg, options)
    segmentor = init_model(cfg, checkpoint=None, device="cpu")  # drops init_cfg: no download
    lines = misfits(state, segmentor.state_dict())
    if lines:
        raise MapSageError(
            f"checkpoint {str(path)!r} does not fit model {model!r} ({found.source}, "
            f"{found.description.num_classes} {found.description.name} classes):\n"
            + "\n".join(lines) + "\n"
            "Name the model it was trained as (--model) or its config (--config)."
        )
    with torch.no_grad():
        segmentor.load_state_dict(state, strict=True)
    segmentor.dataset_meta = found.description.metainfo()
    segmentor.dataset_description = found.description
    return segmentor.to(device).eval(), model


def overlay(image, labels, palette, alpha: float = OVERLAY_ALPHA):
    """``image`` (H, W, 3 RGB) blended with the palette colour of each class index."""
    import numpy as np

    colours = np.asarray(palette, dtype=np.float32)[labels]
    return (image.astype(np.float32) * (1 - alpha) + colours * alpha).round().astype(np.uint8)


def overlay_choice(images: list[Path], count: int) -> list[int]:
    """Indices (ascending) of the images that get an overlay: taken in turn from each folder
    the images are in (LoveDA's Rural and Urban), the first of each folder first, so even two
    overlays show every domain; a single folder gives its first ``count``."""
    groups: dict[Path, list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(image.parent, []).append(index)
    chosen: list[int] = []
    for depth in range(max((len(g) for g in groups.values()), default=0)):
        chosen += [g[depth] for g in groups.values() if depth < len(g)]
    return sorted(chosen[:max(count, 0)])


def check_out(out: Path, labels: list[Path], overlay_files: list[Path], overwrite: bool) -> None:
    """Refuse (before a model is loaded) an ``--out`` whose ``overlays`` folder is a symbolic
    link, and, without ``overwrite``, one that already holds a file, folder or link at a name
    this prediction writes: a link is named as such (dangling ones included)."""
    if os.path.lexists(out) and not out.is_dir():
        raise MapSageError(f"--out {str(out)!r} is a file, not a folder: the label PNGs go into "
                           "a folder. Give a folder (new or existing) as --out.")
    refuse_link(out / OVERLAY_DIR, "--out's overlay folder",
                f"Remove the link (rm {str(out / OVERLAY_DIR)!r}) or choose another --out.")
    if overwrite:
        return  # each file is replaced, a link at its name included, never written through
    existing = [p for p in [*labels, *overlay_files] if os.path.lexists(p)]
    links = [p for p in existing if p.is_symlink()]
    if links:
        raise MapSageError(link_message(
            links[0], f"--out {str(out)!r} holds {len(links)} symbolic link(s) at names this "
            "prediction writes; the first,",
            "Remove the links, choose another --out, or pass --overwrite to replace them (the "
            "links themselves, not what they point at)."))
    if existing:
        raise MapSageError(
            f"--out {str(out)!r} already holds {len(existing)} of the files this prediction "
            f"writes ({existing[0].relative_to(out)}, ...). Choose another --out, or pass "
            "--overwrite."
        )


def segmenter(segmentor, options: TestOptions):
    """``image path -> class map (H, W, class indices 0..N-1)``: mmseg's ``inference_model``, or with flip or
    several scales mmseg's ``SegTTAModel`` over a ``TestTimeAug`` pipeline (the softmax
    averaged over the augmented inputs, each at the image's own size)."""
    import torch
    from mmengine.dataset import Compose, pseudo_collate
    from mmseg.apis import inference_model
    from mmseg.models import SegTTAModel

    def whole(image: Path):
        return inference_model(segmentor, str(image)).pred_sem_seg.data[0]

    if not options.tta:
        return whole
    pipeline = Compose(tta_pipeline(segmentor.cfg.test_pipeline, options))
    tta = SegTTAModel(module=segmentor)

    def augmented(image: Path):
        with torch.no_grad():
            (result,) = tta.test_step(pseudo_collate([pipeline(dict(img_path=str(image)))]))
        return result.pred_sem_seg.data[0]

    return augmented


def predict(checkpoint: str | Path, source: str | Path, out: str | Path, *,
            split: str | None = None, model: str = "auto", config: str | Path | None = None,
            device: str = "cpu", overlays: int = 8, overwrite: bool = False,
            trust: bool = False, options: TestOptions = WHOLE, zip_labels: bool = False,
            progress=print, progress_every: int = 100,
            progress_seconds: float = 30.0) -> Prediction:
    """Segment every image of ``source`` and write label PNGs in the data set's convention
    (class index + ``label_offset``: LoveDA's 1..7) into ``out`` (and, with ``zip_labels``,
    a zip of them, LoveDA's test server's ``out/submission.zip``)."""
    import numpy as np
    from PIL import Image

    run = run_config(checkpoint, model=model, config=config)
    description = run[0].description
    images = find_images(source, split, description)
    out = Path(out).expanduser()
    labels = [out / label_name(image, description) for image in images]
    extra = [out / ZIP_NAME] if zip_labels else []
    shown = overlay_choice(images, overlays)
    check_out(out, labels + extra, [out / OVERLAY_DIR / labels[i].name for i in shown], overwrite)
    segmentor, model = load_model(checkpoint, model=model, config=config, device=device,
                                  trust=trust, options=options, run=run)
    segment = segmenter(segmentor, options)
    palette = description.palette
    offset = description.label_offset
    out.mkdir(parents=True, exist_ok=True)
    written_overlays = []
    ticker = Progress(len(images), progress, every=progress_every, seconds=progress_seconds)
    for index, (image, target) in enumerate(zip(images, labels, strict=True)):
        pred = segment(image).cpu().numpy().astype(np.int64)
        # the data set's convention: class index + label_offset (LoveDA: 0 = no data, 1..7)
        with replacing(target) as fh:  # a link there is replaced, never written through
            Image.fromarray((pred + offset).astype(np.uint8)).save(fh, format="PNG")
        if index in shown:
            rgb = np.asarray(Image.open(image).convert("RGB"))
            picture = out / OVERLAY_DIR / target.name
            picture.parent.mkdir(exist_ok=True)
            with replacing(picture) as fh:
                Image.fromarray(overlay(rgb, pred, palette)).save(fh, format="PNG")
            written_overlays.append(picture)
        ticker.step()
    archive = write_zip(out / ZIP_NAME, labels) if zip_labels else None
    if progress:
        progress(f"mapsage predict: wrote {len(labels)} label PNGs ({description.name} "
                 f"classes as {offset}..{offset + description.num_classes - 1}) to "
                 f"{out} and {len(written_overlays)} overlays to {out / OVERLAY_DIR} "
                 f"(model {model}, {describe(options)})"
                 + (f"; {'the test server' if description == LOVEDA else 'a'}'s zip: {archive}"
                    if archive else ""))
    return Prediction(out, labels, written_overlays, model, archive, description)
