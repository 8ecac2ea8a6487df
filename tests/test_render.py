"""Overlays, raw maps and boxes drawn from a result, without the model."""

import numpy as np
import pytest
from PIL import Image

from snapmix_demo import snapmix_pair
from snapmix_demo.render import (
    COLOR_A,
    COLORMAPS,
    MIN_BOX_SIDE,
    draw_box,
    heatmap_overlay,
    mixed_view,
    overlays,
    raw_map,
)


def test_draw_box_outlines_inside_the_half_open_box():
    img = Image.new("RGB", (20, 10), "black")
    out = np.asarray(draw_box(img, (2, 3, 8, 15), "#ff0000", width=1))
    red = np.all(out == (255, 0, 0), axis=-1)
    rows, cols = np.nonzero(red)
    assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (2, 3, 8, 15)
    assert not red[3:7, 4:14].any(), "only the outline is drawn"
    assert np.asarray(img).sum() == 0, "the input is not modified"


def test_heatmap_peak_is_hot_and_degenerate_map_is_grey():
    img = Image.new("RGB", (8, 6), (0, 0, 255))
    spm = np.zeros((6, 8), np.float32)
    spm[4, 6] = 1.0
    out = np.asarray(heatmap_overlay(img, spm, cmap="jet", alpha=1.0)).astype(int)
    assert out[4, 6, 0] > 100 and out[4, 6, 2] < 50, "jet's maximum is red"
    grey = np.asarray(heatmap_overlay(img, None))
    assert np.ptp(grey[0, 0]) < np.ptp(np.asarray(img)[0, 0]), "a flat CAM is shown greyed out"
    with pytest.raises(ValueError, match="colormap"):
        heatmap_overlay(img, spm, cmap="rainbowish")
    with pytest.raises(ValueError, match="opacity"):
        heatmap_overlay(img, spm, alpha=1.5)


@pytest.mark.parametrize("cmap", COLORMAPS)
def test_overlays_keep_the_frame_and_draw_box_a(result, cmap):
    cam_a, cam_b = overlays(result, cmap=cmap, alpha=0.3)
    assert cam_a.size == cam_b.size == (224, 224)
    edge = np.asarray(cam_a)[10, 100]
    assert tuple(edge) == tuple(int(COLOR_A[i : i + 2], 16) for i in (1, 3, 5)), "box A's top edge in A's colour"


def test_mixed_view_outlines_the_patch_only(result):
    shown = np.asarray(mixed_view(result))
    raw = np.asarray(result.mixed)
    differs = np.any(shown != raw, axis=-1)
    rows, cols = np.nonzero(differs)
    assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == result.box_a


@pytest.mark.parametrize("box", [(100, 50, 101, 52), (100, 50, 101, 150), (0, 0, 1, 1), (223, 223, 224, 224)])
def test_a_box_a_pixel_wide_is_ringed_from_outside_and_stays_visible(box):
    img = Image.new("RGB", (224, 224), "black")
    red = np.all(np.asarray(draw_box(img, box, "#ff0000")) == (255, 0, 0), axis=-1)
    top, left, bottom, right = box
    assert not red[top:bottom, left:right].any(), "the box's own pixels are not painted over"
    rows, cols = np.nonzero(red)
    assert rows.max() - rows.min() + 1 >= min(MIN_BOX_SIDE, 224 - top, bottom) - 1
    assert cols.max() - cols.min() + 1 >= min(MIN_BOX_SIDE, 224 - left, right) - 1
    assert red.sum() >= 4 * MIN_BOX_SIDE or top in (0, 223), f"only {red.sum()} pixels of outline"


def test_beta_one_tenth_draws_visible_boxes():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (60, 90, 3), dtype=np.uint8) for _ in range(2))
    for seed in range(20):  # Beta(0.1, 0.1) draws lam near 0 or 1: boxes of the whole image or a few pixels
        res = snapmix_pair(a, b, backbone="resnet18", weights="random", beta=0.1, seed=seed)
        if not res.mixed_applied:
            continue
        outline = np.all(np.asarray(overlays(res)[0]) == tuple(int(COLOR_A[i : i + 2], 16) for i in (1, 3, 5)), -1)
        assert outline.sum() >= 30, f"seed {seed}: box A {res.box_a} shows only {outline.sum()} outline pixels"


def test_the_raw_view_shows_the_map_alone(result):
    raw_a, _ = overlays(result, raw=True, cmap="viridis")
    assert np.array_equal(
        np.asarray(raw_a)[20:100, 0:10], np.asarray(raw_map(result.spm_a, (224, 224), cmap="viridis"))[20:100, 0:10]
    ), "outside the box, the raw view is the colormapped map"
    flat = np.asarray(raw_map(None, (8, 6)))
    assert (flat == 128).all(), "a flat map has no values to show: plain grey"
