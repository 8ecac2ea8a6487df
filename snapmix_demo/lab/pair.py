"""The mixing lab: any registered mixing method on one pair of images, and every method on the same pair at once.

`mix_pair(image_a, image_b, method=...)` is `snapmix_pair` for any method of `MIXES`: the same inputs,
validation and messages, the same cached per-image analyses (one forward per image and model; the
SPMs of ReLU'd features that `snapmix_official` reads come from the same features), and the method's
one implementation: the pair is a batch of two whose partners are [1, 0] (A receives B), mixed by
`apply_mix` and read at A. SnapMix (and `snapmix_official`) draw their boxes as `snapmix_pair` does
(`pair_boxes(seed, beta)`, or the boxes given) and mix through `mixes.semantic.snapmix_at`, the half of
`apply_mix("snapmix")` that follows its draw, so the lab's SnapMix is the SnapMix tab's, box for box.
Every other method draws from `torch.Generator().manual_seed(seed)` as it would for a training batch.

`compare_mixes` runs every method on the same pair, seed, backbone and classes. Where the images'
object masks are known (the bundled shapes examples, or masks passed as `objects`), each result also
holds the truth: the share of each object that the mix keeps (`mixes.object_shares`).
"""

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from snapmix_demo.analysis import Analysis, Target, prepare_pair
from snapmix_demo.boxes import Box
from snapmix_demo.errors import InputError
from snapmix_demo.imageio import ImageSource
from snapmix_demo.lab.results import MixComparison, MixPair
from snapmix_demo.lab.truth import ObjectMask, objects_in_frame
from snapmix_demo.mixes import MIXES, MixResult, MixSpec, apply_mix, get_mix, object_shares
from snapmix_demo.mixes.semantic import snapmix_at
from snapmix_demo.pipeline import DEFAULT_BACKBONE
from snapmix_demo.weights import Classes

__all__ = ["BOX_METHODS", "PAIR_PERM", "compare_mixes", "mix_pair"]

PAIR_PERM = torch.tensor([1, 0])  # A (sample 0) receives B (sample 1)
BOX_METHODS = ("snapmix", "snapmix_official")  # the methods that take `box_a`/`box_b`, as `snapmix_pair` does
SNAPMIX_BETA = 5.0  # `snapmix_pair`'s default: the paper's


# ## What the methods share: the pair, its analyses and its boxes


@dataclass(frozen=True)
class _Pair:
    images: tuple[Image.Image, Image.Image]
    x: torch.Tensor  # (2, 3, H, W) uint8
    analyses: tuple[Analysis, Analysis]
    targets: list[int | None]
    classes: Sequence[str]
    objects: torch.Tensor | None  # (2, H, W) float object masks in the model frame, when known
    seed: int
    beta: float  # SnapMix's, of its boxes
    boxes: tuple[Box, Box]  # SnapMix's: `snapmix_pair`'s draw for the seed and beta, or the boxes given
    backbone: str
    mode: str
    weights: str
    weights_kind: str
    forward_passes: int
    timings: dict[str, float]


def _prepare(
    image_a, image_b, backbone, mode, target_a, target_b, seed, beta, box_a, box_b, weights, checkpoint, classes,
    objects,
) -> _Pair:  # fmt: skip
    """`snapmix_pair`'s steps up to the mix (`analysis.prepare_pair`, the same checks and messages), and the truth."""
    start = time.perf_counter()
    pair = prepare_pair(
        image_a, image_b, backbone=backbone, mode=mode, target_a=target_a, target_b=target_b, beta=beta, seed=seed,
        box_a=box_a, box_b=box_b, weights=weights, checkpoint=checkpoint, classes=classes,
    )  # fmt: skip
    masks = objects_in_frame(objects, list(pair.loaded), pair.images[0].size)
    timings = {**pair.timings, "prepare": (time.perf_counter() - start) * 1e3}
    bb = pair.model
    return _Pair(
        pair.images, torch.stack(pair.tensors), pair.analyses, list(pair.targets), bb.weights.classes, masks,
        pair.seed, pair.beta, pair.boxes, backbone, mode, bb.weights.source, bb.weights.kind, pair.forward_passes,
        timings,
    )  # fmt: skip


def _maps(pair: _Pair, spec: MixSpec) -> dict[str, torch.Tensor]:
    """The SPMs (2, H, W) and degeneracy flags (2,) that `spec` reads, from the cached analyses."""
    if spec.needs == "nothing":
        return {}
    height, width = pair.x.shape[-2:]
    arrays = [a.spm_relu if spec.needs == "cam_relu" else a.spm for a in pair.analyses]
    spm = torch.stack([torch.zeros(height, width) if s is None else torch.from_numpy(s.copy()) for s in arrays])
    return {"spm": spm, "degenerate": torch.tensor([s is None for s in arrays])}


