"""``mapsage predict``'s test-time options: sliding windows (``--mode slide``), flip and
multi-scale test-time augmentation (``--flip``, ``--scales``). Checked before a model loads;
applied to the config (the model's ``test_cfg``) and as mmseg's own TTA pipeline
(``TestTimeAug``) whose predictions mmseg's ``SegTTAModel`` merges (the softmax averaged over
the flipped and rescaled inputs, each brought back to the image's own size first).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapsage.errors import MapSageError

MODES = ("whole", "slide")


@dataclass(frozen=True)
class TestOptions:
    mode: str = "whole"
    crop_size: tuple[int, int] | None = None  # (height, width); None: the training crop
    stride: tuple[int, int] | None = None  # None: two thirds of the window, as mmseg's configs
    flip: bool = False
    scales: tuple[float, ...] = (1.0,)

    @property
    def tta(self) -> bool:
        return self.flip or self.scales != (1.0,)


WHOLE = TestOptions()
"""Each image whole, once: mmseg's ``inference_model`` as the config's test pipeline has it."""


def parse_pair(option: str, text: str | None) -> tuple[int, int] | None:
    """``"64"`` or ``"64,96"`` (height, width) as a pair of positive integers."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise MapSageError(
            f"{option} {text!r}: expected a window size in pixels, one positive integer or "
            f"height,width (e.g. {option} 512 or {option} 512,512). Give it so.")
    return values  # type: ignore[return-value]


def parse_scales(text: str | None) -> tuple[float, ...]:
    """``"0.75,1.0,1.25"``: distinct positive factors of the test scale."""
    if text is None:
        return (1.0,)
    try:
        values = tuple(float(p) for p in str(text).split(","))
    except ValueError:
        values = ()
    if (not values or any(not 0.1 <= v <= 4.0 for v in values)
            or len(set(values)) != len(values)):
        raise MapSageError(
            f"--scales {text!r}: expected distinct factors of the test scale between 0.1 and "
            "4, separated by commas (e.g. --scales 0.75,1.0,1.25). Give them so.")
    return values


def check_options(mode: str, crop_size: str | None = None, stride: str | None = None,
                  flip: bool = False, scales: str | None = None) -> TestOptions:
    """The options as :class:`TestOptions`, or a one-paragraph :class:`MapSageError`
    (the same rules as :func:`mapsage.training.config_check.check_test_cfg`)."""
    if mode not in MODES:
        raise MapSageError(f"--mode {mode!r}: expected 'whole' (each image at once) or "
                           "'slide' (sliding windows), the only modes mmseg knows. Give one.")
    crop, step = parse_pair("--crop-size", crop_size), parse_pair("--stride", stride)
    if mode == "whole" and (crop or step):
        raise MapSageError(
            f"--crop-size/--stride given with --mode {mode!r}: they set the sliding window, "
            "which only --mode slide uses. Add --mode slide, or drop them.")
    if crop and step and any(s > c for s, c in zip(step, crop, strict=True)):
        raise MapSageError(
            f"--stride {step} is larger than --crop-size {crop}: expected a stride no larger "
            "than the window, or pixels between windows go unpredicted (mmseg's slide_inference "
            f"fails). Use e.g. --stride {crop[0] * 2 // 3},{crop[1] * 2 // 3}.")
    return TestOptions(mode, crop, step, bool(flip), parse_scales(scales))


def apply_to_config(cfg, options: TestOptions) -> None:
    """Set the model's ``test_cfg`` for ``options.mode`` (the window defaults to the config's
    training crop and a stride of two thirds of it), checked by ``check_test_cfg``."""
    from mapsage.training.config_check import check_test_cfg

    if options.mode == "whole":
        cfg.model.test_cfg = dict(mode="whole")
        return
    crop = options.crop_size or tuple(cfg.get("crop_size") or (512, 512))
    stride = options.stride or (max(1, crop[0] * 2 // 3), max(1, crop[1] * 2 // 3))
    if any(s > c for s, c in zip(stride, crop, strict=True)):
        raise MapSageError(
            f"--stride {stride} is larger than the window {crop} (the model's training crop; "
            "--crop-size not given): expected a stride no larger than the window. Give "
            f"--crop-size, or e.g. --stride {crop[0] * 2 // 3},{crop[1] * 2 // 3}.")
    cfg.model.test_cfg = dict(mode="slide", crop_size=tuple(crop), stride=tuple(stride))
    errors = [f.message for f in check_test_cfg(cfg) if f.severity == "error"]
    if errors:
        raise MapSageError(errors[0])


def tta_pipeline(test_pipeline: list, options: TestOptions) -> list:
    """mmseg's ``TestTimeAug`` over ``test_pipeline``'s resize at each scale factor, each
    unflipped (and flipped with ``--flip``); no annotations are loaded."""
    resize = next((dict(t) for t in test_pipeline if t.get("type") == "Resize"), None)
    if resize is None or "scale" not in resize:
        raise MapSageError(
            "The config's test_pipeline has no Resize with a scale, which --scales multiplies. "
            "Predict without --scales, or with a config whose test pipeline resizes.")
    width, height = resize["scale"]
    resizes = [dict(resize, scale=(max(1, round(width * r)), max(1, round(height * r))))
               for r in options.scales]
    flips = [dict(type="RandomFlip", prob=0.0, direction="horizontal")]
    if options.flip:
        flips.append(dict(type="RandomFlip", prob=1.0, direction="horizontal"))
    return [dict(type="LoadImageFromFile"),
            dict(type="TestTimeAug",
                 transforms=[resizes, flips, [dict(type="PackSegInputs")]])]


def describe(options: TestOptions) -> str:
    """``whole image``, ``sliding 64x64 windows (stride 32x32)``, plus the TTA, in words."""
    words = ["whole images" if options.mode == "whole" else "sliding windows"
             + (f" {options.crop_size[0]}x{options.crop_size[1]}" if options.crop_size else "")
             + (f" (stride {options.stride[0]}x{options.stride[1]})" if options.stride else "")]
    if options.flip:
        words.append("flip")
    if options.scales != (1.0,):
        words.append("scales " + ",".join(f"{r:g}" for r in options.scales))
    return ", ".join(words)
