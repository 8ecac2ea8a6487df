"""Weights for every backbone: where they come from, and a bounded cache of built models.

`weights="auto"` resolves in this order, and the source is always reported (random
weights are never silent):

1. ImageNet weights that an installed package ships (`BackboneSpec.package`): offline;
2. ImageNet weights already in the torch hub cache;
3. a verified download into the torch hub cache, when the network answers (`download.py`);
4. the project's bundled shapes weights (sha256-verified against their manifest);
5. random init from seed 0.

A user's own checkpoint (`checkpoint=`, with optional `classes=`) replaces all of them (`user.py`).

Environment: `SNAPMIX_OFFLINE=1` never touches the network; `SNAPMIX_WEIGHTS_MIRROR=URL`
fetches `URL/<original file name>` instead. Fetch ahead of time (a Space's build step, an
air-gapped copy) with `python -m snapmix_demo.weights fetch [NAME ...]`.
"""

import importlib.metadata
import importlib.resources
import json
import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from snapmix_demo.backbones import BackboneSpec, PackagedWeights, build_model, get_spec
from snapmix_demo.cache import BoundedCache
from snapmix_demo.errors import UserError, excerpt
from snapmix_demo.weights.checkpoints import (
    KEY_MAPS,
    fit_problems,
    load_checkpoint,
    remap_densenet_keys,
    verify_name_hash,
)
from snapmix_demo.weights.download import DownloadError, Progress, download, recently_failed, sha256
from snapmix_demo.weights.user import (
    Classes,
    UserCheckpoint,
    checkpoint_digest,
    class_list,
    class_names,
    head_size,
    read_checkpoint,
    similar_backbones,
)

__all__ = [
    "BUNDLED_DIR",
    "WEIGHT_CHOICES",
    "Backbone",
    "Classes",
    "DownloadError",
    "WeightsInfo",
    "available_weights",
    "cached_backbone",
    "clear_model_cache",
    "download",
    "fetch_imagenet",
    "hub_path",
    "imagenet_status",
    "load_backbone",
    "model_cache_info",
    "weights_classes",
]

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "weights"
WEIGHT_CHOICES = ("auto", "imagenet", "shapes", "random")
RETRY_AFTER_S = 300.0  # "auto" does not retry a URL that failed this recently
MODEL_CACHE_SIZE = int(os.environ.get("SNAPMIX_MODEL_CACHE_SIZE", "3"))


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights came from, and the class names its head predicts."""

    kind: str  # "imagenet", "shapes", "random" or "checkpoint"
    source: str  # human-readable origin, shown in the UI and in results (never a full path)
    classes: tuple[str, ...]
    sha256: str | None = None  # a user's checkpoint's full digest: what identifies it (the source shows 8 digits)


# ## Where ImageNet weights are


def hub_path(spec: BackboneSpec) -> Path:
    """Where torch.hub keeps (or would keep) `spec`'s ImageNet file: `$TORCH_HOME/hub/checkpoints/<file>`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urllib.parse.urlparse(spec.imagenet_url).path)


def _download_url(spec: BackboneSpec) -> str:
    mirror = os.environ.get("SNAPMIX_WEIGHTS_MIRROR", "").strip()
    return f"{mirror.rstrip('/')}/{hub_path(spec).name}" if mirror else spec.imagenet_url


def _packaged_file(package: PackagedWeights | None) -> Path | None:
    """The checkpoint inside an installed weights package, or None when the package is not installed."""
    if package is None:
        return None
    try:
        path = Path(str(importlib.resources.files(package.module).joinpath(package.file)))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def imagenet_status(name: str) -> str:
    """How backbone `name`'s ImageNet weights would be had now: "packaged", "cached" or "download"."""
    spec = get_spec(name)
    if _packaged_file(spec.package):
        return "packaged"
    return "cached" if hub_path(spec).is_file() else "download"


def available_weights(name: str) -> list[str]:
    """Weight kinds usable for backbone `name` without the network, best first."""
    kinds = ["imagenet"] if imagenet_status(name) != "download" else []
    if name in _bundled_manifest():
        kinds.append("shapes")
    return [*kinds, "random"]


def weights_classes(name: str, kind: str) -> tuple[str, ...]:
    """Class names that backbone `name` predicts with weights `kind`, without building the model."""
    if kind == "shapes" and (entry := _bundled_manifest().get(name)):
        return tuple(entry["classes"])
    return get_spec(name).classes


