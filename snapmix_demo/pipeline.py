"""The pair pipeline: two images in, CAMs, SnapMix boxes, mixed image and label weights out.

Everything downstream (rendering, the UI, the command line, `result.json`) reads the one
`PairResult` this returns. Per-image analyses (class, top-5, semantic percent map) are
cached by image content, backbone, weights, patch mode and target class, so a new seed,
beta or box only redraws the mix and never runs the model.
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
from snapmix_demo.boxes import Box, area_lambda, box_area, pair_boxes
from snapmix_demo.cache import BoundedCache
from snapmix_demo.errors import InputError, UserError, excerpt
from snapmix_demo.imageio import ImageError, ImageSource, load_image
from snapmix_demo.inputs import CLASS_DIGITS, beta_value, box_value, digits, seed_value
from snapmix_demo.patches import PATCH_MODES, classifier
from snapmix_demo.results import PairResult, Side
from snapmix_demo.snapmix import SemanticMaps, box_mass, label_weights, maps_from_features, normalise, paste
from snapmix_demo.weights import Backbone, Classes, cached_backbone

__all__ = [
    "ANALYSIS_CACHE_SIZE",
    "DEFAULT_BACKBONE",
    "ImageInputError",
    "PairResult",
    "clear_caches",
    "pair_weights",
    "resolve_target",
    "snapmix_pair",
]

ANALYSIS_CACHE_SIZE = 64  # per-image analyses (~0.2 MB each at 224 px)
TOP_K = 5
DEFAULT_BACKBONE = "tf_efficientnet_lite0"  # real ImageNet weights ship with it: meaningful offline
Target = int | str | None  # class index, class name, or None / "predicted" for the top-1


@dataclass(frozen=True)
class _Analysis:
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


_analyses: BoundedCache["_Analysis"] = BoundedCache(ANALYSIS_CACHE_SIZE)


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


def _load(image: ImageSource, field: str, min_size: tuple[int, int]) -> Image.Image:
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
def _analyse(images: Sequence[torch.Tensor], targets: Sequence[int | None], bb: Backbone, mode: str) -> list[_Analysis]:
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
        _Analysis(
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
) -> tuple[list[_Analysis], int]:
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


def snapmix_pair(
    image_a: ImageSource,
    image_b: ImageSource,
    *,
    backbone: str = DEFAULT_BACKBONE,
    mode: str = "default",
    target_a: Target = None,
    target_b: Target = None,
    beta: float = 5.0,
    seed: int = 0,
    box_a: Sequence[int] | str | None = None,
    box_b: Sequence[int] | str | None = None,
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    classes: Classes = None,
) -> PairResult:
    """SnapMix one pair of images and explain it.

    Both images are resized whole (no crop) to the backbone's input size; boxes, maps and
    the mixed image all live in that frame. The boxes are drawn from a generator seeded by
    `seed` (both are always drawn, so giving one explicitly leaves the other unchanged).

    Args:
        image_a: the image that receives the patch (PIL image, array, bytes, path or file).
        image_b: the image the patch is cut from.
        backbone: a key of `BACKBONES`.
        mode: patch mode whose accessor reaches the classifier; all modes give identical results.
        target_a: class of A whose CAM weighs it: index, class name, or None for the prediction.
        target_b: likewise for B.
        beta: Beta(beta, beta) parameter of the box sizes (> 0; the paper uses 5).
        seed: seed of this call's box generator, a whole number (`1.5` is refused, not rounded).
        box_a: explicit (top, left, bottom, right) box in A, in the model-input frame: four whole
            numbers, or text such as `"10 20 110 120"` or `"[10, 20, 110, 120]"`; None or "" to draw it.
        box_b: explicit box in B.
        weights: "auto", "imagenet", "shapes" or "random" (see `weights.available_weights`).
        checkpoint: a user's fine-tuned checkpoint of `backbone` (its head sets the number of classes).
        classes: the checkpoint's class names: a list, or a text file with one name per line.

    Returns:
        A `PairResult`; `to_dict()` gives its JSON-safe facts.

    Raises:
        InputError: a bad mode, seed, beta, box or target; `field` names the argument (a ValueError).
        ImageInputError: an image that is not usable (an `InputError` and an `ImageError`).
        ValueError: an unknown backbone or weights.

    Example (from the checkout's root, offline: the default backbone's ImageNet weights ship in a package):
        >>> res = snapmix_pair("assets/examples/cat.jpg", "assets/examples/coffee.jpg", seed=3)
        >>> res.label_a, res.label_b, res.weights_kind
        ('Egyptian cat', 'espresso', 'imagenet')
        >>> res.box_a, res.box_b  # (top, left, bottom, right) in the 224 x 224 model input
        ((89, 99, 219, 224), (0, 0, 67, 85))
        >>> round(res.rho_a, 2), round(res.rho_b, 2), round(res.area_lambda, 2)
        (0.68, 0.08, 0.68)
    """
    start = time.perf_counter()
    spec, seed, beta, box_a, box_b = _validated_boxes(backbone, mode, seed, beta, box_a, box_b)
    height, width = spec.input_size

    tick = time.perf_counter()
    named = ((image_a, "image_a"), (image_b, "image_b"))
    img_a, img_b = (_fit(_load(img, field, (width, height)), (width, height)) for img, field in named)
    tensors = [_to_tensor(img_a), _to_tensor(img_b)]
    timings = {"decode": (time.perf_counter() - tick) * 1e3}

    tick = time.perf_counter()
    bb = cached_backbone(spec, weights=weights, checkpoint=checkpoint, classes=classes)
    targets = [resolve_target(t, bb.weights.classes, f) for t, f in ((target_a, "target_a"), (target_b, "target_b"))]
    timings["load_model"] = (time.perf_counter() - tick) * 1e3

    tick = time.perf_counter()
    (an_a, an_b), forward_passes = _cached_analyses(tensors, targets, bb, mode)
    timings["model"] = (time.perf_counter() - tick) * 1e3

    tick = time.perf_counter()
    weighed = _weigh(an_a, an_b, box_a, box_b, (height, width))
    mixed = paste(tensors[0], tensors[1], box_a, box_b) if weighed["mixed_applied"] else tensors[0]
    mixed_img = Image.fromarray(mixed.permute(1, 2, 0).numpy())
    timings["mix"] = (time.perf_counter() - tick) * 1e3
    timings["total"] = (time.perf_counter() - start) * 1e3

    classes = bb.weights.classes
    return PairResult(
        a=_side(an_a, targets[0], classes, img_a, box_a, weighed["share_a"], weighed["rho_a"]),
        b=_side(an_b, targets[1], classes, img_b, box_b, weighed["share_b"], weighed["rho_b"]),
        mixed=mixed_img,
        area_lambda=weighed["area_lambda"],
        mixed_applied=weighed["mixed_applied"],
        backbone=backbone,
        mode=mode,
        weights=bb.weights.source,
        weights_kind=bb.weights.kind,
        seed=seed,
        beta=beta,
        forward_passes=forward_passes,
        engine="+".join(sorted({an_a.engine, an_b.engine})),
        timings=timings,
    )


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


def _side(
    analysis: _Analysis,
    target: int | None,
    classes: Sequence[str],
    image: Image.Image,
    box: Box,
    share: float | None,
    rho: float,
) -> Side:
    """One image of the pair: its analysis (class, map, top-k) with its box, the map's share in it, and its weight."""
    return Side(
        image=image,
        box=box,
        spm=analysis.spm,
        share=share,
        rho=rho,
        cls=analysis.cls,
        label=classes[analysis.cls],
        prob=analysis.prob,
        chosen=target is not None,
        topk=list(analysis.topk),
    )


