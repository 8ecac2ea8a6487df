"""Screenshots of the real app in headless Chromium, compared with committed baselines.

Every scenario starts from a fresh page at a fixed viewport. Before each shot the page is
settled (focus dropped, mouse parked in a corner, lazy images loaded and decoded, fonts
ready, 0.5 s pause) and dynamic text is masked: the run time in the status line and the
countdown bar of toasts.
"""

import io

import numpy as np
import pytest
from PIL import Image

from snapmix_demo.patches import PATCH_MODES
from tests.ui._page import CAT, NARROW, RESULT_PANELS, banner, run_first_example, upload, wait_idle

pytestmark = pytest.mark.browser

# Dynamic content: masked in every shot. The timing is also given a fixed text first, so
# that its length (hence the wrapping of the status line) never depends on the machine.
MASKED = ("#status .timing", ".toast-body .timer")
TIMING_PLACEHOLDER = "1000 ms (model run)"
MODE_PANELS = ("#mode", "#mode-note", "#patch-source")

_IMAGES_READY = """() => {
    const images = Array.from(document.images);
    for (const img of images) if (img.loading === 'lazy') img.loading = 'eager';  // full-page shots show them
    return images.every(img => img.complete);
}"""
_DECODE_IMAGES = "() => Promise.all(Array.from(document.images).map(img => img.decode().catch(() => null)))"
_UNION_BOX = """(selectors) => {
    let top = Infinity, left = Infinity, bottom = -Infinity, right = -Infinity;
    for (const selector of selectors) {
        const r = document.querySelector(selector).getBoundingClientRect();
        top = Math.min(top, r.top + scrollY); left = Math.min(left, r.left + scrollX);
        bottom = Math.max(bottom, r.bottom + scrollY); right = Math.max(right, r.right + scrollX);
    }
    return {x: Math.floor(left), y: Math.floor(top),
            width: Math.ceil(right) - Math.floor(left), height: Math.ceil(bottom) - Math.floor(top)};
}"""


# ## Driving the page


STABLE_TRIES = 5


