"""What the page does when a user changes something, in headless Chromium: re-runs, re-renders, stale marks, errors.

No screenshots here: each test reads the page's text and image URLs. Issue 11's browser behaviours.
"""

import pytest
from playwright.sync_api import expect

from snapmix_demo import analysis, pipeline
from tests.ui._page import (
    ASTRONAUT,
    COFFEE,
    EXAMPLES_DIR,
    banner,
    error_badges,
    run_first_example,
    shown_image,
    upload,
    wait_idle,
)

pytestmark = pytest.mark.browser


def _chart(page) -> str:
    return page.locator("#weights-chart").inner_text()


def _wait_for_text(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).innerText.includes(t)", arg=[selector, text])
    wait_idle(page)


def _open_options(page) -> None:
    """Open the accordion and wait until its controls are on screen (it animates open; a busy machine is slow)."""
    page.get_by_text("Classes, boxes and randomness").click()
    page.locator("#beta input[type=range]").wait_for(state="visible")


def test_opacity_rerenders_from_the_keyboard_and_on_enter(page):
    run_first_example(page)
    before = shown_image(page, "#cam-a")
    page.locator("#alpha input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    wait_idle(page)
    after_key = shown_image(page, "#cam-a")
    assert after_key != before, "an arrow key on the opacity slider re-renders at once"
    number = page.locator("#alpha input[type=number]")
    number.fill("0.9")
    number.press("Enter")
    wait_idle(page)
    assert shown_image(page, "#cam-a") != after_key, "a typed opacity re-renders on Enter"
    assert banner(page) == ""


def test_cheap_changes_rerun_at_once(page):
    run_first_example(page)
    _open_options(page)
    slider = page.locator("#beta input[type=range]")
    slider.focus()
    expect(slider).to_be_focused()
    page.keyboard.press("ArrowLeft")
    _wait_for_text(page, "#status", "beta 4.9")
    chart = _chart(page)
    page.locator("#mode label").filter(has_text="as_prop").click()
    _wait_for_text(page, "#status", "mode as_prop")
    assert _chart(page) == chart, "all modes give identical results"
    assert banner(page) == ""


def test_typing_marks_results_out_of_date_until_enter(page):
    run_first_example(page)
    _open_options(page)
    box = page.locator("#box-a").get_by_role("textbox")
    box.fill("10 10 100 100")
    wait_idle(page)
    assert "Out of date" in banner(page), "a half-typed box leaves results that disagree with it"
    box.press("Enter")
    wait_idle(page)
    assert banner(page) == "" and "box A = (10, 10, 100, 100)" in _chart(page)
    seed = page.locator("#seed input")
    seed.fill("7")
    wait_idle(page)
    assert "Out of date" in banner(page)
    seed.press("Enter")
    wait_idle(page)
    assert banner(page) == "" and "seed 7" in page.locator("#status").inner_text()


def test_a_new_backbone_marks_results_out_of_date_until_run(page):
    run_first_example(page)
    page.locator("#backbone input").click()
    page.get_by_role("option", name="resnet18 (torchvision)").click()
    wait_idle(page)
    assert "Out of date" in banner(page)
    assert "tf_efficientnet_lite0" in page.locator("#status").inner_text(), "the old result is still shown, marked"
    page.locator("#run").click()
    wait_idle(page)
    assert "Out of date" not in banner(page) and "resnet18" in page.locator("#status").inner_text()


def test_a_new_upload_reruns_with_both_images(page):
    run_first_example(page)
    upload(page, "a", ASTRONAUT)
    page.wait_for_function("() => !document.querySelector('#cam-a-caption').innerText.includes('Egyptian cat')")
    wait_idle(page)
    expected = pipeline.snapmix_pair(ASTRONAUT, COFFEE).label_a  # the astronaut has no ImageNet class: ask the core
    assert banner(page) == "" and f"A: {expected} (predicted" in page.locator("#cam-a-caption").inner_text()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("#seed input", "1.5", "Seed of the boxes: must be a whole number from 0 to 2^63 - 1 written with the digits"),
        ("#seed input", "-3", "Seed of the boxes: must be a whole number"),
        ("#box-a textarea, #box-a input", "10 10 100", "Box A: must be four whole numbers"),
        ("#box-b textarea, #box-b input", "1_0 0 50 50", "Box B: must be four whole numbers"),
        ("#box-a textarea, #box-a input", "0 0 300 10", "Box A: (0, 0, 300, 10) must satisfy"),
    ],
)
def test_a_bad_value_clears_the_results_and_says_which_field(page, field, value, message):
    run_first_example(page)
    _open_options(page)
    page.locator(field).first.fill(value)
    page.locator(field).first.press("Enter")
    page.locator("#banner .error").wait_for()
    wait_idle(page)
    assert message in banner(page)
    assert message in " ".join(page.locator(".toast-body").all_inner_texts())
    assert not error_badges(page), f"bare 'Error' badges on {error_badges(page)}"
    assert shown_image(page, "#cam-a") is None, "the old maps are cleared"
    assert "Run SnapMix to see the label weights" in _chart(page), "the old chart is cleared"
    assert page.locator("#status").inner_text().strip() == "", "the old status line is cleared"
    assert "appear after a run" in page.locator("#top-a").inner_text()


