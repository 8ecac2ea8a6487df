"""The pair pipeline: two images in, CAMs, SnapMix boxes, mixed image and label weights out.

Everything downstream (rendering, the UI, the command line, `result.json`) reads the one
`PairResult` this returns. Per-image analyses (class, top-5, semantic percent map) are
cached by image content, backbone, weights, patch mode and target class, so a new seed,
beta or box only redraws the mix and never runs the model.
"""

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from snapmix_demo.imageio import ImageSource, load_image
from snapmix_demo.patches import PATCH_MODES, classifier
from snapmix_demo.snapmix import (
    Box,
    area_lambda,
    box_area,
    box_mass,
    class_cams,
    paste,
    rand_box,
    sample_lam,
    semantic_percent_maps,
    upsample,
)
from snapmix_demo.weights import Backbone, Classes, cached_backbone

__all__ = ["ANALYSIS_CACHE_SIZE", "DEFAULT_BACKBONE", "PairResult", "clear_caches", "resolve_target", "snapmix_pair"]

ANALYSIS_CACHE_SIZE = 64  # per-image analyses (~0.2 MB each at 224 px)
TOP_K = 5
DEFAULT_BACKBONE = "tf_efficientnet_lite0"  # real ImageNet weights ship with it: meaningful offline
Target = int | str | None  # class index, class name, or None / "predicted" for the top-1


@dataclass(frozen=True)
class _Analysis:
    """What the model says about one image: chosen class, top-k and its SPM (None if degenerate)."""

    cls: int
    topk: tuple[tuple[str, float], ...]
    spm: np.ndarray | None


@dataclass(frozen=True)
class PairResult:
    """One SnapMix pair: images, maps and boxes in the model-input frame, weights, and provenance."""

    image_a: Image.Image
    image_b: Image.Image
    mixed: Image.Image
    box_a: Box
    box_b: Box
    spm_a: np.ndarray | None
    spm_b: np.ndarray | None
    rho_a: float
    rho_b: float
    area_lambda: float
    fallback_a: bool
    fallback_b: bool
    mixed_applied: bool
    class_a: int
    class_b: int
    label_a: str
    label_b: str
    topk_a: list[tuple[str, float]]
    topk_b: list[tuple[str, float]]
    backbone: str
    mode: str
    weights: str
    weights_kind: str
    seed: int
    beta: float
    forward_passes: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def same_class(self) -> bool:
        """Both sides carry one label, whose natural weight is `rho_a + rho_b`."""
        return self.class_a == self.class_b

    def to_dict(self) -> dict[str, object]:
        """JSON-safe facts of the result (no pixels)."""
        return {
            "backbone": self.backbone,
            "mode": self.mode,
            "weights": self.weights,
            "weights_kind": self.weights_kind,
            "seed": self.seed,
            "beta": self.beta,
            "input_size": [self.image_a.height, self.image_a.width],
            "box_a": list(self.box_a),
            "box_b": list(self.box_b),
            "rho_a": self.rho_a,
            "rho_b": self.rho_b,
            "area_lambda": self.area_lambda,
            "cutmix_b": 1.0 - self.area_lambda,
            "fallback_a": self.fallback_a,
            "fallback_b": self.fallback_b,
            "mixed_applied": self.mixed_applied,
            "class_a": self.class_a,
            "class_b": self.class_b,
            "label_a": self.label_a,
            "label_b": self.label_b,
            "same_class": self.same_class,
            "combined_weight": self.rho_a + self.rho_b if self.same_class else None,
            "topk_a": [[label, p] for label, p in self.topk_a],
            "topk_b": [[label, p] for label, p in self.topk_b],
            "forward_passes": self.forward_passes,
            "timings_ms": dict(self.timings),
        }


class _LRU:
    """Small thread-safe LRU mapping."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_analyses = _LRU(ANALYSIS_CACHE_SIZE)


def clear_caches() -> None:
    """Forget every cached per-image analysis."""
    _analyses.clear()


def resolve_target(target: Target, classes: Sequence[str]) -> int | None:
    """Class index for `target` (index, exact class name, or None/"predicted" for the top-1)."""
    if target is None or (isinstance(target, str) and target.strip().lower() in ("", "predicted")):
        return None
    if isinstance(target, str) and target.strip().lstrip("-").isdigit():
        target = int(target)
    if isinstance(target, int | np.integer) and not isinstance(target, bool):
        if not 0 <= target < len(classes):
            raise ValueError(f"target class {target} is out of range: this model has classes 0..{len(classes) - 1}")
        return int(target)
    if isinstance(target, str) and target in classes:
        return classes.index(target)
    raise ValueError(f"unknown target class `{target}`; use a class index, a class name of this model, or 'predicted'")


def _validate_box(box: Sequence[int], height: int, width: int, name: str) -> Box:
    try:
        top, left, bottom, right = (int(v) for v in box)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be four integers (top, left, bottom, right), got {box!r}") from e
    if not (0 <= top <= bottom <= height and 0 <= left <= right <= width):
        raise ValueError(
            f"`{name}` = {(top, left, bottom, right)} must satisfy 0 <= top <= bottom <= {height} and "
            f"0 <= left <= right <= {width} (the model-input frame, height x width = {height} x {width})"
        )
    return top, left, bottom, right


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """uint8 (C, H, W) tensor of an RGB image."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


