"""ImageNet-pretrained MiT backbones: which file, where it is on this machine, and that it fits.

mmseg's SegFormer configs start the MiT encoder from ImageNet-1k weights that OpenMMLab publishes
(``https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_bN_20220624-<hash>.pth``);
MapSage's ``segformer_mit-b*`` configs name the same files in ``model.backbone.init_cfg``. The
``pretrained`` parameter chooses: ``'auto'`` keeps the config's choice, ``'imagenet'`` picks the
file of the MiT size the backbone has, a path uses that file, None trains from scratch. A
``load_from`` checkpoint (the whole model) wins: nothing is downloaded or loaded before it.

A weights file named by URL is looked for, without any network access, in

1. ``$MAPSAGE_PRETRAINED_DIR`` (default ``~/.cache/mapsage/pretrained``),
2. torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``), where mmengine itself caches
   downloads,
3. on Kaggle, anywhere under ``/kaggle/input`` (an attached data set or model), by file name,
   used only when its sha256 starts with the prefix the published name carries (anything
   attached is someone else's file; the two cache folders above are this machine's own).

Only when training starts and the file is in none of them is it downloaded into the first
folder, checked against the sha256 prefix in its name the way torch.hub does (unless
``MAPSAGE_OFFLINE=1``); a failed download is a clear error naming the file and where to put it.
The file is then vetted and loaded like every checkpoint (``weights_only``, MapSage's allowlist:
:mod:`mapsage.training.checkpoint.safe_load`), and refused when its tensors do not fit the backbone.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapsage import kaggle_platform
from mapsage.errors import MapSageError
from mapsage.params import PRETRAINED_AUTO, PRETRAINED_IMAGENET

CACHE_ENV = "MAPSAGE_PRETRAINED_DIR"
OFFLINE_ENV = "MAPSAGE_OFFLINE"
DEFAULT_CACHE = "~/.cache/mapsage/pretrained"
HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's convention: name-<sha256 prefix>.pth
DOWNLOAD_TIMEOUT_S = 60
_ARCH_KEYS = ("type", "embed_dims", "num_stages", "num_layers", "num_heads", "patch_sizes",
              "sr_ratios", "in_channels")


def cache_dir() -> Path:
    """Where downloaded weights go (and are looked for first)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoint folder, where mmengine caches the URLs it downloads."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def search_dirs() -> list[Path]:
    return [cache_dir(), torch_hub_checkpoints()]


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def is_url(checkpoint: str) -> bool:
    return checkpoint.startswith(("http://", "https://"))


@dataclass(frozen=True)
class WeightsSource:
    """Where one pretrained weights file comes from."""

    checkpoint: str  # as the config or parameter names it (URL or path)
    name: str  # its file name
    path: Path | None  # the local file, when one exists
    url: str | None  # where it can be downloaded from
    refused: str | None = None  # a file found under that name that is not the published one

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.url is not None:
            return (f"{self.url} (not on this machine: downloaded into {cache_dir()} when "
                    "training starts)")
        return f"{self.checkpoint} (missing)"


OPENMMLAB_PREFIXES = ("open-mmlab://", "openmmlab://")
"""mmseg's own configs name backbone weights this way (``open-mmlab://resnet50_v1c``): a name in
mmengine's list of published files (``mmengine/hub/openmmlab.json``)."""


def published_url(checkpoint: str) -> str:
    """The https URL an ``open-mmlab://NAME`` checkpoint stands for (mmengine's own table, as its
    ``load_from_openmmlab`` reads it); any other checkpoint unchanged."""
    prefix = next((p for p in OPENMMLAB_PREFIXES if checkpoint.startswith(p)), None)
    if prefix is None:
        return checkpoint
    from mmengine.runner.checkpoint import get_deprecated_model_names, get_external_models

    name = checkpoint[len(prefix):]
    name = get_deprecated_model_names().get(name, name)
    urls = get_external_models()
    if name not in urls:
        raise MapSageError(f"The config's pretrained weights {checkpoint!r} are not in mmengine's "
                           "list of OpenMMLab weights (mmengine/hub/openmmlab.json). Use a URL or "
                           "a local .pth file (pretrained=PATH), or pretrained=None.")
    return urls[name]


