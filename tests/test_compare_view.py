"""The Compare mixes tab's words and pictures, without a browser: each rule's numbers add up to the weights shown."""

import html
import io
import re

import pytest
from PIL import Image

from snapmix_demo import MIXES, compare_mixes
from snapmix_demo.app import compare_views
from snapmix_demo.app.examples import PHOTO_PAIRS, SHAPE_PAIRS


@pytest.fixture(scope="module")
def shapes():
    return compare_mixes(*SHAPE_PAIRS[0], weights="shapes", seed=3)


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("pair", [SHAPE_PAIRS[1], PHOTO_PAIRS[0]], ids=["shapes", "photos"])
def test_each_rule_with_its_numbers_gives_the_weights_shown(pair, seed):
    weights = "shapes" if pair in SHAPE_PAIRS else "imagenet"
    cmp = compare_mixes(*pair, weights=weights, seed=seed)
    for name, res in cmp.pairs.items():
        lines = compare_views.formula_lines(res)
        assert lines, f"{name}: no formula"
        if name in ("snapmix", "snapmix_official"):
            got = [float(re.findall(r"= (\d\.\d{3})$", line)[0]) for line in lines]
            assert got == [round(res.rho_a, 3), round(res.rho_b, 3)], (name, lines)
        else:
            final = float(re.findall(r"= (\d\.\d{3})(?:,|$)", lines[-1])[-1])
            assert final == round(res.rho_a if name == "mixup" else res.rho_b, 3), (name, lines)


def test_the_table_sets_each_weight_beside_its_truth_and_error(shapes):
    table = html.unescape(re.sub(r"<[^>]+>", " ", compare_views.table_html(shapes)))
    for res in shapes.pairs.values():
        assert f"{res.rho_a:.3f}" in table and f"true {res.true_a:.3f}" in table and f"{res.error_a:+.3f}" in table
    assert "comes closest" in table and "A: star" in table


def test_a_methods_rule_names_its_paper_and_a_bad_choice_shows_the_placeholder(shapes):
    rule = compare_views.method_html(shapes, "guidedmixup")
    assert "Kang &amp; Kim, AAAI 2023" in rule and MIXES["guidedmixup"].paper.url in rule and "Truth:" in rule
    assert compare_views.method_html(shapes, "<b>nope</b>") == compare_views.RULE_PLACEHOLDER
    assert "ρA = " not in compare_views.method_html(None, "cutmix"), "no numbers before a comparison"


def test_the_chart_is_a_png_and_its_alt_text_reads_every_weight(shapes):
    chart = Image.open(io.BytesIO(compare_views.chart_png(shapes)))
    assert chart.format == "PNG" and chart.width >= 500
    alt = compare_views.chart_alt(shapes)
    assert all(res.spec.title in alt for res in shapes.pairs.values()) and "true shares" in alt


def test_random_weights_say_the_cam_guided_weights_mean_nothing():
    cmp = compare_mixes(*PHOTO_PAIRS[0], backbone="resnet18", weights="random", methods=["cutmix", "saliencymix"])
    banner = compare_views.compare_banner_html(cmp)
    assert "Random weights" in banner and "SaliencyMix" in banner and "CutMix" not in banner.split("read (")[1]
    assert compare_views.compare_banner_html(compare_mixes(*PHOTO_PAIRS[0], methods=["cutmix"])) == ""
