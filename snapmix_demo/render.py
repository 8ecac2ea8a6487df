"""Pictures of a `PairResult`: CAM overlays or raw maps with their boxes, and the outlined mixed image.

Pure functions of a result and display options (colormap, opacity, overlay or raw map): changing
those re-renders without touching the model. The words that explain a result are in `explain.py`.
"""

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from snapmix_demo.boxes import Box
from snapmix_demo.pipeline import PairResult

__all__ = [
    "COLORMAPS",
    "COLOR_A",
    "COLOR_B",
    "MIN_BOX_SIDE",
    "draw_box",
    "heatmap_overlay",
    "mixed_view",
    "overlays",
    "raw_map",
]

COLORMAPS = ("jet", "turbo", "inferno", "viridis", "magma")
COLOR_A = "#2563eb"  # image A and its label
COLOR_B = "#ea580c"  # image B, its box and the patch taken from it
MIN_BOX_SIDE = 12  # the smallest frame drawn around a box too narrow to be outlined inside


def draw_box(img: Image.Image, box: Box, color: str, width: int = 3) -> Image.Image:
    """Copy of `img` with the half-open (top, left, bottom, right) `box` outlined inside its pixels.

    A box too narrow to show inside its own outline (beta 0.1 draws boxes a pixel wide) is ringed from
    outside instead, by a frame at least `MIN_BOX_SIDE` wide, so that it and its pixels stay visible.
    """
    top, left, bottom, right = box
    out = img.copy()
    if bottom <= top or right <= left:
        return out
    if min(bottom - top, right - left) > 3 * width:
        ImageDraw.Draw(out).rectangle((left, top, right - 1, bottom - 1), outline=color, width=width)
        return out
    pad_y = max(width, (MIN_BOX_SIDE - (bottom - top) + 1) // 2)
    pad_x = max(width, (MIN_BOX_SIDE - (right - left) + 1) // 2)
    ring = (left - pad_x, top - pad_y, right - 1 + pad_x, bottom - 1 + pad_y)
    ImageDraw.Draw(out).rectangle(ring, outline=color, width=width)
    return out


def heatmap_overlay(img: Image.Image, spm: np.ndarray | None, *, cmap: str = "jet", alpha: float = 0.5) -> Image.Image:
    """`img` blended with the colormapped map scaled to [0, 1] (the SPM itself sums to 1 and looks black).

    A degenerate (None) map leaves the image greyed out: there is no activation to show.
    """
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colormap `{cmap}`; choose one of: {', '.join(COLORMAPS)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, got {alpha}")
    if spm is None:
        return Image.blend(img, img.convert("L").convert("RGB"), 0.8)
    peak = float(spm.max())
    scaled = spm / peak if peak > 0 else spm
    heat = (colormaps[cmap](scaled)[..., :3] * 255).astype(np.uint8)
    return Image.blend(img, Image.fromarray(heat), alpha)


def raw_map(spm: np.ndarray | None, size: tuple[int, int], *, cmap: str = "jet") -> Image.Image:
    """The map alone, colormapped from 0 to its peak (`size` = (width, height)); a flat map is plain grey."""
    if spm is None:
        return Image.new("RGB", size, (128, 128, 128))
    return heatmap_overlay(Image.new("RGB", size), spm, cmap=cmap, alpha=1.0)


def overlays(
    res: PairResult, *, cmap: str = "jet", alpha: float = 0.5, raw: bool = False
) -> tuple[Image.Image, Image.Image]:
    """CAMs of A (with box A, where the patch lands) and B (with box B, where it is cut from).

    Overlaid on the images, or with `raw` the maps alone (the SPM, scaled to its peak).
    """
    if raw:
        heat_a, heat_b = (raw_map(spm, res.image_a.size, cmap=cmap) for spm in (res.spm_a, res.spm_b))
    else:
        heat_a = heatmap_overlay(res.image_a, res.spm_a, cmap=cmap, alpha=alpha)
        heat_b = heatmap_overlay(res.image_b, res.spm_b, cmap=cmap, alpha=alpha)
    return draw_box(heat_a, res.box_a, COLOR_A), draw_box(heat_b, res.box_b, COLOR_B)


def mixed_view(res: PairResult) -> Image.Image:
    """The mixed image with the pasted box outlined in B's colour."""
    return draw_box(res.mixed, res.box_a, COLOR_B) if res.mixed_applied else res.mixed
