"""Pictures of a `PairResult`: CAM overlays with boxes, the outlined mixed image, the weights chart.

Pure functions of a result and display options (colormap, opacity): changing those
re-renders without touching the model.
"""

import html

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from snapmix_demo.pipeline import PairResult
from snapmix_demo.snapmix import Box

__all__ = ["COLORMAPS", "COLOR_A", "COLOR_B", "draw_box", "heatmap_overlay", "mixed_view", "overlays", "weights_html"]

COLORMAPS = ("jet", "turbo", "inferno", "viridis", "magma")
COLOR_A = "#2563eb"  # image A and its label
COLOR_B = "#ea580c"  # image B, its box and the patch taken from it


def draw_box(img: Image.Image, box: Box, color: str, width: int = 3) -> Image.Image:
    """Copy of `img` with the half-open (top, left, bottom, right) `box` outlined inside its pixels."""
    top, left, bottom, right = box
    out = img.copy()
    if bottom > top and right > left:
        ImageDraw.Draw(out).rectangle((left, top, right - 1, bottom - 1), outline=color, width=width)
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


def overlays(res: PairResult, *, cmap: str = "jet", alpha: float = 0.5) -> tuple[Image.Image, Image.Image]:
    """CAM overlays of A (with box A, where the patch lands) and B (with box B, where it is cut from)."""
    cam_a = draw_box(heatmap_overlay(res.image_a, res.spm_a, cmap=cmap, alpha=alpha), res.box_a, COLOR_A)
    cam_b = draw_box(heatmap_overlay(res.image_b, res.spm_b, cmap=cmap, alpha=alpha), res.box_b, COLOR_B)
    return cam_a, cam_b


def mixed_view(res: PairResult) -> Image.Image:
    """The mixed image with the pasted box outlined in B's colour."""
    return draw_box(res.mixed, res.box_a, COLOR_B) if res.mixed_applied else res.mixed


def _bar(label: str, value: float, color: str) -> str:
    pct = max(0.0, min(1.0, value)) * 100
    return (
        f'<div class="wbar"><span class="wname">{html.escape(label)}</span>'
        f'<span class="wtrack"><span class="wfill" style="width:{pct:.1f}%;background:{color}"></span></span>'
        f'<span class="wval">{value:.3f}</span></div>'
    )


def weights_html(res: PairResult) -> str:
    """Chart of SnapMix's label weights beside CutMix's area weights for the same boxes."""
    a, b = f"A: {res.label_a}", f"B: {res.label_b}"
    rows = ['<div class="wchart"><div class="whead">SnapMix (share of each CAM)</div>']
    if res.same_class:
        rows.append(_bar(f"A+B: {res.label_a}", res.rho_a + res.rho_b, COLOR_A))
    else:
        rows += [_bar(a, res.rho_a, COLOR_A), _bar(b, res.rho_b, COLOR_B)]
    rows.append('<div class="whead">CutMix (share of the area)</div>')
    if res.same_class:
        rows.append(_bar(f"A+B: {res.label_a}", 1.0, "#64748b"))
    else:
        rows += [_bar(a, res.area_lambda, "#64748b"), _bar(b, 1.0 - res.area_lambda, "#94a3b8")]
    rows.append(f'<div class="wnote">{html.escape(_note(res))}</div></div>')
    return "".join(rows)


def _note(res: PairResult) -> str:
    """One sentence on what the numbers mean for this pair."""
    if not res.mixed_applied:
        return "An empty box: nothing was pasted, so the label stays A's (weights 1 and 0)."
    if res.same_class:
        return (
            f"Both images are '{res.label_a}': one label with weight rho_a + rho_b = "
            f"{res.rho_a:.3f} + {res.rho_b:.3f} = {res.rho_a + res.rho_b:.3f} (not renormalised to 1)."
        )
    fallback = [side for side, flag in (("A", res.fallback_a), ("B", res.fallback_b)) if flag]
    if fallback:
        return f"The CAM of {' and '.join(fallback)} is flat (degenerate): its weight falls back to the area share."
    total = res.rho_a + res.rho_b
    return f"SnapMix's weights sum to {total:.3f}, not 1: each measures its own image's semantics, never renormalised."
