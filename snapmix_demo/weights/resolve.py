"""Resolving a backbone's weights: one small function per source, tried in order, and a user's own checkpoint.

Every function here takes the backbone's spec, looked up once where the name came in (`load_backbone`,
`models.cached_backbone`, the pipeline). Our own files (packaged, hub cache, bundled) are verified and
read with `load_trusted_state`; a user's file is untrusted and read with `read_untrusted_checkpoint`.
"""

import importlib.metadata
import logging
import os
from dataclasses import dataclass

import torch
from torch import nn

from snapmix_demo.backbones import BackboneSpec, build_model, spec_of
from snapmix_demo.errors import UserError, excerpt
from snapmix_demo.weights import imagenet, kinds
from snapmix_demo.weights.checkpoints import (
    KEY_MAPS,
    fit_problems,
    load_trusted_state,
    remap_densenet_keys,
    verify_name_hash,
)
from snapmix_demo.weights.download import DownloadError, recently_failed, sha256
from snapmix_demo.weights.kinds import WEIGHT_CHOICES, available_weights
from snapmix_demo.weights.user import (
    Classes,
    UserCheckpoint,
    class_list,
    class_names,
    head_size,
    read_untrusted_checkpoint,
    similar_backbones,
)

__all__ = [
    "Backbone",
    "WeightsInfo",
    "build_backbone",
    "check_weights",
    "load_backbone",
    "user_checkpoint_backbone",
]

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 300.0  # "auto" does not retry a URL that failed this recently


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights came from, and the class names its head predicts."""

    kind: str  # "imagenet", "shapes", "random" or "checkpoint"
    source: str  # human-readable origin, shown in the UI and in results (never a full path)
    classes: tuple[str, ...]
    sha256: str | None = None  # a user's checkpoint's full digest: what identifies it (the source shows 8 digits)


@dataclass(frozen=True)
class Backbone:
    """A built model with its spec and the origin of its weights."""

    model: nn.Module
    spec: BackboneSpec
    weights: WeightsInfo


# ## Our own weights: one small function per source, tried in order


def _from_package(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    path = imagenet.packaged_file(spec.package)
    if path is None:
        return None
    verify_name_hash(path)
    model = build_model(spec, num_classes=len(spec.classes))
    model.load_state_dict(KEY_MAPS[spec.package.layout](load_trusted_state(path), model))
    version = importlib.metadata.version(spec.package.distribution)
    return model, WeightsInfo(
        "imagenet", f"ImageNet ({spec.package.distribution} {version}: {path.name})", spec.classes
    )


def _from_hub(spec: BackboneSpec, *, download_first: bool) -> tuple[nn.Module, WeightsInfo] | None:
    path = imagenet.hub_path(spec)
    origin = "torch hub cache"
    if not path.is_file():
        if not download_first:
            return None
        imagenet.fetch_imagenet(spec)
        origin = "downloaded"
    state = load_trusted_state(path)
    if spec.name.startswith("densenet"):
        state = remap_densenet_keys(state)
    model = build_model(spec, num_classes=len(spec.classes))
    model.load_state_dict(state)
    return model, WeightsInfo("imagenet", f"ImageNet ({origin}: {path.name})", spec.classes)


def _from_hub_or_download(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    """The ImageNet step of "auto": the hub cache, else a download unless this URL failed a moment ago."""
    offline = os.environ.get("SNAPMIX_OFFLINE") == "1"
    retry = not (offline or recently_failed(imagenet.download_url(spec), RETRY_AFTER_S))
    try:
        return _from_hub(spec, download_first=retry)
    except DownloadError as e:
        logger.warning("%s", e)
        return None


def _from_bundled(spec: BackboneSpec) -> tuple[nn.Module, WeightsInfo] | None:
    entry = kinds.bundled_entry(spec)
    if entry is None:
        return None
    path = kinds.BUNDLED_DIR / entry["file"]
    if sha256(path) != entry["sha256"]:
        raise UserError(f"bundled weights `{path.name}` do not match their sha256 in the manifest; restore the file")
    state = {k: v.float() for k, v in load_trusted_state(path).items()}  # stored in half precision, run in float32
    classes = tuple(entry["classes"])
    model = build_model(spec, num_classes=len(classes))
    model.load_state_dict(state)
    accuracy = entry.get("heldout_accuracy")
    score = f", {accuracy:.1%} held-out accuracy" if accuracy is not None else ""
    return model, WeightsInfo("shapes", f"bundled shapes model ({path.name}{score})", classes)


def _random(spec: BackboneSpec, why: str = "") -> tuple[nn.Module, WeightsInfo]:
    model = build_model(spec, num_classes=len(spec.classes))
    return model, WeightsInfo("random", f"random init, seed 0{why}: predictions are meaningless", spec.classes)


def _resolve(spec: BackboneSpec, weights: str) -> tuple[nn.Module, WeightsInfo]:
    if weights not in WEIGHT_CHOICES:
        raise UserError(f"unknown weights `{excerpt(weights)}`; choose one of: {', '.join(WEIGHT_CHOICES)}")
    if weights == "random":
        return _random(spec)
    if weights == "imagenet":
        return _from_package(spec) or _from_hub(spec, download_first=True)
    if weights == "shapes":
        if found := _from_bundled(spec):
            return found
        here = ", ".join(available_weights(spec))
        raise UserError(f"no bundled shapes weights for `{spec.name}`; available here: {here}")
    if found := _from_package(spec) or _from_hub_or_download(spec) or _from_bundled(spec):
        return found
    logger.warning("no pretrained weights for %s offline: using random init", spec.name)
    return _random(spec, " (no pretrained weights found or downloaded)")


# ## A user's own checkpoint: untrusted, fitted to the architecture it claims


def _from_user_checkpoint(
    spec: BackboneSpec, checkpoint: UserCheckpoint, names: tuple[str, ...] | None
) -> tuple[nn.Module, WeightsInfo]:
    """A user's checkpoint in `spec`'s architecture, its head sized from the checkpoint; a misfit says what fits."""
    try:
        count = head_size(checkpoint.state, spec)
    except KeyError:
        count = 1
    with torch.device("meta"):  # check the fit without building weights
        problems = fit_problems(checkpoint.state, build_model(spec, num_classes=count))
    if problems:
        others = similar_backbones(checkpoint.state, spec)
        hint = f" It looks like a checkpoint of {' or '.join(f'`{n}`' for n in others)}." if others else ""
        raise UserError(
            f"checkpoint `{excerpt(checkpoint.name)}` does not fit backbone `{spec.name}`: {'; '.join(problems)}.{hint}"
        )
    classes = class_names(names, count)
    model = build_model(spec, num_classes=count)
    model.load_state_dict(checkpoint.state)
    source = f"your checkpoint ({checkpoint.label}, {count} classes)"
    return model, WeightsInfo("checkpoint", source, classes, checkpoint.sha256)


# ## Built backbones


def _ready(spec: BackboneSpec, model: nn.Module, info: WeightsInfo) -> Backbone:
    # channels_last: 10-20 % faster convolutions on CPU for every registered backbone (benchmarks/bench_core.py)
    model.eval().to(memory_format=torch.channels_last)
    return Backbone(model, spec, info)


def build_backbone(spec: BackboneSpec, weights: str) -> Backbone:
    """`spec`'s eval-mode model with `weights` resolved from our own sources (see the package's docstring)."""
    return _ready(spec, *_resolve(spec, weights))


def user_checkpoint_backbone(spec: BackboneSpec, path: str | os.PathLike, names: tuple[str, ...] | None) -> Backbone:
    """`spec`'s eval-mode model with the weights of a user's (untrusted) checkpoint file, its classes named `names`."""
    return _ready(spec, *_from_user_checkpoint(spec, read_untrusted_checkpoint(path), names))


def check_weights(weights: str, checkpoint: object) -> None:
    """Refuse a weights choice that does not go with whether a `checkpoint` was given."""
    if weights == "checkpoint" and checkpoint is None:
        raise UserError("weights `checkpoint` need a `checkpoint` file")
    allowed = ("auto", "checkpoint") if checkpoint is not None else WEIGHT_CHOICES
    if weights not in allowed:
        raise UserError(f"unknown weights `{excerpt(weights)}`; choose one of: {', '.join(allowed)}")


def load_backbone(
    name: str | BackboneSpec,
    *,
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    classes: Classes = None,
) -> nn.Module:
    """A fresh, patched, eval-mode model `name` with the resolved weights, or a user's `checkpoint`.

    The model is the caller's own (trainable: call `.train()`); `cached_backbone` shares frozen ones.

    `classes` names the checkpoint's classes: a list, or a text file with one name per line
    (default: `class 0` ... `class N-1`). `cached_backbone` also says where the weights came from.
    """
    spec = spec_of(name)
    check_weights(weights, checkpoint)
    if checkpoint is not None:
        return user_checkpoint_backbone(spec, checkpoint, class_list(classes)).model
    return build_backbone(spec, weights).model
