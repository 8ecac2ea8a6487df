"""Every typed field, every bad value: the message names the field in the banner and a toast, never a bare "Error".

Each field takes text as typed and goes through the same checks as the HTTP API and the command line
(`inputs.seed_value`, `prob_value`, `box_value`, and the beta slider's range). No screenshots: the page's text.
"""

import pytest

from tests.ui._page import banner, error_badges, run_first_example, wait_idle
from tests.ui.conftest import new_page

pytestmark = pytest.mark.browser

SEED = "Seed of the boxes: must be a whole number from 0 to 2^63 - 1"
OPACITY = "Overlay opacity: must be a number from 0 to 1, got"
PLAYGROUND = "please enter a whole number from -1 000 000 000 to 1 000 000 000, got"


@pytest.fixture(scope="module")
def results_page(browser, app_url):
    """One page with the first example's results, shared by the field tests (each leaves the field valid)."""
    page = new_page(browser, app_url)
    run_first_example(page)
    page.get_by_text("Classes, boxes and randomness").click()
    page.locator("#beta input[type=range]").wait_for(state="visible")
    yield page
    page.context.close()


def _toasts(page) -> str:
    return " ".join(page.locator(".toast-body").all_inner_texts())


def _close_toasts(page) -> None:
    page.evaluate("() => document.querySelectorAll('.toast-close').forEach(b => b.click())")
    page.wait_for_function("() => !document.querySelector('.toast-body')")


def _type(page, field: str, value: str) -> None:
    _close_toasts(page)
    box = page.locator(field).first
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def _status(page) -> str:
    return page.locator("#status").inner_text()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("#seed input", "1e3", f"{SEED} written with the digits 0-9, got '1e3'"),
        ("#seed input", "1.5", f"{SEED} written with the digits 0-9, got '1.5'"),
        ("#seed input", "", f"{SEED} written with the digits 0-9, got nothing"),
        ("#seed input", "9223372036854775808", f"{SEED}, got 9223372036854775808"),
        ("#alpha input[type=number]", "1.5", f"{OPACITY} 1.5"),
        ("#alpha input[type=number]", "-1", f"{OPACITY} -1"),
        ("#alpha input[type=number]", "", f"{OPACITY} nothing"),
        ("#beta input[type=number]", "11", "Beta: must be from 0.1 to 10 here (the slider's range), got 11"),
        ("#beta input[type=number]", "0", "Beta: must be a positive number"),
    ],
)
def test_a_bad_value_is_named_in_the_banner_and_a_toast(results_page, field, value, message):
    page = results_page
    _type(page, field, value)
    page.wait_for_function("(m) => document.querySelector('#banner').innerText.includes(m)", arg=message)
    assert message in _toasts(page)
    assert not error_badges(page), f"bare 'Error' badges on {error_badges(page)}"
    good = {"#seed input": "0", "#alpha input[type=number]": "0.5", "#beta input[type=number]": "5"}[field]
    _type(page, field, good)  # the next value that is fine brings the results back
    page.wait_for_function("() => document.querySelector('#status .timing')")
    assert banner(page) == "", f"after {good!r} in {field}: {banner(page)!r}"


def test_the_largest_seed_runs_and_new_boxes_counts_past_2_to_the_31(results_page):
    page = results_page
    _type(page, "#seed input", str(2**63 - 1))
    page.wait_for_function("(t) => document.querySelector('#status').innerText.includes(t)", arg=f"seed {2**63 - 1},")
    _type(page, "#seed input", str(2**40))
    page.wait_for_function("(t) => document.querySelector('#status').innerText.includes(t)", arg=f"seed {2**40},")
    page.locator("#new-boxes").click()
    page.wait_for_function("(t) => document.querySelector('#status').innerText.includes(t)", arg=f"seed {2**40 + 1},")
    assert page.locator("#seed input").input_value() == str(2**40 + 1)
    _type(page, "#seed input", "0")


@pytest.mark.parametrize("field", ["#class-val", "#instance-val"])
@pytest.mark.parametrize("value", ["", "99999999999", "1.5"])
def test_the_playground_names_a_bad_number(results_page, field, value):
    page = results_page
    page.get_by_role("tab", name="@patch_to playground").click()
    label = {"#class-val": "Counter.val (class)", "#instance-val": "self.val (instance)"}[field]
    _close_toasts(page)
    page.locator(f"{field} input").fill(value)
    page.locator("#playground-run").click()
    wait_idle(page)
    message = f"{label}: {PLAYGROUND} {value or 'nothing'}"
    assert message in page.locator("#playground-banner").inner_text()
    assert message in _toasts(page)
    assert not error_badges(page), f"bare 'Error' badges on {error_badges(page)}"
    page.locator(f"{field} input").fill("7")
    page.locator("#playground-run").click()
    wait_idle(page)
    assert page.locator("#playground-banner").inner_text().strip() == ""
    page.get_by_role("tab", name="SnapMix").click()
