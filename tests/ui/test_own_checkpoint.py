"""Issue 13 in the browser: a user's own checkpoint and class list, uploaded, run, and named everywhere.

The checkpoint is the bundled shapes model as a practitioner's Lightning run would save it, with the
class names in French, so every name on the page can only have come from the uploaded class list.
"""

import pytest
import torch

from snapmix_demo.weights import BUNDLED_DIR
from snapmix_demo.weights.download import sha256
from tests._checkpoints import write_checkpoint, write_classes
from tests.ui._page import EXAMPLES_DIR, RESULT_PANELS, banner, error_badges, upload, wait_idle
from tests.ui.test_screenshots import settle, shot

pytestmark = pytest.mark.browser

NAMES = ("cercle", "carré", "triangle", "étoile", "croix", "anneau", "hexagone", "losange")  # the shapes, in order
LITE0 = "tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A fine-tuned Lite0 (the bundled shapes model) in Lightning's layout, and its class list."""
    folder = tmp_path_factory.mktemp("own")
    state = {k: v.float() for k, v in torch.load(BUNDLED_DIR / "tf_efficientnet_lite0_shapes.pth").items()}
    return write_checkpoint(folder, LITE0, "lightning", state), write_classes(folder, NAMES)


def _choose_own_checkpoint(page) -> None:
    upload(page, "a", EXAMPLES_DIR / "shape_star.png")
    upload(page, "b", EXAMPLES_DIR / "shape_ring.png")
    page.locator("#cam-a img").wait_for(state="attached")  # both images there: it ran on ImageNet weights
    wait_idle(page)
    page.locator("#weights label").filter(has_text="own checkpoint").click()
    page.locator("#checkpoint").wait_for()
    wait_idle(page)


def _target_options(page, side: str) -> list[str]:
    """The choices of a target list, which is left open."""
    page.locator(f"#target-{side} input").click()
    page.get_by_role("option").first.wait_for()
    return [o.strip("✓\n ") for o in page.get_by_role("option").all_inner_texts()]


def test_own_checkpoint_and_class_list_name_everything(page, own, assert_snapshot):
    checkpoint, classes = own
    _choose_own_checkpoint(page)
    page.locator("#checkpoint input[type=file]").set_input_files(str(checkpoint))
    page.locator("#classes-file input[type=file]").set_input_files(str(classes))
    wait_idle(page)
    assert "Out of date" in banner(page), "a new model is not run until asked"
    page.get_by_text("Classes, boxes and randomness").click()
    assert _target_options(page, "a") == ["predicted", *NAMES], "the targets follow the uploaded class list"
    page.get_by_role("option", name="hexagone").click()  # a target by the user's name re-runs at once
    page.wait_for_function("() => document.querySelector('#cam-a-caption').innerText.includes('hexagone')")
    wait_idle(page)
    page.locator("#run").click()
    wait_idle(page)
    assert banner(page) == "" and not error_badges(page)
    assert "A: hexagone (chosen" in page.locator("#cam-a-caption").inner_text()
    assert "B: anneau (predicted" in page.locator("#cam-b-caption").inner_text()
    assert page.locator("#top-a .wname").all_inner_texts()[0] == "étoile", "the star is the top-1 of A"
    assert "B: anneau" in page.locator("#weights-chart").inner_text()
    status = page.locator("#status").inner_text()
    assert f"your checkpoint ({checkpoint.name}, sha256 {sha256(checkpoint)[:8]}, 8 classes)" in status
    assert str(checkpoint.parent) not in page.content(), "the page names the file, never a folder"
    settle(page)
    assert_snapshot(shot(page, "#weights", "#own-checkpoint"), "own_checkpoint_controls")
    assert_snapshot(shot(page, *RESULT_PANELS), "own_checkpoint_results")


def test_pasted_names_replace_the_class_file_and_a_misfit_is_named(page, own):
    checkpoint, classes = own
    _choose_own_checkpoint(page)
    page.locator("#checkpoint input[type=file]").set_input_files(str(checkpoint))
    page.locator("#classes-file input[type=file]").set_input_files(str(classes))
    wait_idle(page)
    page.locator("#classes-text textarea").fill("one\ntwo")  # as a paste does: no key pressed
    page.locator("#classes-file").get_by_text("Drop File Here").wait_for()  # the pasted names replace the file
    wait_idle(page)
    page.get_by_text("Classes, boxes and randomness").click()
    assert _target_options(page, "b") == ["predicted", "one", "two"]
    page.mouse.click(5, 5)  # closes the list
    page.locator("#run").click()
    page.locator("#banner .error").wait_for()
    wait_idle(page)
    said = "The class list has 2 names, but the checkpoint's classifier predicts 8 classes"
    assert said in banner(page) and said in " ".join(page.locator(".toast-body").all_inner_texts())
    page.locator("#backbone input").click()
    page.get_by_role("option", name="resnet18 (torchvision)").click()
    wait_idle(page)
    assert page.locator("#own-checkpoint").is_visible(), "an own checkpoint stays chosen with another backbone"
    page.locator("#classes-text textarea").fill("\n".join(NAMES))
    wait_idle(page)
    page.locator("#run").click()
    page.wait_for_function("() => document.querySelector('#banner').innerText.includes('does not fit backbone')")
    wait_idle(page)
    message = banner(page)
    assert f"Checkpoint `{checkpoint.name}` does not fit backbone `resnet18`" in message
    assert f"It looks like a checkpoint of `{LITE0}`" in message and "/tmp" not in message
    assert not error_badges(page)
