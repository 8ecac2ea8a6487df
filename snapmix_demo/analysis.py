"""A pair as the model sees it: arguments checked, both images in the model frame, one cached analysis each.

`prepare_pair` does everything `snapmix_pair` and the mixing lab (`snapmix_demo.lab`) share before they mix:
the mode, seed, beta and boxes checked (boxes drawn where none was given), both images decoded and resized
whole to the backbone's input, the model loaded, the targets resolved, and each image analysed (class,
top-5, semantic percent map) by one batched forward on the chosen engine. Analyses are cached by image
content, backbone, weights, patch mode and target class, so a new seed, beta or box never runs the model.
"""

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from snapmix_demo import engine
from snapmix_demo.backbones import BackboneSpec, get_spec
from snapmix_demo.boxes import Box, pair_boxes
from snapmix_demo.cache import BoundedCache
from snapmix_demo.errors import InputError, UserError, excerpt
from snapmix_demo.imageio import ImageError, ImageSource, load_image
from snapmix_demo.inputs import CLASS_DIGITS, beta_value, box_value, digits, seed_value
from snapmix_demo.patches import PATCH_MODES, classifier
from snapmix_demo.snapmix import SemanticMaps, maps_from_features, normalise
from snapmix_demo.weights import Backbone, Classes, cached_backbone

__all__ = [
    "ANALYSIS_CACHE_SIZE",
    "Analysis",
    "ImageInputError",
    "PreparedPair",
    "Target",
    "clear_caches",
    "load_input",
    "prepare_pair",
    "resolve_target",
]

ANALYSIS_CACHE_SIZE = 64  # per-image analyses (~0.2 MB each at 224 px)
TOP_K = 5
Target = int | str | None  # class index, class name, or None / "predicted" for the top-1


@dataclass(frozen=True)
class Analysis:
    """What the model says about one image: chosen class and its probability, top-k, its SPM (None if degenerate)."""

    cls: int
    prob: float
    topk: tuple[tuple[str, float], ...]
    spm: np.ndarray | None
    engine: str  # what ran the forward: "torch" or "onnxruntime" (engine.py)
    # From the same features, for the mixing lab (`snapmix_demo.lab`): the SPM of the CAM of ReLU'd features, as
    # the official SnapMix code computes it (the same array where no feature is negative), and the feature grid.
    spm_relu: np.ndarray | None = None
    grid: tuple[int, int] = (0, 0)


_analyses: BoundedCache["Analysis"] = BoundedCache(ANALYSIS_CACHE_SIZE)


def clear_caches() -> None:
    """Forget every cached per-image analysis."""
    _analyses.clear()


class ImageInputError(InputError, ImageError):
    """An image argument that is not a usable image: names the argument, and is still an `ImageError`."""


def resolve_target(target: Target, classes: Sequence[str], field: str = "target") -> int | None:
    """Class index for `target` (index, exact class name, or None/"predicted" for the top-1)."""
    if target is None or (isinstance(target, str) and target.strip().lower() in ("", "predicted")):
        return None
    if isinstance(target, str) and target.strip().isascii() and target.strip().isdigit():
        target = digits(target, field, max_digits=CLASS_DIGITS, what="a class index")
    if isinstance(target, int | np.integer) and not isinstance(target, bool):
        if not 0 <= target < len(classes):
            shown = excerpt(int(target))
            raise InputError(field, f"class {shown} is out of range: this model has classes 0..{len(classes) - 1}")
        return int(target)
    if isinstance(target, str) and target in classes:
        return classes.index(target)
    choices = "use a class index, a class name of this model, or 'predicted'"
    raise InputError(field, f"unknown target class '{excerpt(target)}'; {choices}")


