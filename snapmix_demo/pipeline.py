"""The pair pipeline: two images in, CAMs, SnapMix boxes, mixed image and label weights out.

Everything downstream (rendering, the UI, the command line, `result.json`) reads the one
`PairResult` this returns. What comes before the mix (checks, decoding, the cached per-image
analyses) is `analysis.prepare_pair`, which the mixing lab shares; this module weighs and pastes.
"""

import os
import time
from collections.abc import Sequence

from PIL import Image

from snapmix_demo.analysis import Analysis, Target, prepare_pair
from snapmix_demo.boxes import Box, area_lambda, box_area
from snapmix_demo.imageio import ImageSource
from snapmix_demo.results import PairResult, Side
from snapmix_demo.snapmix import box_mass, label_weights, paste
from snapmix_demo.weights import Classes

__all__ = ["DEFAULT_BACKBONE", "PairResult", "pair_weights", "snapmix_pair"]

DEFAULT_BACKBONE = "tf_efficientnet_lite0"  # real ImageNet weights ship with it: meaningful offline


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
    pair = prepare_pair(
        image_a, image_b, backbone=backbone, mode=mode, target_a=target_a, target_b=target_b, beta=beta, seed=seed,
        box_a=box_a, box_b=box_b, weights=weights, checkpoint=checkpoint, classes=classes,
    )  # fmt: skip
    (an_a, an_b), (box_a, box_b), tensors = pair.analyses, pair.boxes, pair.tensors
    tick = time.perf_counter()
    weighed = _weigh(an_a, an_b, box_a, box_b, pair.spec.input_size)
    mixed = paste(tensors[0], tensors[1], box_a, box_b) if weighed["mixed_applied"] else tensors[0]
    mixed_img = Image.fromarray(mixed.permute(1, 2, 0).numpy())
    timings = {**pair.timings, "mix": (time.perf_counter() - tick) * 1e3}
    timings["total"] = (time.perf_counter() - start) * 1e3

    bb, img_a, img_b = pair.model, *pair.images
    names = bb.weights.classes
    return PairResult(
        a=_side(an_a, pair.targets[0], names, img_a, box_a, weighed["share_a"], weighed["rho_a"]),
        b=_side(an_b, pair.targets[1], names, img_b, box_b, weighed["share_b"], weighed["rho_b"]),
        mixed=mixed_img,
        area_lambda=weighed["area_lambda"],
        mixed_applied=weighed["mixed_applied"],
        backbone=backbone,
        mode=mode,
        weights=bb.weights.source,
        weights_kind=bb.weights.kind,
        seed=pair.seed,
        beta=pair.beta,
        forward_passes=pair.forward_passes,
        engine="+".join(sorted({an_a.engine, an_b.engine})),
        timings=timings,
    )


def _side(
    analysis: Analysis,
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


def _weigh(an_a: Analysis, an_b: Analysis, box_a: Box, box_b: Box, frame: tuple[int, int]) -> dict[str, object]:
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