def _normalise(images: Sequence[torch.Tensor], bb: Backbone) -> torch.Tensor:
    x = torch.stack(images).float().div_(255)
    mean = torch.tensor(bb.spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(bb.spec.std).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.inference_mode()
def _analyse(images: Sequence[torch.Tensor], targets: Sequence[int | None], bb: Backbone, mode: str) -> list[_Analysis]:
    """One batched forward: features, logits from the same tensor, CAM and SPM of each chosen class."""
    feats = bb.model.extract_features(_normalise(images, bb))
    fc = classifier(bb.model, mode)
    probs = fc(feats.mean(dim=(2, 3))).float().softmax(dim=1)
    if not bool(torch.isfinite(probs).all()):
        raise ValueError(
            "the model's predictions are not finite numbers (NaN or infinity): its weights are damaged, "
            "as after a diverged training run"
        )
    chosen = torch.tensor([int(probs[i].argmax()) if t is None else t for i, t in enumerate(targets)])
    spms, degenerate = semantic_percent_maps(
        upsample(class_cams(feats, fc.weight, fc.bias, chosen), bb.spec.input_size)
    )
    top_p, top_i = probs.topk(min(TOP_K, probs.shape[1]), dim=1)
    classes = bb.weights.classes
    return [
        _Analysis(
            cls=int(chosen[i]),
            topk=tuple((classes[j], float(p)) for p, j in zip(top_p[i].tolist(), top_i[i].tolist(), strict=True)),
            spm=None if degenerate[i] else _read_only(spms[i].numpy()),
        )
        for i in range(len(images))
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
    box_a: Sequence[int] | None = None,
    box_b: Sequence[int] | None = None,
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
        seed: seed of this call's box generator.
        box_a: explicit (top, left, bottom, right) box in A, in the model-input frame.
        box_b: explicit box in B.
        weights: "auto", "imagenet", "shapes" or "random" (see `weights.available_weights`).
        checkpoint: a user's fine-tuned checkpoint of `backbone` (its head sets the number of classes).
        classes: the checkpoint's class names: a list, or a text file with one name per line.

    Returns:
        A `PairResult`; `to_dict()` gives its JSON-safe facts.

    Raises:
        ValueError: an unknown backbone, mode, weights or target, an invalid beta or box.
        ImageError: an input that is not a usable image.

    Example:
        >>> res = snapmix_pair("a.jpg", "b.jpg", backbone="resnet50", seed=3)
        >>> res.rho_a, res.rho_b, res.area_lambda
    """
    start = time.perf_counter()
    if mode not in PATCH_MODES:
        raise ValueError(f"unknown patch mode `{mode}`; choose one of: {', '.join(PATCH_MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise ValueError(f"`seed` must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    lam_a, lam_b = sample_lam(beta, rng), sample_lam(beta, rng)
    bb = cached_backbone(backbone, weights=weights, checkpoint=checkpoint, classes=classes)
    height, width = bb.spec.input_size
    drawn_a, drawn_b = rand_box(height, width, lam_a, rng), rand_box(height, width, lam_b, rng)
    box_a = drawn_a if box_a is None else _validate_box(box_a, height, width, "box_a")
    box_b = drawn_b if box_b is None else _validate_box(box_b, height, width, "box_b")
    targets = [resolve_target(t, bb.weights.classes) for t in (target_a, target_b)]
    timings = {"load_model": (time.perf_counter() - start) * 1e3}

    tick = time.perf_counter()
    img_a, img_b = (load_image(i, (width, height)).resize((width, height), Image.BILINEAR) for i in (image_a, image_b))
    tensors = [_to_tensor(img_a), _to_tensor(img_b)]
    timings["decode"] = (time.perf_counter() - tick) * 1e3

    tick = time.perf_counter()
    (an_a, an_b), forward_passes = _cached_analyses(tensors, targets, bb, mode)
    timings["model"] = (time.perf_counter() - tick) * 1e3

    tick = time.perf_counter()
    mixed_applied = box_area(box_a) > 0 and box_area(box_b) > 0
    lam_area = area_lambda(box_a, height, width) if mixed_applied else 1.0
    if not mixed_applied:
        rho_a, rho_b = 1.0, 0.0
    else:
        rho_a = lam_area if an_a.spm is None else 1.0 - float(box_mass(an_a.spm, box_a))
        rho_b = 1.0 - lam_area if an_b.spm is None else float(box_mass(an_b.spm, box_b))
    mixed = paste(tensors[0], tensors[1], box_a, box_b) if mixed_applied else tensors[0]
    mixed_img = Image.fromarray(mixed.permute(1, 2, 0).numpy())
    timings["mix"] = (time.perf_counter() - tick) * 1e3
    timings["total"] = (time.perf_counter() - start) * 1e3

    classes = bb.weights.classes
    return PairResult(
        image_a=img_a,
        image_b=img_b,
        mixed=mixed_img,
        box_a=box_a,
        box_b=box_b,
        spm_a=an_a.spm,
        spm_b=an_b.spm,
        rho_a=rho_a,
        rho_b=rho_b,
        area_lambda=lam_area,
        fallback_a=an_a.spm is None,
        fallback_b=an_b.spm is None,
        mixed_applied=mixed_applied,
        class_a=an_a.cls,
        class_b=an_b.cls,
        label_a=classes[an_a.cls],
        label_b=classes[an_b.cls],
        topk_a=list(an_a.topk),
        topk_b=list(an_b.topk),
        backbone=backbone,
        mode=mode,
        weights=bb.weights.source,
        weights_kind=bb.weights.kind,
        seed=int(seed),
        beta=float(beta),
        forward_passes=forward_passes,
        timings=timings,
    )
