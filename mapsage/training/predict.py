"""Predict LoveDA label maps with a trained checkpoint (``mapsage predict CHECKPOINT INPUT --out DIR``).

``INPUT`` is a folder of images, or a LoveDA split folder (``Test/``, ``Val/``: its
``{Urban,Rural}/images_png``), or a data root plus a split name (``/data/LoveDA`` and
``--split Test``). Each image is segmented whole at the recipe's test scale (the config's test
pipeline, mmseg's ``inference_model``), and one label PNG per image, named as the image, is
written directly into ``--out`` in LoveDA's label convention: classes 1..7 (background, building,
road, water, barren, forest, agricultural), as mmseg's ``format_only`` writes them for data sets
with ``reduce_zero_label``, ready to zip for the LoVEDA test server. A sample of colour overlays
(LoveDA palette) goes into ``--out/overlays``. Test images need no masks. A split folder may be
doubled (Kaggle's ``Test/Test``), found as training finds its splits (:mod:`envcheck.loveda`).

Test-time options (:mod:`mapsage.training.predict_options`): sliding windows (the model's
``test_cfg`` mode='slide'), flip and multi-scale averaging (mmseg's ``SegTTAModel``). A long
prediction prints its progress (:mod:`mapsage.training.predict_progress`); ``--zip`` adds the
test server's zip (:mod:`mapsage.training.predict_zip`).

The checkpoint is vetted and loaded like every checkpoint (``weights_only``, MapSage's allowlist:
:mod:`mapsage.training.checkpoint.safe_load`), and its weights must fit the model exactly. The model is the
one its weights describe (``--model auto``), or the one named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envcheck.loveda import MAX_DEPTH, split_dir
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

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
OVERLAY_DIR = "overlays"
OVERLAY_ALPHA = 0.5


@dataclass(frozen=True)
class Prediction:
    out: Path
    labels: list[Path]
    overlays: list[Path]
    model: str
    archive: Path | None = None


def find_split(root: Path, split: str) -> Path:
    """``root/split`` holding LoveDA domain folders, also down to
    :data:`envcheck.loveda.MAX_DEPTH` folders below ``root`` (as training finds LoveDA's root)
    or doubled (``Test/Test``), as archives unpack."""
    queue = [(root, 0)]
    while queue:
        here, depth = queue.pop(0)
        for candidate in (here / split / split, here / split):
            if any((candidate / d / IMAGES).is_dir() for d in DOMAINS):
                return candidate
        if depth < MAX_DEPTH and here.is_dir():
            queue.extend((p, depth + 1) for p in sorted(here.iterdir())
                         if p.is_dir() and not p.name.startswith("."))
    raise MapSageError(
        f"No LoveDA {split}/ split under {str(root)!r}: expected {split}/{{Urban,Rural}}/"
        f"{IMAGES}. Unpack LoveDA's {split}.zip there, or give the folder of images itself."
    )


def find_images(source: str | Path, split: str | None = None) -> list[Path]:
    """The images to segment: a folder of images, a LoveDA split folder or data root + split."""
    root = Path(source).expanduser()
    if split:
        root = find_split(root, split)
    elif root.is_dir():
        # a split folder given itself, also doubled as Kaggle's archives unpack (Test/Test)
        root = split_dir(root.parent, root.name) or root
    if not root.is_dir():
        raise MapSageError(
            f"{str(root)!r} is not a folder. Give a folder of images, a LoveDA split folder "
            "(e.g. /data/LoveDA/Test, holding Urban/images_png and Rural/images_png), or a "
            "LoveDA root and --split Test."
        )
    folders = [root / d / IMAGES for d in DOMAINS if (root / d / IMAGES).is_dir()]
    folders += [root / IMAGES] if (root / IMAGES).is_dir() else []
    folders = folders or [root]
    images = sorted(p for folder in folders for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise MapSageError(
            f"No images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(str(f) for f in folders)}. "
            "Point at a folder of images or a LoveDA split folder."
        )
    seen: dict[str, Path] = {}
    for image in images:
        name = image.with_suffix(".png").name
        if name in seen:
            raise MapSageError(
                f"Two images would write the same label file {name}: {seen[name]} and {image}. "
                "Predict each folder into its own --out."
            )
        seen[name] = image
    return images


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
               options: TestOptions = WHOLE) -> tuple[Any, str]:
    """The segmentor of ``config`` (or of ``model``) with the checkpoint's weights, on
    ``device``, its ``test_cfg`` set by ``options`` (``--mode``)."""
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model
    from mmseg.datasets import LoveDADataset

    from mapsage.models import config_for_model
    from mapsage.training.checkpoint.safe_load import check_checkpoint, load_state_dict, misfits
    from mapsage.training.config import apply_test_scale

    path, extra = check_checkpoint(checkpoint, trust=trust, role="checkpoint")
    state = load_state_dict(path, extra)
    if config is None:
        model = model_for_weights(state) if model == "auto" else model
        config = config_for_model(model)
    else:
        model = Path(config).stem
    cfg = Config.fromfile(str(config))
    apply_test_scale(cfg)
    apply_to_config(cfg, options)
    segmentor = init_model(cfg, checkpoint=None, device="cpu")  # drops init_cfg: no download
    lines = misfits(state, segmentor.state_dict())
    if lines:
        raise MapSageError(
            f"checkpoint {str(path)!r} does not fit model {model!r}:\n" + "\n".join(lines) + "\n"
            "Name the model it was trained as (--model) or its config (--config)."
        )
    with torch.no_grad():
        segmentor.load_state_dict(state, strict=True)
    segmentor.dataset_meta = dict(LoveDADataset.METAINFO)
    return segmentor.to(device).eval(), model


def overlay(image, labels, palette, alpha: float = OVERLAY_ALPHA):
    """``image`` (H, W, 3 RGB) blended with the palette colour of each label 0..6."""
    import numpy as np

    colours = np.asarray(palette, dtype=np.float32)[labels]
    return (image.astype(np.float32) * (1 - alpha) + colours * alpha).round().astype(np.uint8)


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
    """``image path -> class map (H, W, 0..6)``: mmseg's ``inference_model``, or with flip or
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
    """Segment every image of ``source`` and write LoveDA label PNGs (1..7) into ``out``
    (and, with ``zip_labels``, the test server's zip of them, ``out/submission.zip``)."""
    import numpy as np
    from PIL import Image

    images = find_images(source, split)
    out = Path(out).expanduser()
    labels = [out / image.with_suffix(".png").name for image in images]
    extra = [out / ZIP_NAME] if zip_labels else []
    check_out(out, labels + extra,
              [out / OVERLAY_DIR / p.name for p in labels[:max(overlays, 0)]], overwrite)
    segmentor, model = load_model(checkpoint, model=model, config=config, device=device,
                                  trust=trust, options=options)
    segment = segmenter(segmentor, options)
    palette = segmentor.dataset_meta["palette"]
    out.mkdir(parents=True, exist_ok=True)
    written_overlays = []
    ticker = Progress(len(images), progress, every=progress_every, seconds=progress_seconds)
    for index, (image, target) in enumerate(zip(images, labels, strict=True)):
        pred = segment(image).cpu().numpy().astype(np.uint8)
        # LoveDA's convention (reduce_zero_label data set): 0 = no-data, classes 1..7
        with replacing(target) as fh:  # a link there is replaced, never written through
            Image.fromarray(pred + 1).save(fh, format="PNG")
        if index < overlays:
            rgb = np.asarray(Image.open(image).convert("RGB"))
            picture = out / OVERLAY_DIR / target.name
            picture.parent.mkdir(exist_ok=True)
            with replacing(picture) as fh:
                Image.fromarray(overlay(rgb, pred, palette)).save(fh, format="PNG")
            written_overlays.append(picture)
        ticker.step()
    archive = write_zip(out / ZIP_NAME, labels) if zip_labels else None
    if progress:
        progress(f"mapsage predict: wrote {len(labels)} label PNGs (LoveDA classes 1..7) to "
                 f"{out} and {len(written_overlays)} overlays to {out / OVERLAY_DIR} "
                 f"(model {model}, {describe(options)})"
                 + (f"; the test server's zip: {archive}" if archive else ""))
    return Prediction(out, labels, written_overlays, model, archive)

