"""Nothing covers a picture: labels, icon buttons and status badges are measured against the rectangle it is drawn in.

Gradio floats a block's label over the top of its image; the app's CSS moves it (and the icon buttons) into a
row above the picture. Measured at desktop and phone width, on the example's inputs and all three results.
"""

from pathlib import Path

import pytest

from tests.ui._page import NARROW, run_first_example
from tests.ui.conftest import DESKTOP, new_page

pytestmark = pytest.mark.browser

PICTURES = ("#image-a", "#image-b", "#cam-a", "#cam-b", "#mixed")
COVERS_JS = (Path(__file__).parent / "_covers.js").read_text()


def covers(page, selector: str) -> dict:
    """The drawn rectangle of `selector`'s picture and what overlaps it (scrolled into view: images load lazily)."""
    page.locator(f"{selector} img").scroll_into_view_if_needed()
    page.wait_for_function(
        "(s) => { const i = document.querySelector(s + ' img'); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )
    return page.evaluate(COVERS_JS, selector)


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280px", "400px"])
def test_no_label_badge_or_button_covers_a_picture(browser, app_url, viewport):
    page = new_page(browser, app_url, viewport)  # no baseline here: any Chromium measures the same rectangles
    run_first_example(page)
    for selector in PICTURES:
        measured = covers(page, selector)
        assert measured is not None, f"{selector} shows no picture"
        assert measured["covers"] == [], f"{selector}: drawn at {measured['picture']}, covered by {measured['covers']}"
    page.context.close()