def _weigh(an_a: _Analysis, an_b: _Analysis, box_a: Box, box_b: Box, frame: tuple[int, int]) -> dict[str, object]:
    """SnapMix's and CutMix's weights for the boxes, with each map's share inside its box (section 3.4)."""
    share_a = None if an_a.spm is None else float(box_mass(an_a.spm, box_a))
    share_b = None if an_b.spm is None else float(box_mass(an_b.spm, box_b))
    return pair_weights(share_a, share_b, box_a, box_b, frame)


def pair_weights(
    share_a: float | None, share_b: float | None, box_a: Box, box_b: Box, frame: tuple[int, int]
) -> dict[str, object]:
    """A pair's weights from each map's share inside its box (None: a flat map, so area); an empty box mixes nothing."""
    mixed_applied = box_area(box_a) > 0 and box_area(box_b) > 0
    lam_area = area_lambda(box_a, *frame) if mixed_applied else 1.0
    if not mixed_applied:
        rho_a, rho_b = 1.0, 0.0
    else:
        masses = (0.0 if share is None else share for share in (share_a, share_b))
        rho_a, rho_b = label_weights(*masses, share_a is None, share_b is None, lam_area)
    return {
        "rho_a": rho_a,
        "rho_b": rho_b,
        "area_lambda": lam_area,
        "mixed_applied": mixed_applied,
        "share_a": share_a,
        "share_b": share_b,
    }