def fetch_imagenet(name: str, *, progress: Progress | None = None) -> str:
    """Make backbone `name`'s ImageNet weights available offline; "packaged", "cached" or "downloaded".

    Raises:
        DownloadError: the download failed; the message says what to do instead.
    """
    status = imagenet_status(name)
    if status != "download":
        return status
    spec = get_spec(name)
    try:
        download(_download_url(spec), hub_path(spec), progress=progress)
    except DownloadError as e:
        raise DownloadError(
            f"could not download the ImageNet weights of `{name}`: {e}. Check the network, set "
            f"SNAPMIX_WEIGHTS_MIRROR to a mirror, or run `python -m snapmix_demo.weights fetch {name}` on a "
            f"connected machine and copy {hub_path(spec).name} into its torch hub cache ($TORCH_HOME/hub/checkpoints)"
        ) from e
    return "downloaded"


# ## Resolution: one small function per source, tried in order


def _from_package(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    path = _packaged_file(spec.package)
    if path is None:
        return None
    verify_name_hash(path)
    model = build_model(spec.name, num_classes=len(spec.classes))
    model.load_state_dict(KEY_MAPS[spec.package.layout](load_checkpoint(path), model))
    version = importlib.metadata.version(spec.package.distribution)
    return model, WeightsInfo(
        "imagenet", f"ImageNet ({spec.package.distribution} {version}: {path.name})", spec.classes
    )


def _from_hub(spec: BackboneSpec, *, download_first: bool) -> tuple[nn.Module, WeightsInfo] | None:
    path = hub_path(spec)
    origin = "torch hub cache"
    if not path.is_file():
        if not download_first:
            return None
        fetch_imagenet(spec.name)
        origin = "downloaded"
    state = load_checkpoint(path)
    if spec.name.startswith("densenet"):
        state = remap_densenet_keys(state)
    model = build_model(spec.name, num_classes=len(spec.classes))
    model.load_state_dict(state)
    return model, WeightsInfo("imagenet", f"ImageNet ({origin}: {path.name})", spec.classes)


def _from_hub_or_download(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    """The ImageNet step of "auto": the hub cache, else a download unless this URL failed a moment ago."""
    offline = os.environ.get("SNAPMIX_OFFLINE") == "1"
    try:
        return _from_hub(spec, download_first=not (offline or recently_failed(_download_url(spec), RETRY_AFTER_S)))
    except DownloadError as e:
        logger.warning("%s", e)
        return None


def _bundled_manifest() -> dict[str, dict]:
    path = BUNDLED_DIR / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _from_bundled(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    entry = _bundled_manifest().get(spec.name)
    if entry is None:
        return None
    path = BUNDLED_DIR / entry["file"]
    if sha256(path) != entry["sha256"]:
        raise UserError(f"bundled weights `{path.name}` do not match their sha256 in the manifest; restore the file")
    state = {k: v.float() for k, v in load_checkpoint(path).items()}  # stored in half precision, computed in float32
    classes = tuple(entry["classes"])
    model = build_model(spec.name, num_classes=len(classes))
    model.load_state_dict(state)
    accuracy = entry.get("heldout_accuracy")
    score = f", {accuracy:.1%} held-out accuracy" if accuracy is not None else ""
    return model, WeightsInfo("shapes", f"bundled shapes model ({path.name}{score})", classes)


def _random(spec: BackboneSpec, why: str = "") -> tuple[nn.Module, WeightsInfo]:
    model = build_model(spec.name, num_classes=len(spec.classes))
    return model, WeightsInfo("random", f"random init, seed 0{why}: predictions are meaningless", spec.classes)


def _resolve(name: str, weights: str) -> tuple[nn.Module, WeightsInfo]:
    spec = get_spec(name)
    if weights not in WEIGHT_CHOICES:
        raise UserError(f"unknown weights `{excerpt(weights)}`; choose one of: {', '.join(WEIGHT_CHOICES)}")
    if weights == "random":
        return _random(spec)
    if weights == "imagenet":
        return _from_package(spec) or _from_hub(spec, download_first=True)
    if weights == "shapes":
        if found := _from_bundled(spec):
            return found
        raise UserError(f"no bundled shapes weights for `{name}`; available here: {', '.join(available_weights(name))}")
    if found := _from_package(spec) or _from_hub_or_download(spec) or _from_bundled(spec):
        return found
    logger.warning("no pretrained weights for %s offline: using random init", name)
    return _random(spec, " (no pretrained weights found or downloaded)")


def _from_checkpoint(
    spec: BackboneSpec, checkpoint: UserCheckpoint, names: tuple[str, ...] | None
) -> tuple[nn.Module, WeightsInfo]:
    """A user's checkpoint in `spec`'s architecture, its head sized from the checkpoint; a misfit says what fits."""
    try:
        count = head_size(checkpoint.state, spec.name)
    except KeyError:
        count = 1
    with torch.device("meta"):  # check the fit without building weights
        problems = fit_problems(checkpoint.state, build_model(spec.name, num_classes=count))
    if problems:
        others = similar_backbones(checkpoint.state, spec.name)
        hint = f" It looks like a checkpoint of {' or '.join(f'`{n}`' for n in others)}." if others else ""
        raise UserError(
            f"checkpoint `{excerpt(checkpoint.name)}` does not fit backbone `{spec.name}`: {'; '.join(problems)}.{hint}"
        )
    classes = class_names(names, count)
    model = build_model(spec.name, num_classes=count)
    model.load_state_dict(checkpoint.state)
    source = f"your checkpoint ({checkpoint.label}, {count} classes)"
    return model, WeightsInfo("checkpoint", source, classes, checkpoint.sha256)


# ## Bounded, thread-safe cache of built models (shared, read-only, eval mode)


@dataclass(frozen=True)
class Backbone:
    """A built model with its spec and the origin of its weights."""

    model: nn.Module
    spec: BackboneSpec
    weights: WeightsInfo


def _ready(name: str, model: nn.Module, info: WeightsInfo) -> Backbone:
    # channels_last: 10-20 % faster convolutions on CPU for every registered backbone (benchmarks/bench_core.py)
    model.eval().to(memory_format=torch.channels_last)
    return Backbone(model, get_spec(name), info)


def _load(name: str, weights: str) -> Backbone:
    return _ready(name, *_resolve(name, weights))


def _load_checkpoint(name: str, path: str | os.PathLike, names: tuple[str, ...] | None) -> Backbone:
    return _ready(name, *_from_checkpoint(get_spec(name), read_checkpoint(path), names))


def _check_weights(weights: str, checkpoint: object) -> None:
    if weights == "checkpoint" and checkpoint is None:
        raise UserError("weights `checkpoint` need a `checkpoint` file")
    allowed = ("auto", "checkpoint") if checkpoint is not None else WEIGHT_CHOICES
    if weights not in allowed:
        raise UserError(f"unknown weights `{excerpt(weights)}`; choose one of: {', '.join(allowed)}")


def load_backbone(
    name: str, *, weights: str = "auto", checkpoint: str | os.PathLike | None = None, classes: Classes = None
) -> nn.Module:
    """A fresh, patched, eval-mode model `name` with the resolved weights, or a user's `checkpoint`.

    The model is the caller's own (trainable: call `.train()`); `cached_backbone` shares frozen ones.

    `classes` names the checkpoint's classes: a list, or a text file with one name per line
    (default: `class 0` ... `class N-1`). `cached_backbone` also says where the weights came from.
    """
    get_spec(name)
    _check_weights(weights, checkpoint)
    if checkpoint is not None:
        return _load_checkpoint(name, checkpoint, class_list(classes)).model
    return _load(name, weights).model


_cache: BoundedCache[Backbone] = BoundedCache(MODEL_CACHE_SIZE)


def cached_backbone(
    name: str, *, weights: str = "auto", checkpoint: str | os.PathLike | None = None, classes: Classes = None
) -> Backbone:
    """The shared eval-mode model `name` with `weights` (or a user's `checkpoint`), built once while cached.

    A checkpoint is keyed by its content (sha256), not its path, so an identical upload reuses the model.
    """
    get_spec(name)  # fail fast, with the helpful message, before taking any lock
    _check_weights(weights, checkpoint)
    if checkpoint is None:
        return _cache.get_or_build((name, weights), lambda: _shared(_load(name, weights)))
    names = class_list(classes)
    key = (name, "checkpoint", checkpoint_digest(checkpoint), names)
    return _cache.get_or_build(key, lambda: _shared(_load_checkpoint(name, checkpoint, names)))


def _shared(backbone: Backbone) -> Backbone:
    """`backbone` made read-only: a cached model is shared between requests."""
    backbone.model.requires_grad_(False)
    return backbone


def clear_model_cache() -> None:
    """Drop every cached model (tests, or to free memory)."""
    _cache.clear()


def model_cache_info() -> dict[str, object]:
    """Cached keys, bound, number of builds so far and pending build locks."""
    return {
        "keys": _cache.keys(),
        "maxsize": _cache.maxsize,
        "builds": _cache.builds,
        "key_locks": _cache.pending_builds,
    }