def _mix(pair: _Pair, spec: MixSpec, params: dict[str, object]) -> MixResult:
    """The method's one implementation on the pair as a batch of two, partners [1, 0]."""
    y = torch.tensor([a.cls for a in pair.analyses])
    maps = _maps(pair, spec)
    if spec.name in BOX_METHODS:  # `snapmix_pair`'s boxes: the lab's SnapMix is the SnapMix tab's
        return snapmix_at(pair.x, y, maps["spm"], maps["degenerate"], *pair.boxes, PAIR_PERM, spec.name)
    generator = torch.Generator().manual_seed(pair.seed)
    return apply_mix(spec.name, pair.x, y, generator=generator, perm=PAIR_PERM, **maps, **params)


def _result(pair: _Pair, spec: MixSpec, params: dict[str, object], forwards: int) -> MixPair:
    tick = time.perf_counter()
    mix = _mix(pair, spec, params)
    truth = (None, None)
    if pair.objects is not None:  # an empty object mask has no share to keep: None, as where masks are unknown
        shares = object_shares(mix, pair.objects)
        truth = tuple(None if math.isnan(float(s[0])) else float(s[0]) for s in shares)
    an_a, an_b = pair.analyses
    maps = [a.spm_relu if spec.needs == "cam_relu" else a.spm for a in pair.analyses]
    boxes = _boxes(mix)
    elapsed = (time.perf_counter() - tick) * 1e3
    (target_a, target_b), classes = pair.targets, pair.classes
    return MixPair(
        method=spec.name,
        image_a=pair.images[0],
        image_b=pair.images[1],
        mixed=Image.fromarray(mix.x[0].permute(1, 2, 0).numpy()),
        mask=mix.mask[0].float().numpy().copy(),
        rho_a=float(mix.rho_a[0]),
        rho_b=float(mix.rho_b[0]),
        area_b=float(mix.mask[0].mean(dtype=torch.float64)),
        fallback_a=bool(mix.fallback_a[0]),
        fallback_b=bool(mix.fallback_b[0]),
        spm_a=None if spec.needs == "nothing" else maps[0],
        spm_b=None if spec.needs == "nothing" else maps[1],
        box_a=boxes[0],
        box_b=boxes[1],
        true_a=truth[0],
        true_b=truth[1],
        params=params,
        class_a=an_a.cls,
        class_b=an_b.cls,
        label_a=classes[an_a.cls],
        label_b=classes[an_b.cls],
        prob_a=an_a.prob,
        prob_b=an_b.prob,
        chosen_a=target_a is not None,
        chosen_b=target_b is not None,
        backbone=pair.backbone,
        mode=pair.mode,
        weights=pair.weights,
        weights_kind=pair.weights_kind,
        seed=pair.seed,
        forward_passes=forwards,
        engine="+".join(sorted({an_a.engine, an_b.engine})),
        timings={**pair.timings, "mix": elapsed},
    )


def _boxes(mix: MixResult) -> tuple[Box | None, Box | None]:
    """Where B's pixels land in A and where they come from, for the methods that paste a box."""
    if mix.boxes is not None:  # one box per sample (SaliencyMix): A's, at the same place in B
        box = tuple(int(v) for v in mix.boxes[0].tolist())
        return box, box
    return mix.box_a, mix.box_b


def _params(spec: MixSpec, params: dict[str, object], pair_grid: tuple[int, int] | None = None) -> dict[str, object]:
    """The method's own parameters, checked, with its defaults filled in (Attentive CutMix's grid: the model's)."""
    checked = spec.checked(params)
    full = {**spec.defaults, **checked}
    if "grid" in spec.defaults and "grid" not in checked and pair_grid is not None:
        full["grid"] = pair_grid  # its cells are the feature map's, as `mix_batch` sets them
    return full


def _snap_beta(method: str, params: dict[str, object]) -> float:
    """The beta of `snapmix_pair`'s boxes: SnapMix's own (checked already), else its default (boxes unused)."""
    return params.get("beta", SNAPMIX_BETA) if method in BOX_METHODS else SNAPMIX_BETA


def _refuse_boxes(method: str, box_a: object, box_b: object) -> None:
    for box, name in ((box_a, "box_a"), (box_b, "box_b")):
        blank = box is None or (isinstance(box, str) and not box.strip())
        if not blank:
            raise InputError(
                name,
                f"method `{method}` draws its own mix from the seed; only {' and '.join(BOX_METHODS)} take given boxes",
            )


