"""Issue 9 in the browser: ImageNet weights offered with their download size, fetched with a progress bar.

The app runs in this process, so re-declaring a backbone with a file that a loopback server holds
(as tests/test_weights.py does) reaches it; its real file cannot be had offline.
"""

import dataclasses
import io

import pytest
import torch

from snapmix_demo import BACKBONES
from snapmix_demo.backbones import build_model, get_spec
from snapmix_demo.weights import clear_model_cache, hub_path
from tests.ui._page import banner, run_first_example, wait_idle

pytestmark = pytest.mark.browser

NAME = "mobilenet_v2"
OFFERED = f"ImageNet (download, {get_spec(NAME).download_mb:.0f} MB)"


@pytest.fixture
def served(weights_server, monkeypatch):
    """mobilenet_v2 declared with an ImageNet file that the loopback server holds, sent slowly."""
    buffer = io.BytesIO()
    torch.save(build_model(NAME, num_classes=1000).state_dict(), buffer)
    name = weights_server.add(NAME, buffer.getvalue())
    spec = dataclasses.replace(get_spec(NAME), imagenet_url=f"https://weights.invalid/models/{name}")
    monkeypatch.setitem(BACKBONES, NAME, spec)
    monkeypatch.setenv("SNAPMIX_WEIGHTS_MIRROR", weights_server.url + "/")
    weights_server.chunk_delay_s = 0.25
    yield hub_path(spec)
    hub_path(spec).unlink(missing_ok=True)
    clear_model_cache()


def _choose_backbone(page) -> None:
    page.locator("#backbone input").click()
    page.get_by_role("option", name=f"{NAME} (torchvision)").click()
    page.locator("#weights label").filter(has_text=OFFERED).wait_for()


def _selected_weights(page) -> str:
    return page.locator("#weights label").filter(has=page.locator("input:checked")).inner_text()


def test_imagenet_weights_download_with_a_progress_bar_then_run(page, served, weights_server):
    run_first_example(page)
    _choose_backbone(page)
    assert not served.exists()
    page.locator("#weights label").filter(has_text=OFFERED).click()
    page.get_by_text(f"Downloading the ImageNet weights of {NAME}").first.wait_for()  # the progress bar's text
    wait_idle(page)
    assert served.is_file() and weights_server.requests == [served.name], "one download, into the hub cache"
    assert _selected_weights(page) == "ImageNet", "offered without a download now"
    page.locator("#run").click()
    page.wait_for_function(f"() => document.querySelector('#status').innerText.includes('{NAME}')")
    wait_idle(page)
    assert f"ImageNet (torch hub cache: {served.name})" in page.locator("#status").inner_text()
    assert banner(page) == ""


def test_offline_the_download_fails_at_once_says_what_to_do_and_the_app_carries_on(page):
    run_first_example(page)
    _choose_backbone(page)
    page.locator("#weights label").filter(has_text=OFFERED).click()
    toast = page.locator(".toast-body").filter(has_text="could not download")
    toast.wait_for()
    wait_idle(page)
    text = toast.inner_text()
    assert f"the ImageNet weights of `{NAME}`" in text and "SNAPMIX_OFFLINE=1" in text
    assert f"python -m snapmix_demo.weights fetch {NAME}" in text
    assert _selected_weights(page) == "random", "back to the weights at hand"
    page.locator("#run").click()
    page.locator("#banner .random").wait_for()
    wait_idle(page)
    assert "Random weights" in banner(page) and NAME in page.locator("#status").inner_text()