def test_markup_typed_into_a_field_is_shown_as_text(page):
    run_first_example(page)
    _open_options(page)
    typed = "<b>bold</b><img src=x onerror=alert(1)>"
    target = page.locator("#target-a input")
    target.fill(typed)
    target.press("Enter")
    page.locator("#banner .error").wait_for()
    assert typed in banner(page), "the message quotes the value as text"
    assert page.locator(".toast-body img, .toast-body b, #banner img").count() == 0, "no typed markup renders"


def test_downloads_are_offered_only_for_a_result_and_named(page):
    run_first_example(page)  # the first page already shows this example's result (issue 21): re-run it
    page.get_by_text("Downloads (.json, .png, .npy)").click()
    page.locator("#downloads a[download]").first.wait_for()
    names = page.locator("#downloads a[download]").evaluate_all("links => links.map(a => a.getAttribute('download'))")
    expected = ["result.json", "cam_a.png", "cam_b.png", "mixed.png", "spm_a.npy", "spm_b.npy"]
    expected += ["cam_a_full.png", "cam_b_full.png", "mixed_full.png"]  # at the images' own resolution
    assert names == expected, names
    with page.expect_download() as download:
        page.locator("#cam-a button[aria-label='Download']").click()
    assert download.value.suggested_filename == "cam_a.png"


def test_the_raw_map_can_be_viewed(page):
    run_first_example(page)
    overlay = shown_image(page, "#cam-a")
    page.locator("#view label").filter(has_text="raw SPM").click()
    wait_idle(page)
    assert shown_image(page, "#cam-a") != overlay
    assert banner(page) == ""


def test_every_browser_entry_point_reaches_the_projects_decoder(page, monkeypatch):
    """Upload, paste and example all hand `load_image` the file itself: no Gradio/PIL decoding comes first."""
    seen = []
    real = analysis.load_image

    def spy(source, *args, **kwargs):
        seen.append(type(source).__name__)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(analysis, "load_image", spy)
    run_first_example(page)  # example
    upload(page, "a", ASTRONAUT)  # upload
    wait_idle(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate(
        """async (bytes) => {
            const blob = new Blob([new Uint8Array(bytes)], {type: 'image/png'});
            await navigator.clipboard.write([new ClipboardItem({'image/png': blob})]);
        }""",
        list((EXAMPLES_DIR / "shape_star.png").read_bytes()),
    )
    page.locator("#image-b button[aria-label='Paste from clipboard']").click()  # paste
    page.locator("#image-b img[src*='clipboard']").wait_for()
    wait_idle(page)
    assert banner(page) == ""
    assert seen and set(seen) == {"str"}, f"load_image got {seen}: every image must arrive as the uploaded file"
    assert len(seen) >= 6, f"three runs of two images each, got {len(seen)}"