def mix_pair(
    image_a: ImageSource,
    image_b: ImageSource,
    *,
    method: str = "snapmix",
    backbone: str = DEFAULT_BACKBONE,
    mode: str = "default",
    target_a: Target = None,
    target_b: Target = None,
    seed: int = 0,
    box_a: Sequence[int] | str | None = None,
    box_b: Sequence[int] | str | None = None,
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    classes: Classes = None,
    objects: tuple[ObjectMask, ObjectMask] | None = None,
    **params: object,
) -> MixPair:
    """Mix one pair of images with any registered method and measure its label weights.

    The arguments are `snapmix_pair`'s, checked the same way and in the same order, with the messages it gives.

    Args:
        image_a: the image that receives B's pixels (PIL image, array, bytes, path or file).
        image_b: the image they come from.
        method: a key of `MIXES` (`snapmix` by default).
        backbone: a key of `BACKBONES`.
        mode: patch mode whose accessor reaches the classifier.
        target_a: class of A whose CAM the method reads: index, class name, or None for the prediction.
        target_b: likewise for B.
        seed: seed of the mix: `snapmix_pair`'s boxes for SnapMix, the generator of a batch of two for the others.
        box_a: an explicit box in A, for `snapmix` and `snapmix_official` only (the others draw their own mix).
        box_b: an explicit box in B, likewise.
        weights: "auto", "imagenet", "shapes" or "random".
        checkpoint: a user's fine-tuned checkpoint of `backbone`.
        classes: the checkpoint's class names.
        objects: each image's object mask, for the truth: an array (H, W) in its own frame (bool or in
            [0, 1]), or a picture of one (path, bytes, PIL image; white = the object) of its shape; by
            default the bundled shapes examples' masks are recognised by their pixels (`known_objects`).
        **params: the method's own parameters (`MIXES[method].params`), e.g. `beta=2.0` or `top_k=3`; for
            SnapMix `beta` sizes `snapmix_pair`'s boxes.

    Returns:
        A `MixPair`; `to_dict()` gives its JSON-safe facts.

    Raises:
        InputError: an unknown method or parameter, a value out of its range, or any of `snapmix_pair`'s.

    Example (from the checkout's root, offline):
        >>> res = mix_pair("assets/examples/shape_star.png", "assets/examples/shape_ring.png", method="cutmix",
        ...                weights="shapes", seed=3)
        >>> res.label_a, res.label_b, res.box_a
        ('star', 'ring', (0, 54, 105, 224))
        >>> round(res.rho_a, 3), round(res.rho_b, 3)  # CutMix's weights: the area shares
        (0.644, 0.356)
        >>> round(res.true_a, 3), round(res.true_b, 3)  # the truth: the box covers A's star, holds half of B's ring
        (0.001, 0.483)
    """
    spec = get_mix(method)
    checked = _params(spec, params)
    if method not in BOX_METHODS:
        _refuse_boxes(method, box_a, box_b)
    pair = _prepare(
        image_a, image_b, backbone, mode, target_a, target_b, seed, _snap_beta(method, checked), box_a, box_b,
        weights, checkpoint, classes, objects,
    )  # fmt: skip
    full = _params(spec, params, pair.analyses[0].grid)
    return _result(pair, spec, full, pair.forward_passes)


def compare_mixes(
    image_a: ImageSource,
    image_b: ImageSource,
    *,
    methods: Sequence[str] | None = None,
    backbone: str = DEFAULT_BACKBONE,
    mode: str = "default",
    target_a: Target = None,
    target_b: Target = None,
    seed: int = 0,
    beta: float = SNAPMIX_BETA,
    box_a: Sequence[int] | str | None = None,
    box_b: Sequence[int] | str | None = None,
    weights: str = "auto",
    checkpoint: str | os.PathLike | None = None,
    classes: Classes = None,
    objects: tuple[ObjectMask, ObjectMask] | None = None,
) -> MixComparison:
    """Every method (or `methods`) on the same pair, seed, backbone and classes: one forward per image, cached.

    `beta`, `box_a` and `box_b` are SnapMix's, as in `snapmix_pair` (its row is `snapmix_pair`'s result); every
    other method runs with its paper's parameters.

    Example (from the checkout's root, offline):
        >>> cmp = compare_mixes("assets/examples/shape_star.png", "assets/examples/shape_ring.png", weights="shapes")
        >>> list(cmp.pairs)[:3], cmp.forward_passes, cmp.truth_known
        (['mixup', 'cutmix', 'snapmix'], 1, True)
    """
    start = time.perf_counter()
    if methods is None:
        names = list(MIXES)
    elif isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise InputError("methods", f"must be a list of method names, e.g. ['snapmix', 'cutmix'], got {methods!r:.40}")
    else:
        names = [get_mix(m).name for m in methods]
    pair = _prepare(
        image_a,
        image_b,
        backbone,
        mode,
        target_a,
        target_b,
        seed,
        beta,
        box_a,
        box_b,
        weights,
        checkpoint,
        classes,
        objects,
    )  # fmt: skip  (beta checked there as `snapmix_pair` checks it)
    grid = pair.analyses[0].grid
    pairs = {}
    for name in names:
        spec = MIXES[name]
        own = {"beta": pair.beta} if name in BOX_METHODS else {}
        pairs[name] = _result(pair, spec, _params(spec, own, grid), pair.forward_passes)
    timings = {**pair.timings, "mixes": sum(p.timings["mix"] for p in pairs.values())}
    timings["total"] = (time.perf_counter() - start) * 1e3
    return MixComparison(pairs, pair.forward_passes, timings)