def _validate_box(box: object, height: int, width: int, field: str) -> Box | None:
    """`box` parsed (None when blank) and checked against the (height, width) model-input frame."""
    parsed = box_value(box, field)
    if parsed is None:
        return None
    top, left, bottom, right = parsed
    if not (0 <= top <= bottom <= height and 0 <= left <= right <= width):
        raise InputError(
            field,
            f"{parsed} must satisfy 0 <= top <= bottom <= {height} and 0 <= left <= right <= {width} "
            f"(the model-input frame, height x width = {height} x {width})",
        )
    return parsed


def load_input(image: ImageSource, field: str, min_size: tuple[int, int]) -> Image.Image:
    """An image argument decoded (see `imageio.load_image`); an unusable one raises `ImageInputError` naming it."""
    try:
        return load_image(image, min_size)
    except ImageError as e:
        raise ImageInputError(field, str(e)) from e


def _fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The whole image resized (bilinear, never cropped) to the model's (width, height)."""
    return img if img.size == size else img.resize(size, Image.BILINEAR)


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """uint8 (C, H, W) tensor of an RGB image."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


@torch.inference_mode()
def _analyse(images: Sequence[torch.Tensor], targets: Sequence[int | None], bb: Backbone, mode: str) -> list[Analysis]:
    """One batched forward on the chosen engine: features, then logits, CAM and SPM of each class from them."""
    feats, ran = engine.extract_features(bb, normalise(torch.stack(images), bb.spec))
    maps = maps_from_features(feats, classifier(bb.model, mode), bb.spec.input_size, targets)
    probs = maps.logits.float().softmax(dim=1)
    if not bool(torch.isfinite(probs).all()):
        raise UserError(
            "the model's predictions are not finite numbers (NaN or infinity): its weights are damaged, "
            "as after a diverged training run"
        )
    top_p, top_i = probs.topk(min(TOP_K, probs.shape[1]), dim=1)
    classes = bb.weights.classes
    spms = [None if maps.degenerate[i] else _read_only(maps.spms[i].numpy()) for i in range(len(images))]
    relu_spms = _relu_spms(feats, bb, mode, maps, spms)
    return [
        Analysis(
            cls=int(maps.classes[i]),
            prob=float(probs[i, maps.classes[i]]),
            topk=tuple((classes[j], float(p)) for p, j in zip(top_p[i].tolist(), top_i[i].tolist(), strict=True)),
            spm=spms[i],
            engine=ran,
            spm_relu=relu_spms[i],
            grid=maps.grid,
        )
        for i in range(len(images))
    ]


def _relu_spms(
    feats: torch.Tensor, bb: Backbone, mode: str, maps: SemanticMaps, spms: list[np.ndarray | None]
) -> list[np.ndarray | None]:
    """Each image's SPM of ReLU'd features, from the features at hand (no second forward).

    Where no feature of an image is negative (ReLU and ReLU6 heads) it is the linear SPM itself; only SiLU
    heads (the EfficientNet-B0s) pay for a second CAM, and keep a second map.
    """
    negative = (feats < 0).flatten(1).any(dim=1).tolist()
    if not any(negative):
        return spms
    relu = maps_from_features(feats, classifier(bb.model, mode), bb.spec.input_size, maps.classes, relu=True)
    return [
        (None if relu.degenerate[i] else _read_only(relu.spms[i].numpy())) if neg else spm
        for i, (neg, spm) in enumerate(zip(negative, spms, strict=True))
    ]


def _read_only(arr: np.ndarray) -> np.ndarray:
    """Cached maps are shared between results: freeze them."""
    arr.flags.writeable = False
    return arr


def _cached_analyses(
    images: Sequence[torch.Tensor], targets: Sequence[int | None], bb: Backbone, mode: str
) -> tuple[list[Analysis], int]:
    """Analyses of `images`, running one forward for those not cached; also the number of forwards run."""
    keys = [
        (hashlib.sha256(img.numpy().tobytes()).hexdigest(), bb.spec.name, bb.weights, mode, t)
        for img, t in zip(images, targets, strict=True)
    ]
    found = [_analyses.get(k) for k in keys]
    missing = [i for i, a in enumerate(found) if a is None]
    if not missing:
        return found, 0
    fresh = _analyse([images[i] for i in missing], [targets[i] for i in missing], bb, mode)
    for i, analysis in zip(missing, fresh, strict=True):
        _analyses.put(keys[i], analysis)
        found[i] = analysis
    return found, 1


def _validated_boxes(
    backbone: str, mode: str, seed: object, beta: object, box_a: object, box_b: object
) -> tuple[BackboneSpec, int, float, Box, Box]:
    """The backbone's spec, seed, beta and both boxes, validated before any image is decoded.

    Boxes are drawn where none was given. The spec is looked up here, once: everything after takes it.
    """
    if mode not in PATCH_MODES:
        raise InputError("mode", f"unknown patch mode '{excerpt(mode)}'; choose one of: {', '.join(PATCH_MODES)}")
    seed, beta = seed_value(seed), beta_value(beta)
    try:
        spec = get_spec(backbone)
    except ValueError as e:  # the registry's message, for the user: an unknown or unsupported backbone
        raise InputError("backbone", str(e)) from None
    height, width = spec.input_size
    drawn_a, drawn_b = pair_boxes(seed, beta, height, width)
    box_a = _validate_box(box_a, height, width, "box_a") or drawn_a
    box_b = _validate_box(box_b, height, width, "box_b") or drawn_b
    return spec, seed, beta, box_a, box_b


@dataclass(frozen=True)
class PreparedPair:
    """A pair up to its mix: the arguments checked, both images in the model frame, the model and both analyses."""

    spec: BackboneSpec
    seed: int
    beta: float
    boxes: tuple[Box, Box]  # given, or drawn from the seed and beta
    loaded: tuple[Image.Image, Image.Image]  # as decoded, before the resize (object masks are checked against it)
    images: tuple[Image.Image, Image.Image]  # resized whole to the model's input
    tensors: tuple[torch.Tensor, torch.Tensor]  # uint8 (3, H, W) of `images`
    model: Backbone
    targets: tuple[int | None, int | None]
    analyses: tuple[Analysis, Analysis]
    forward_passes: int  # 0 when both analyses were cached, else 1 (one batched forward)
    timings: dict[str, float]  # ms: decode, load_model, model


def prepare_pair(
    image_a: ImageSource,
    image_b: ImageSource,
    *,
    backbone: str,
    mode: str,
    target_a: Target,
    target_b: Target,
    beta: object,
    seed: object,
    box_a: object,
    box_b: object,
    weights: str,
    checkpoint: str | os.PathLike | None,
    classes: Classes,
) -> PreparedPair:
    """Check, decode, load and analyse, in that order; every error names its argument (see `snapmix_pair`)."""
    spec, seed, beta, box_a, box_b = _validated_boxes(backbone, mode, seed, beta, box_a, box_b)
    height, width = spec.input_size
    tick = time.perf_counter()
    named = ((image_a, "image_a"), (image_b, "image_b"))
    loaded = tuple(load_input(img, field, (width, height)) for img, field in named)
    images = tuple(_fit(img, (width, height)) for img in loaded)
    tensors = tuple(_to_tensor(img) for img in images)
    timings = {"decode": (time.perf_counter() - tick) * 1e3}
    tick = time.perf_counter()
    bb = cached_backbone(spec, weights=weights, checkpoint=checkpoint, classes=classes)
    asked = ((target_a, "target_a"), (target_b, "target_b"))
    targets = tuple(resolve_target(target, bb.weights.classes, field) for target, field in asked)
    timings["load_model"] = (time.perf_counter() - tick) * 1e3
    tick = time.perf_counter()
    analyses, forwards = _cached_analyses(tensors, targets, bb, mode)
    timings["model"] = (time.perf_counter() - tick) * 1e3
    return PreparedPair(
        spec, seed, beta, (box_a, box_b), loaded, images, tensors, bb, targets, tuple(analyses), forwards, timings
    )
