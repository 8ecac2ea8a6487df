"""The truth the lab measures label weights against: object masks given, or those of the bundled shapes examples."""

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from snapmix_demo.analysis import load_input
from snapmix_demo.cache import BoundedCache
from snapmix_demo.errors import InputError
from snapmix_demo.imageio import ImageSource

__all__ = ["EXAMPLES_DIR", "ObjectMask", "known_objects", "objects_in_frame"]


ObjectMask = np.ndarray | ImageSource  # an array (H, W), bool or in [0, 1], or a picture of one: light = object


def objects_in_frame(
    objects: tuple[ObjectMask | None, ObjectMask | None] | None, loaded: list[Image.Image], size: tuple[int, int]
) -> torch.Tensor | None:
    """Both object masks (2, H, W) in the model frame: the ones given, else the bundled examples' (else None).

    A mask is an array (H, W) or a picture of one (a file, bytes, a PIL image: its lightness, white = object)
    with its image's proportions; errors name `mask_a` or `mask_b`.
    """
    if objects is None:
        found = [known_objects(img) for img in loaded]
        if any(m is None for m in found):
            return None
        objects = tuple(found)
    elif not isinstance(objects, tuple | list) or len(objects) != 2:
        raise InputError("objects", "must be two object masks (H, W), one per image, or None")
    masks = []
    for mask, img, side in zip(objects, loaded, ("a", "b"), strict=True):
        plane = _mask_plane(mask, f"mask_{side}", img.size, size)
        fitted = plane if plane.size == size else plane.resize(size, Image.BILINEAR)
        masks.append(torch.from_numpy(np.asarray(fitted, dtype=np.float32).clip(0, 1).copy()))
    return torch.stack(masks)


def _mask_plane(mask: ObjectMask | None, field: str, image_size: tuple[int, int], size: tuple[int, int]) -> Image.Image:
    """One mask as a float picture ("F", values in [0, 1]), checked against its image's size and proportions."""
    side = field[-1].upper()
    if mask is None:
        raise InputError(field, "give an object mask for both images, or for neither")
    if isinstance(mask, np.ndarray) and mask.ndim == 2:
        arr = np.asarray(mask, dtype=np.float32)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise InputError(field, f"the mask of {side} must hold values in [0, 1] (or be bool)")
    else:
        arr = np.asarray(load_input(mask, field, size).convert("L"), dtype=np.float32) / 255.0
    (width, height), (mask_h, mask_w) = image_size, arr.shape
    if abs(mask_w * height - width * mask_h) > 0.01 * width * mask_h:  # proportions within 1 %
        raise InputError(
            field,
            f"the mask of {side} is {mask_w} × {mask_h} pixels; it must have the shape of its image, "
            f"{width} × {height} (or its proportions)",
        )
    return Image.fromarray(arr, mode="F")


# The bundled shapes examples' object masks, committed beside them (`shape_star.mask.png` for `shape_star.png`;
# assets/README.md): the core reads them as data, so it needs nothing from the shapes generator in training/.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
_masks: BoundedCache[np.ndarray] = BoundedCache(8)


@functools.cache
def _known_digests() -> dict[str, Path]:
    """The pixel digest of each example image that has a mask file, to that file (none outside a checkout)."""
    return {
        _digest(Image.open(mask.with_name(mask.name.replace(".mask.png", ".png")))): mask
        for mask in sorted(EXAMPLES_DIR.glob("*.mask.png"))
    }


def _digest(img: Image.Image) -> str:
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return hashlib.sha256(f"{arr.shape}".encode() + arr.tobytes()).hexdigest()


def known_objects(image: Image.Image) -> np.ndarray | None:
    """The object mask (H, W) bool of a shapes image whose ground truth is known, by its pixels; else None.

    Known: the bundled shapes examples, whatever their file is called (the pixels are matched, not the name).
    """
    digest = _digest(image)
    path = _known_digests().get(digest)
    if path is None:
        return None
    mask = _masks.get(digest)
    if mask is None:
        mask = np.asarray(Image.open(path).convert("1"), dtype=bool)
        mask.flags.writeable = False
        _masks.put(digest, mask)
    return mask
