"""Boxes: CutMix's box sampling, which SnapMix and the area rules share, and a box's area.

A box is (top, left, bottom, right) in pixels, half-open, in the model-input frame; `y` indexes rows.
Randomness comes only from the numpy generator passed in.
"""

import numpy as np

from snapmix_demo.inputs import beta_value

__all__ = ["Box", "area_lambda", "box_area", "box_around", "pair_boxes", "rand_box", "sample_lam"]

Box = tuple[int, int, int, int]  # (top, left, bottom, right), half-open


def sample_lam(beta: float, rng: np.random.Generator) -> float:
    """Mixing ratio lam ~ Beta(beta, beta); `beta` must be a positive finite number."""
    beta = beta_value(beta)
    return float(rng.beta(beta, beta))


def rand_box(height: int, width: int, lam: float, rng: np.random.Generator) -> Box:
    """Box of side ratio sqrt(1 - lam) around a uniform centre, clipped to the (height, width) frame."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    return box_around(cy, cx, cut_h, cut_w, height, width)


def box_around(cy: int, cx: int, cut_h: int, cut_w: int, height: int, width: int) -> Box:
    """Box of cut_h x cut_w centred on row `cy`, column `cx`, clipped to the (height, width) frame."""
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(top), int(left), int(bottom), int(right)


def pair_boxes(seed: int, beta: float, height: int, width: int) -> tuple[Box, Box]:
    """Box A and box B of a pair, drawn independently from `seed`: both ratios first, then both boxes."""
    rng = np.random.default_rng(seed)
    lam_a, lam_b = sample_lam(beta, rng), sample_lam(beta, rng)
    return rand_box(height, width, lam_a, rng), rand_box(height, width, lam_b, rng)


def box_area(box: Box) -> int:
    """Pixels inside a half-open (top, left, bottom, right) box (0 if empty)."""
    top, left, bottom, right = box
    return max(bottom - top, 0) * max(right - left, 0)


def area_lambda(box_a: Box, height: int, width: int) -> float:
    """CutMix's weight of image A: the share of its area outside box A."""
    return 1.0 - box_area(box_a) / (height * width)
