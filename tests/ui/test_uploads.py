"""The hostile files of the API tests, uploaded through the real browser into Image A or Image B.

For each: the page says which image and what is wrong (above the results and in a toast), no panel
shows a bare "Error", and the next good upload runs. One page per side serves all its files, as a
user would keep trying.
"""

import pytest

from tests.test_hardening import _REFUSED
from tests.ui._page import CAT, COFFEE, banner, error_badges, run_first_example, upload, wait_idle

pytestmark = pytest.mark.browser

GOOD = {"a": CAT, "b": COFFEE}


@pytest.fixture(scope="module")
def pages(browser, app_url):
    """One page per side, each with a result on screen to start from."""
    from tests.ui.conftest import new_page

    opened = {}

    def get(side: str):
        if side not in opened:
            opened[side] = new_page(browser, app_url)
            run_first_example(opened[side])
        return opened[side]

    yield get
    for page in opened.values():
        page.context.close()


@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_a_hostile_upload_is_named_and_explained_and_the_next_one_works(pages, tmp_path, case, side):
    page = pages(side)
    name, make, phrase = _REFUSED[case]
    hostile = tmp_path / name
    hostile.write_bytes(make())
    upload(page, side, hostile)
    page.locator("#banner .error").wait_for()
    wait_idle(page)
    said = f"Image {side.upper()}: "
    assert said in banner(page) and phrase in banner(page), banner(page)
    toasts = " ".join(page.locator(".toast-body").all_inner_texts())
    assert said in toasts and phrase in toasts, toasts
    assert not error_badges(page), f"bare 'Error' badges on {error_badges(page)}"
    for toast in page.locator(".toast-body button").all():  # close them: the next case reads its own
        toast.click()
    upload(page, side, GOOD[side])
    page.locator("#banner .error").wait_for(state="detached")
    wait_idle(page)
    assert banner(page) == "" and page.locator("#cam-a img").count() == 1, "the next good upload runs"