def locate(checkpoint: str) -> WeightsSource:
    """Find the file ``checkpoint`` names on this machine, without any network access."""
    checkpoint = published_url(checkpoint)
    if not is_url(checkpoint):
        path = Path(checkpoint).expanduser()
        if not path.is_file() and kaggle_platform.on_kaggle():
            path = kaggle_platform.find_input_file(kaggle_platform.localize(str(path))) or path
        return WeightsSource(checkpoint, path.name, path.resolve() if path.is_file() else None,
                             None)
    name = checkpoint.rsplit("/", 1)[-1].split("?")[0]
    for folder in search_dirs():
        if (folder / name).is_file():
            return WeightsSource(checkpoint, name, folder / name, checkpoint)
    if kaggle_platform.on_kaggle():
        found = kaggle_platform.find_input_file(str(kaggle_platform.input_dir() / name))
        if found is not None and found.is_file():
            problem = hash_problem(found)
            if problem is None:
                return WeightsSource(checkpoint, name, found, checkpoint)
            print(f"mapsage: not using {found}: {problem}", flush=True)
            return WeightsSource(checkpoint, name, None, checkpoint, refused=f"{found}: {problem}")
    return WeightsSource(checkpoint, name, None, checkpoint)


def hash_problem(path: Path) -> str | None:
    """Why a weights file found under ``/kaggle/input`` cannot be the published one: its sha256
    does not start with the prefix its name carries (torch.hub's ``name-<prefix>.pth``), or its
    name carries none. None when it matches. (Anything attached to a Kaggle notebook is another
    person's file: only the hash MapSage reads from the published name vouches for it.)"""
    import hashlib

    match = HASH_IN_NAME.search(path.name)
    if match is None:
        return "its name carries no sha256 prefix to check it against"
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(match.group(1)):
        return (f"its sha256 starts {digest.hexdigest()[:len(match.group(1))]}, not "
                f"{match.group(1)} as its published name says: another file under that name")
    return None


def _missing(source: WeightsSource, why: str) -> MapSageError:
    kaggle = (f"On Kaggle: attach a data set (or model) holding {source.name} to the notebook "
              "(Add Input); it is found anywhere under /kaggle/input, and used when its sha256 "
              "matches the prefix in its name. ")
    refused = f" Refused: {source.refused}." if source.refused else ""
    return MapSageError(
        f"Pretrained weights {source.name} are not on this machine and cannot be downloaded "
        f"({why}).{refused} Download {source.url} where there is internet and put the file in "
        f"{cache_dir()} (or point {CACHE_ENV} at its folder). {kaggle}"
        "Or set pretrained=/path/to/the/file.pth, or pretrained=None to train from scratch "
        "(far below the published accuracy). Nothing was trained."
    )


