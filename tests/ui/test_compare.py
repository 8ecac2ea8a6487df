"""The "Compare mixes" tab in headless Chromium: every method on the SnapMix tab's pair, at desktop and phone width.

A user picks the shapes example (whose object masks are known), opens the tab, reads each method's weights
beside the truth, chooses methods from the list and from the grid, switches to random weights and types a bad
seed. One screenshot at each width, of the tab's own panels.
"""

import numpy as np
import pytest
from PIL import Image

from snapmix_demo.training.shapes import make_sample
from tests.ui._page import NARROW, upload, wait_idle
from tests.ui.test_layout import covers
from tests.ui.test_screenshots import settle, shot

pytestmark = pytest.mark.browser

PANELS = ("#compare-intro", "#compare-run", "#compare-gallery", "#compare-chart", "#compare-table", "#compare-rule")


def open_compare(page) -> None:
    """The tab, however the page shows it: in the tab row, or in the "More tabs" menu on a phone."""
    tab = page.get_by_role("tab", name="Compare mixes")
    if tab.count():
        tab.click()
    else:
        page.get_by_label("More tabs").click()
        page.locator(".overflow-dropdown button", has_text="Compare mixes").click()
    wait_idle(page)


def shapes_comparison(page) -> None:
    """The first shapes example on its model, then the comparison (opening the tab runs it)."""
    page.locator("#examples-shapes tr.tr-body").nth(0).locator("td").first.click()
    page.locator("#status .timing").wait_for()
    wait_idle(page)
    open_compare(page)
    page.locator("#compare-gallery img").nth(9).wait_for()
    page.locator("#compare-chart img").wait_for()
    wait_idle(page)


def _table(page) -> str:
    return page.locator("#compare-table").inner_text()


def test_compare_view_on_a_shapes_pair(page, assert_snapshot):
    shapes_comparison(page)
    captions = page.locator("#compare-gallery .caption-label").all_inner_texts()
    assert len(captions) == 10 and captions[2].startswith("SnapMix · A ") and " · B " in captions[2], captions
    table = _table(page)
    assert "A: star" in table and "B: ring" in table and table.count("true ") == 20 and "error" in table
    assert "comes closest" in table, "with the truth known, the note names the closest method on this pair"
    assert page.locator("#compare-banner").inner_text().strip() == "", "a trained model: nothing to warn about"
    alt = page.locator("#compare-chart img").get_attribute("alt")
    assert alt.startswith("Bar chart of every method's label weights") and "true shares" in alt, alt
    settle(page)
    assert_snapshot(shot(page, *PANELS), "compare_shapes")


def test_compare_view_reads_at_phone_width(open_page, assert_snapshot):
    page = open_page(NARROW)
    shapes_comparison(page)
    settle(page)
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"the page scrolls sideways: {sizes[0]} px of content in {sizes[1]} px"
    for panel in ("#compare-table", "#compare-rule", "#compare-gallery"):
        fits = page.locator(panel).evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert fits, f"{panel} needs sideways scrolling"
    columns = page.locator("#compare-gallery .grid-container").evaluate(
        "e => getComputedStyle(e).gridTemplateColumns.split(' ').length"
    )
    assert columns == 2, f"two pictures a row on a phone, got {columns}"
    assert_snapshot(shot(page, *PANELS), "compare_shapes_narrow")


def test_choosing_a_method_shows_its_rule_with_this_pairs_numbers(page):
    shapes_comparison(page)
    rule = page.locator("#compare-rule").inner_text()
    assert "Huang et al., AAAI 2021" in rule and "ρA = " in rule and "Truth: A keeps" in rule, rule
    page.locator("#compare-method input").click()
    page.get_by_role("option", name="Attentive CutMix", exact=True).click()
    page.wait_for_function("() => document.querySelector('#compare-rule').innerText.includes('Walawalkar')")
    rule = page.locator("#compare-rule").inner_text()
    assert "k / cells" in rule and "top_k = 6" in rule and "grid = 7 × 7" in rule, rule
    page.locator("#compare-gallery .thumbnail-item").nth(5).click()  # FMix's picture
    page.wait_for_function("() => document.querySelector('#compare-rule').innerText.includes('Harris et al.')")
    assert page.locator("#compare-method input").input_value() == "FMix"
    assert "decay = 3" in page.locator("#compare-rule").inner_text()


def test_random_weights_and_a_bad_seed(page):
    shapes_comparison(page)
    page.get_by_role("tab", name="SnapMix").click()
    page.locator("#weights label").filter(has_text="random").click()
    wait_idle(page)
    open_compare(page)
    page.locator("#compare-banner .random").wait_for()
    wait_idle(page)
    warning = page.locator("#compare-banner").inner_text()
    assert "Random weights" in warning and "GuidedMixup" in warning and "mean nothing" in warning, warning
    assert "CutMix," not in warning.split("read (")[1].split(")")[0], "CutMix reads no map: its weights are real"
    assert page.locator("#compare-table .meaningless").count() == 6, "the six CAM-guided methods are marked"
    page.get_by_role("tab", name="SnapMix").click()
    page.locator("#seed input, #seed textarea").first.fill("1.5")
    open_compare(page)
    page.locator("#compare-run").click()
    page.locator("#compare-banner .error").wait_for()
    wait_idle(page)
    message = page.locator("#compare-banner").inner_text()
    assert "Could not compare the mixes." in message and "Seed of the boxes: must be a whole number" in message
    assert page.locator("#compare-gallery img").count() == 0, "the old pictures are cleared"
    assert "Press Compare every method" in _table(page)


@pytest.mark.parametrize("width", [None, NARROW], ids=["1280px", "400px"])
def test_own_object_masks_give_any_pair_its_truth(open_page, tmp_path, width):
    """Two generated shapes images (not the examples): no truth, until both masks are given; a misfit is named."""
    page = open_page(width) if width else open_page()
    for side, seed in (("a", 11), ("b", 12)):
        sample = make_sample(seed, size=160)
        sample.image.save(tmp_path / f"{side}.png")
        Image.fromarray(sample.mask).save(tmp_path / f"{side}.mask.png")
    Image.fromarray(np.ones((40, 160), bool)).save(tmp_path / "wrong.png")
    page.locator("#weights label").filter(has_text="shapes").click()
    wait_idle(page)
    for side in "ab":
        upload(page, side, tmp_path / f"{side}.png")
        page.locator(f"#image-{side} img").wait_for()
    wait_idle(page)
    open_compare(page)
    page.locator("#compare-gallery img").nth(9).wait_for()
    wait_idle(page)
    assert "true " not in _table(page) and "give both images' object masks below" in _table(page)
    page.locator("#compare-masks").get_by_text("Your own truth").click()
    for side in "ab":
        page.locator(f"#mask-{side} input[type=file]").set_input_files(str(tmp_path / f"{side}.mask.png"))
        page.locator(f"#mask-{side} img").wait_for()
        measured = covers(page, f"#mask-{side}")
        assert measured["covers"] == [], f"mask {side}: drawn at {measured['picture']}, covered by {measured['covers']}"
    page.locator("#compare-run").click()
    page.wait_for_function("() => document.querySelector('#compare-table').innerText.includes('comes closest')")
    wait_idle(page)
    assert _table(page).count("true ") == 20, _table(page)
    page.locator("#mask-b input[type=file]").set_input_files(str(tmp_path / "wrong.png"))
    page.locator("#compare-run").click()
    page.locator("#compare-banner .error").wait_for()
    message = page.locator("#compare-banner").inner_text()
    assert "Object mask of B: the mask of B is 160 × 40 pixels" in message, message
