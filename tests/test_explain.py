"""The words that explain a result: captions, formulas, top-5, banners; numbers from the result, text escaped."""

import dataclasses
import html as html_module
import re

import pytest

from snapmix_demo.app.explain import (
    LOW_CONFIDENCE,
    banner_html,
    caption_html,
    error_html,
    mixed_caption_html,
    status_html,
    topk_html,
    weights_html,
)


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def test_each_cam_caption_names_its_class_probability_and_box_share(result):
    a, b = _text(caption_html(result, "A")), _text(caption_html(result, "B"))
    assert f"A: {result.label_a}" in a and "chosen" in a and f"p = {result.prob_a:.2f}" in a
    assert f"box A holds {result.share_a * 100:.0f} % of A's CAM → A keeps {result.rho_a:.2f}" in a
    assert f"box B holds {result.share_b * 100:.0f} % of B's CAM → B gets {result.rho_b:.2f}" in b


def test_captions_of_a_flat_map_and_of_an_empty_box(result):
    flat = dataclasses.replace(result, share_a=None, fallback_a=True, rho_a=result.area_lambda)
    assert "A's CAM is flat" in _text(caption_html(flat, "A"))
    empty = dataclasses.replace(result, mixed_applied=False, rho_a=1.0, rho_b=0.0, area_lambda=1.0)
    assert "nothing is pasted" in _text(caption_html(empty, "B"))
    assert "the mixed image is A" in _text(mixed_caption_html(empty))


def test_the_weights_panel_shows_the_formulas_with_numbers_and_both_boxes(result):
    text = _text(weights_html(result))
    assert f"ρA = 1 − ΣSPM_A[box A] = 1 − {result.share_a:.3f} = {result.rho_a:.3f}" in text
    assert f"ρB = ΣSPM_B[box B] = {result.rho_b:.3f}" in text
    assert f"1 − 18 000 / (224 × 224) = {result.area_lambda:.3f}" in text, "box A is 100 x 180 pixels"
    assert "box A = (10, 20, 110, 200)" in text and f"box B = ({', '.join(map(str, result.box_b))})" in text
    assert "224 × 224 model input" in text


@pytest.mark.parametrize(("rho_a", "rho_b", "phrase"), [(0.4, 0.6, "= 1.000 here by coincidence"), (0.3, 0.4, "not 1")])
def test_the_note_says_the_weights_sum_to_1_only_when_they_do(result, rho_a, rho_b, phrase):
    other = dataclasses.replace(result, rho_a=rho_a, rho_b=rho_b, class_b=result.class_a + 1)
    text = _text(weights_html(other))
    assert phrase in text
    assert "1.000, not 1" not in text


def test_random_weights_are_said_plainly_and_their_classes_marked_meaningless(result):
    assert result.weights_kind == "random"
    assert "Random weights" in banner_html(result, stale=False)
    top = topk_html(result, "A")
    assert "meaningless" in top and "<b>" not in top
    assert "this class means nothing" in _text(caption_html(result, "A"))
    real = dataclasses.replace(result, weights_kind="imagenet")
    assert banner_html(real, stale=False) == ""
    assert "meaningless" not in topk_html(real, "A") + caption_html(real, "A")


def test_stale_results_are_marked(result):
    assert "Out of date" in banner_html(result, stale=True)
    assert "Out of date" not in banner_html(result, stale=False)


def test_text_from_users_and_models_is_escaped(result):
    hostile = dataclasses.replace(result, label_a="<img src=x onerror=alert(1)>", backbone="<b>x</b>")
    for html in (caption_html(hostile, "A"), weights_html(hostile), banner_html(hostile, stale=False)):
        assert "<img" not in html and "<b>x" not in html
    assert "<script>" not in error_html("<script>alert(1)</script>")
    assert "&lt;script&gt;" in error_html("<script>alert(1)</script>")


def test_status_names_backbone_mode_weights_and_seed(result):
    text = _text(status_html(result))
    assert "resnet18" in text and "mode default" in text and "seed 1" in text and "random init" in text
    assert "engine: torch" in text, text


@pytest.mark.parametrize(("prob", "flagged"), [(0.19, True), (0.2, False), (0.8, False)])
def test_a_weak_prediction_is_flagged_beside_it(result, prob, flagged):
    res = dataclasses.replace(result, weights_kind="imagenet", chosen_a=False, prob_a=prob)
    caption = _text(caption_html(res, "A"))
    assert ("low confidence (p < 0.20)" in caption) is flagged, caption
    assert LOW_CONFIDENCE == 0.2, "benchmarks/results/confidence.txt justifies 0.2"
    assert "low confidence" not in _text(caption_html(dataclasses.replace(res, chosen_a=True), "A")), "a chosen class"
    assert "low confidence" not in _text(caption_html(dataclasses.replace(res, weights_kind="random"), "A"))


def test_results_of_the_shapes_model_say_it_knows_only_eight_shapes(result):
    res = dataclasses.replace(result, backbone="tf_efficientnet_lite0", weights_kind="shapes")
    text = _text(banner_html(res, stale=False))
    assert "know only eight procedural shapes" in text and "star, cross, ring" in text
    assert "procedural shapes" not in banner_html(dataclasses.replace(res, weights_kind="imagenet"), stale=False)
