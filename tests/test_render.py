"""Overlays, boxes and the weights chart drawn from a result, without the model."""

import numpy as np
import pytest
from PIL import Image

from snapmix_demo import snapmix_pair
from snapmix_demo.render import COLOR_A, COLORMAPS, draw_box, heatmap_overlay, mixed_view, overlays, weights_html


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


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (60, 90, 3), dtype=np.uint8) for _ in range(2))
    return snapmix_pair(
        a, b, backbone="resnet18", weights="random", box_a=(10, 20, 110, 200), seed=1, target_a=1, target_b=2
    )


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


def test_weights_chart_names_both_labels_and_numbers(result):
    html = weights_html(result)
    assert f"{result.rho_a:.3f}" in html and f"{result.rho_b:.3f}" in html
    assert f"{result.area_lambda:.3f}" in html
    assert "not 1" in html or "not renormalised" in html