def fetch(source: WeightsSource) -> Path:
    """The local file of ``source``; downloads it (hash-checked) when there is none."""
    if source.path is not None:
        return source.path
    if source.url is None:
        raise MapSageError(
            f"pretrained {source.checkpoint!r} does not exist. Point pretrained at a .pth file "
            "of MiT backbone weights, or use pretrained='imagenet', 'auto' or None."
        )
    if offline():
        raise _missing(source, f"{OFFLINE_ENV}=1")
    import torch.hub

    target = cache_dir() / source.name
    match = HASH_IN_NAME.search(source.name)
    previous = socket.getdefaulttimeout()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        print(f"mapsage: downloading {source.url} into {target.parent}", flush=True)
        torch.hub.download_url_to_file(source.url, str(target),
                                       hash_prefix=match.group(1) if match else None,
                                       progress=False)
    except OSError as exc:  # URLError, timeouts, no route to host, read-only cache folder
        raise _missing(source, f"{type(exc).__name__}: {exc}") from exc
    except RuntimeError as exc:  # torch.hub: 'invalid hash value' (the partial file is removed)
        raise MapSageError(
            f"The download of {source.url} does not match the sha256 prefix in its name "
            f"({exc}). It was discarded; try again, or download it yourself and put it in "
            f"{cache_dir()}."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return target


def pretrained_inits(model_cfg: Any) -> list[dict]:
    """Every ``init_cfg=dict(type='Pretrained', checkpoint=...)`` inside the model config."""
    found, stack = [], [model_cfg]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Pretrained" and isinstance(node.get("checkpoint"), str):
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return found


def _arch(backbone: Any) -> tuple:
    return tuple(str(backbone.get(key)) for key in _ARCH_KEYS)


def imagenet_checkpoint(backbone: Any) -> str:
    """The ImageNet weights URL for ``backbone``: the one the MiT-B* config of the same
    architecture names (the configs are the one list of those files)."""
    from mmengine.config import Config

    from mapsage.models import MODEL_CONFIGS, config_for_model

    sizes = []
    for model in MODEL_CONFIGS:
        cfg = Config.fromfile(str(config_for_model(model)))
        inits = pretrained_inits(cfg.model.backbone)
        if not inits:
            continue
        sizes.append(model)
        if _arch(cfg.model.backbone) == _arch(backbone):
            return inits[0]["checkpoint"]
    raise MapSageError(
        f"pretrained='imagenet': there are no ImageNet weights for this backbone "
        f"({backbone.get('type')}, embed_dims={backbone.get('embed_dims')}, "
        f"num_layers={backbone.get('num_layers')}); they exist for the MiT sizes of model="
        f"{', '.join(sizes)}. Use one of those models, a weights file (pretrained=PATH), or "
        "pretrained=None."
    )


def apply_pretrained(cfg: Any, pretrained: str | None, *, load_from: str | None = None) -> None:
    """Set the backbone's ``init_cfg`` from the ``pretrained`` parameter; replace weights URLs by
    local copies already on this machine. No network access."""
    backbone = cfg.model.get("backbone")
    if isinstance(cfg.model.get("pretrained"), str) and backbone is not None:
        # mmseg's configs: model.pretrained='open-mmlab://...', which EncoderDecoder hands to
        # the backbone; as the backbone's init_cfg it is located, vetted and fetched like any
        backbone["init_cfg"] = dict(type="Pretrained", checkpoint=cfg.model["pretrained"])
        cfg.model["pretrained"] = None
    if load_from or pretrained is None:
        # a whole-model checkpoint wins: nothing to download or load before it
        drop_pretrained(cfg)
        return
    if backbone is None:
        if pretrained != PRETRAINED_AUTO:
            raise MapSageError(f"pretrained={pretrained!r} needs a model with a backbone; this "
                               "config has none. Use pretrained='auto' or None.")
        return
    if pretrained == PRETRAINED_IMAGENET:
        backbone["init_cfg"] = dict(type="Pretrained", checkpoint=imagenet_checkpoint(backbone))
    elif pretrained != PRETRAINED_AUTO:
        source = locate(pretrained)
        if source.path is None:
            raise MapSageError(
                f"pretrained {pretrained!r} does not exist. Point pretrained at a .pth file of "
                f"{backbone.get('type')} weights, or use pretrained='auto', 'imagenet' or None."
            )
        backbone["init_cfg"] = dict(type="Pretrained", checkpoint=str(source.path))
    for node in pretrained_inits(cfg.model):
        source = locate(node["checkpoint"])
        if source.path is not None:
            node["checkpoint"] = str(source.path)


def drop_pretrained(cfg: Any) -> None:
    """No pretrained initialisation: from scratch, or weights that ``load_from`` brings."""
    _drop_inits(cfg.model)
    if "pretrained" in cfg.model:
        cfg.model["pretrained"] = None


def _is_pretrained(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "Pretrained"


def _drop_inits(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == "init_cfg" and _is_pretrained(value):
                node[key] = None
            elif key == "init_cfg" and isinstance(value, list):
                node[key] = [v for v in value if not _is_pretrained(v)] or None
            else:
                _drop_inits(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_inits(value)


def ensure_local(cfg: Any) -> list[Path]:
    """Download what the config's ``Pretrained`` inits name and this machine lacks; point the
    config at the local files. Raises the clear error when that is impossible."""
    paths = []
    for node in pretrained_inits(cfg.model):
        source = locate(node["checkpoint"])
        path = fetch(source)
        node["checkpoint"] = str(path)
        paths.append(path)
    return paths


def describe(cfg: Any) -> str:
    """Where the model's initial weights come from, in one line (no network access)."""
    if cfg.get("load_from"):
        return f"load_from {cfg.load_from} (the whole model)"
    inits = pretrained_inits(cfg.model)
    if not inits:
        return "from scratch (random initialisation)"
    return "; ".join(f"pretrained backbone from {locate(n['checkpoint']).describe()}"
                     for n in inits)


def check_fits(path: Path, module: Any, extra: list | None = None) -> None:
    """Refuse weights for another MiT size (or another network), listing the misfits.

    mmengine loads ``init_cfg`` weights with ``strict=False``: a file for the wrong size would
    only log warnings and leave the mismatched layers random.
    """
    from mapsage.training.checkpoint.safe_load import load_state_dict, misfits

    saved = load_state_dict(path, extra, role="pretrained")
    lines = misfits(saved, module.state_dict(), extra_keys_matter=False, source="file")
    if not lines:
        return
    raise MapSageError(
        f"Pretrained weights {str(path)!r} do not fit this model's backbone (a file for another "
        "MiT size?):\n" + "\n".join(lines) + "\n"
        "Use the weights of the model's own size (pretrained='imagenet' picks them), or "
        "pretrained=None. Nothing was trained."
    )
