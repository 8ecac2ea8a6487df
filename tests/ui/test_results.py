"""What a result offers, in headless Chromium: a read-only downloads list, alt text, the files' frames.

No screenshots (no baseline, so any Chromium version runs them): the page's DOM.
"""

import pytest
from PIL import Image

from tests.ui._page import banner, run_first_example, upload, wait_idle
from tests.ui.conftest import new_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def result_page(browser, app_url):
    page = new_page(browser, app_url)
    run_first_example(page)
    page.get_by_text("Downloads (.json, .png, .npy)").click()
    page.locator("#downloads a[download]").first.wait_for()
    yield page
    page.context.close()


def test_the_downloads_list_offers_no_remove_button(result_page):
    remove = result_page.locator("#downloads button[aria-label='Remove this file']")
    visible = [b for b in remove.all() if b.is_visible()]
    assert not visible, f"{len(visible)} visible Remove buttons: one click would drop a file until the next run"


def test_full_resolution_downloads_sit_beside_the_model_frame_ones_and_say_which_is_which(result_page):
    names = result_page.locator("#downloads a[download]").evaluate_all(
        "links => links.map(a => a.getAttribute('download'))"
    )
    assert {"cam_a_full.png", "cam_b_full.png", "mixed_full.png", "cam_a.png", "spm_a.npy"} <= set(names), names
    note = result_page.locator("#downloads-note").inner_text()
    assert "model-input frame" in note and "own resolution" in note


def test_every_picture_has_alt_text_that_says_what_it_shows(result_page):
    alts = result_page.evaluate(
        """() => Array.from(document.querySelectorAll('[id^="examples-"] img, #cam-a img, #cam-b img, #mixed img'))
            .map(img => [img.closest('[id]').id, img.alt])"""
    )
    assert alts and all(alt for _, alt in alts), f"pictures without alt text: {[i for i, alt in alts if not alt]}"
    by_panel = dict(alts)
    assert "Example, image A: cat.jpg" in [alt for _, alt in alts]
    assert "'Egyptian cat'" in by_panel["cam-a"] and "box A (" in by_panel["cam-a"]
    assert "'espresso'" in by_panel["cam-b"] and "replaced by image B's box B" in by_panel["mixed"]


def test_the_first_page_shows_the_cat_and_coffee_result_ready(browser, app_url):
    page = new_page(browser, app_url)
    try:
        assert "A: Egyptian cat" in page.locator("#cam-a-caption").inner_text(), "no click needed"
        assert "B: espresso" in page.locator("#cam-b-caption").inner_text()
        assert "boxes of seed 0, beta 5" in page.locator("#status").inner_text()
        before = page.locator("#cam-a img").get_attribute("src")
        page.locator("#alpha input[type=range]").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(s) => document.querySelector('#cam-a img').getAttribute('src') !== s", arg=before)
        wait_idle(page)
        assert banner(page) == "", "the first result counts as computed from the controls on screen"
    finally:
        page.context.close()


def test_an_animated_gif_previews_its_first_frame_the_one_used(browser, app_url, tmp_path):
    frames = [Image.new("RGB", (64, 64), color) for color in ((220, 30, 30), (30, 30, 220), (30, 220, 30))]
    gif = tmp_path / "blinking.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    page = new_page(browser, app_url)
    try:
        upload(page, "a", gif)
        page.wait_for_function("() => (document.querySelector('#image-a img') || {}).title?.includes('first frame')")
        shown = page.locator("#image-a img")
        assert shown.get_attribute("src").startswith("data:image/png"), "a still picture, not the animation"
        pixel = page.evaluate(
            """() => { const img = document.querySelector('#image-a img'), c = document.createElement('canvas');
                       c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d');
                       g.drawImage(img, 0, 0); return Array.from(g.getImageData(32, 32, 1, 1).data.slice(0, 3)); }"""
        )
        assert pixel[0] > 150 and pixel[2] < 100, f"the first (red) frame is shown, got {pixel}"
    finally:
        page.context.close()


def test_a_failed_download_toast_leaves_the_model_controls_visible(browser, app_url):
    page = new_page(browser, app_url)  # the tests run with SNAPMIX_OFFLINE=1: the download fails at once
    try:
        page.locator("#backbone input").click()
        page.get_by_role("option", name="resnet50 (torchvision)").click()
        page.locator("#weights label").filter(has_text="ImageNet (download").click()
        toast = page.locator(".toast-body").filter(has_text="could not download")
        toast.wait_for()
        wait_idle(page)
        box = toast.bounding_box()
        for control in ("#backbone", "#weights"):
            other = page.locator(control).bounding_box()
            apart = (
                box["x"] + box["width"] <= other["x"]
                or other["x"] + other["width"] <= box["x"]
                or box["y"] + box["height"] <= other["y"]
                or other["y"] + other["height"] <= box["y"]
            )
            assert apart, f"the toast {box} covers {control} {other}"
    finally:
        page.context.close()


def test_the_spread_over_seeds_is_drawn_from_the_cached_cams_and_nothing_covers_it(browser, app_url):
    from tests.ui.test_layout import covers

    page = new_page(browser, app_url)
    try:
        page.get_by_text("Spread over 300 seeds' boxes").click()
        page.locator("#spread-run").click()
        page.locator("#spread img").wait_for()
        wait_idle(page)
        assert "300 seeds' boxes" in page.locator("#spread-note").inner_text()
        assert "Scatter of SnapMix's weights" in page.locator("#spread img").get_attribute("alt")
        measured = covers(page, "#spread")
        assert measured["covers"] == [], measured
    finally:
        page.context.close()


def test_a_link_restores_the_example_pair_and_the_controls(browser, app_url):
    query = "pair=astronaut.jpg,grace_hopper.jpg&mode=as_prop&seed=7&beta=2.5&box_a=10+10+100+100&cmap=viridis"
    page = new_page(browser, f"{app_url}?{query}")
    try:
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('seed 7, beta 2.5')")
        # the link's run is the last of a chain (controls, mode note, run, banner): on a loaded machine a pause
        # between two of its events can pass for idle, so wait for the run's own output, then for idle
        page.wait_for_function(
            "() => document.querySelector('#weights-chart').innerText.includes('box A = (10, 10, 100, 100)')"
        )
        wait_idle(page)
        assert "mode as_prop" in page.locator("#status").inner_text() and banner(page) == ""
        href = page.locator("#view-link").get_attribute("href")
        assert "pair=astronaut.jpg%2Cgrace_hopper.jpg" in href and "seed=7" in href and "cmap=viridis" in href
        assert "restores the example pair too" in page.locator("#link").inner_text()
    finally:
        page.context.close()


def test_a_link_to_uploads_says_the_images_are_not_restored(browser, app_url, tmp_path):
    own = tmp_path / "mine.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(own)
    page = new_page(browser, app_url)
    try:
        upload(page, "a", own)
        page.wait_for_function("() => document.querySelector('#link').innerText.includes('uploaded images')")
        assert "pair=" not in page.locator("#view-link").get_attribute("href"), "an upload is never named"
    finally:
        page.context.close()