def settle(page) -> None:
    """Make the page still: no focus ring, no hover, every image decoded, fonts in, timing text fixed."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)  # off every button: hover colours differ
    page.wait_for_function(_IMAGES_READY)
    page.evaluate(_DECODE_IMAGES)
    page.evaluate("() => document.fonts.ready.then(() => null)")
    page.evaluate(
        "(text) => document.querySelectorAll('#status .timing').forEach(e => { e.textContent = text; })",
        TIMING_PLACEHOLDER,
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)


def shot(page, *selectors: str, viewport_only: bool = False) -> bytes:
    """A stable PNG: captured until two consecutive captures agree (as Playwright's toHaveScreenshot does)."""
    previous = _capture(page, *selectors, viewport_only=viewport_only)
    for _ in range(STABLE_TRIES):
        page.wait_for_timeout(250)
        current = _capture(page, *selectors, viewport_only=viewport_only)
        if current == previous:
            return current
        previous = current
    pytest.fail(f"the page did not settle: {STABLE_TRIES + 1} consecutive screenshots differed", pytrace=False)


def _capture(page, *selectors: str, viewport_only: bool = False) -> bytes:
    """PNG of the union of `selectors` (page coordinates), else of the full page (or only the viewport)."""
    options = {
        "animations": "disabled",
        "caret": "hide",
        "scale": "css",
        "mask": [page.locator(s) for s in MASKED],
        "mask_color": "#FF00FF",
    }
    if selectors:
        return page.screenshot(full_page=True, clip=page.evaluate(_UNION_BOX, list(selectors)), **options)
    return page.screenshot(full_page=not viewport_only, **options)


def choose_mode(page, mode: str) -> None:
    if mode != "default":
        page.locator("#mode label").filter(has_text=mode).click()
    page.locator("#mode-note strong").filter(has_text=mode).wait_for()
    wait_idle(page)


def _mode_shots(page, mode: str) -> dict[str, bytes]:
    choose_mode(page, mode)
    run_first_example(page)
    settle(page)
    return {"results": shot(page, *RESULT_PANELS), "source": shot(page, "#patch-source")}


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ## Scenarios


def test_initial_page(page, assert_snapshot):
    settle(page)
    assert_snapshot(shot(page), "initial")


_MODE_SHOTS: dict[str, dict[str, bytes]] = {}  # filled by the per-mode test, compared by the next one


@pytest.mark.parametrize("mode", PATCH_MODES)
def test_first_example_in_each_mode(page, assert_snapshot, mode):
    _MODE_SHOTS[mode] = _mode_shots(page, mode)
    if mode == "default":
        assert_snapshot(shot(page), "example1_default")
    else:  # the results are asserted identical to the default mode's below: only the mode panels are kept
        assert_snapshot(shot(page, *MODE_PANELS), f"example1_{mode}_panels")


def test_modes_change_only_the_patch_source(open_page):
    for mode in PATCH_MODES:
        if mode not in _MODE_SHOTS:  # run on its own (-k): make the shots here
            _MODE_SHOTS[mode] = _mode_shots(open_page(), mode)
    first, *others = PATCH_MODES
    for mode in others:
        a, b = _pixels(_MODE_SHOTS[first]["results"]), _pixels(_MODE_SHOTS[mode]["results"])
        assert a.shape == b.shape, f"results region of {mode} is {b.shape}, of {first} {a.shape}"
        assert np.array_equal(a, b), (
            f"results of mode {mode} differ from {first} in {np.any(a != b, axis=2).mean():.3%} of pixels"
        )
    sources = {mode: _pixels(_MODE_SHOTS[mode]["source"]) for mode in PATCH_MODES}
    for i, mode in enumerate(PATCH_MODES):
        for other in PATCH_MODES[i + 1 :]:
            a, b = sources[mode], sources[other]
            assert a.shape != b.shape or not np.array_equal(a, b), f"patch sources of {mode} and {other} look alike"


def test_explicit_boxes_viridis_and_opacity(page, assert_snapshot):
    run_first_example(page)
    page.get_by_text("Classes, boxes and randomness").click()
    page.locator("#box-a").get_by_role("textbox").fill("40 40 160 180")  # spaces: issue 11
    page.locator("#box-a").get_by_role("textbox").press("Enter")
    wait_idle(page)
    page.locator("#box-b").get_by_role("textbox").fill("[0, 60, 120, 200]")
    page.locator("#box-b").get_by_role("textbox").press("Enter")
    wait_idle(page)
    page.locator("#cmap input").click()
    page.get_by_role("option", name="viridis", exact=True).click()
    opacity = page.locator("#alpha input[type=number]")
    opacity.fill("0.8")
    opacity.press("Enter")
    wait_idle(page)
    settle(page)
    assert page.locator("#alpha input[type=number]").input_value() == "0.8"
    assert page.locator("#cmap input").input_value() == "viridis"
    assert "box A = (40, 40, 160, 180)" in page.locator("#weights-chart").inner_text()
    assert "box B = (0, 60, 120, 200)" in page.locator("#weights-chart").inner_text()
    assert banner(page) == "", "the boxes re-ran at Enter: nothing is out of date"
    assert_snapshot(shot(page, "#options", "#seed", "#alpha", *RESULT_PANELS), "boxes_viridis_opacity")


def test_error_when_image_b_is_missing(page, assert_snapshot):
    page.locator("#image-b button[aria-label='Remove Image']").click()  # the first page holds the example pair
    page.locator("#image-b img").wait_for(state="detached")
    wait_idle(page)
    upload(page, "a", CAT)
    page.locator("#image-a img").wait_for()
    page.locator("#run").click()
    toast = page.locator(".toast-body")
    toast.wait_for()
    assert "Image B: please upload or paste an image" in toast.inner_text()
    # the first toast may be the upload's own re-run; the banner follows when the runs and their checks are done
    page.wait_for_function("() => document.querySelector('#banner').innerText.includes('Image B: please upload')")
    wait_idle(page)
    assert "Image B: please upload or paste an image" in banner(page)
    settle(page)
    assert_snapshot(shot(page, viewport_only=True), "error_missing_b")  # the toast is fixed at the viewport's top


def test_a_shapes_example_runs_on_the_shapes_model(page, assert_snapshot):
    page.locator("#examples-shapes tr.tr-body").nth(0).locator("td").first.click()
    page.locator("#status .timing").wait_for()
    wait_idle(page)
    status = page.locator("#status").inner_text()
    assert "bundled shapes model" in status and "tf_efficientnet_lite0" in status
    assert "A: star" in page.locator("#cam-a-caption").inner_text()
    assert "B: ring" in page.locator("#cam-b-caption").inner_text()
    settle(page)
    assert_snapshot(shot(page, "#weights", *RESULT_PANELS), "shapes_example")


def test_random_weights_are_announced(page, assert_snapshot):
    run_first_example(page)
    page.locator("#weights label").filter(has_text="random").click()
    wait_idle(page)
    assert "Out of date" in banner(page)
    page.locator("#run").click()
    page.locator("#banner .random").wait_for()
    wait_idle(page)
    assert "Random weights" in banner(page) and "Out of date" not in banner(page)
    assert "meaningless" in page.locator("#top-a").inner_text()
    settle(page)
    assert_snapshot(shot(page, "#banner", *RESULT_PANELS), "random_weights")


def test_playground_after_run(page, assert_snapshot):
    page.get_by_role("tab", name="@patch_to playground").click()
    page.locator("#playground-run").click()
    output = page.locator("#playground-output textarea")
    page.wait_for_function("() => document.querySelector('#playground-output textarea').value.length > 0")
    wait_idle(page)
    assert "Counter.from_class() -> 10" in output.input_value()
    font = output.evaluate("e => getComputedStyle(e).fontFamily")
    assert "mono" in font.lower(), f"the output's columns line up only in a monospaced font, got {font}"
    settle(page)
    assert_snapshot(shot(page), "playground")


def test_narrow_viewport_result(open_page, assert_snapshot):
    page = open_page(NARROW)
    run_first_example(page)
    settle(page)
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"the page scrolls sideways: {sizes[0]} px of content in {sizes[1]} px"
    table = page.locator("#examples-photos .table-wrap")
    assert table.evaluate("e => e.scrollWidth <= e.clientWidth"), "the examples table needs sideways scrolling"
    backbone = page.locator("#backbone input")
    assert backbone.evaluate("e => e.scrollWidth <= e.clientWidth"), "the backbone's name is cut off"
    bars = page.locator("#weights-chart .wtrack").evaluate_all("els => els.map(e => e.clientWidth)")
    assert min(bars) >= 150, f"weight bars shrink to {min(bars)} px"
    assert_snapshot(shot(page), "narrow_result")
