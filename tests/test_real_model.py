"""Claims about the real model, the ImageNet EfficientNet-Lite0 that ships offline.

It names the example photos, and its CAMs sit where the objects are (checked on a pasted object too,
so a transposed or flipped CAM fails).
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from snapmix_demo import snapmix_pair
from snapmix_demo.app import EXAMPLES
from snapmix_demo.app.examples import EXAMPLES_DIR
from snapmix_demo.boxes import box_area
from snapmix_demo.snapmix import box_mass

NO_MIX = {"box_a": (0, 0, 0, 0), "box_b": (0, 0, 0, 0)}  # analyse the images only


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple]:
    """Photo name -> (SPM, top-5, weights kind) from the default model (no backbone or weights given)."""
    found = {}
    for path_a, path_b in (pair for pair in EXAMPLES if pair[0].endswith(".jpg")):
        res = snapmix_pair(path_a, path_b, **NO_MIX)
        found[Path(path_a).stem] = (res.spm_a, res.topk_a, res.weights_kind)
        found[Path(path_b).stem] = (res.spm_b, res.topk_b, res.weights_kind)
    return found


@pytest.mark.parametrize(
    ("photo", "label", "at_least"),
    [("cat", "Egyptian cat", 0.7), ("coffee", "espresso", 0.8), ("grace_hopper", "military uniform", 0.35)],
)
def test_the_default_model_names_the_example_photos(photos, photo, label, at_least):
    _, topk, kind = photos[photo]
    assert kind == "imagenet", "the default is the ImageNet model, offline"
    assert topk[0][0] == label and topk[0][1] >= at_least, f"{photo}: {topk[:3]}"


def test_the_astronaut_has_no_imagenet_class_and_the_model_is_unsure(photos):
    _, topk, _ = photos["astronaut"]
    assert topk[0][1] < 0.5, f"ImageNet has no astronaut class: {topk[:3]}"


# Boxes drawn by hand on the 224 x 224 model-input frame: the cat's face, the cup (not the saucer).
@pytest.mark.parametrize(("photo", "box"), [("cat", (40, 40, 200, 180)), ("coffee", (10, 60, 115, 160))])
def test_the_first_examples_cams_sit_on_the_cat_and_on_the_cup(photos, photo, box):
    spm = photos[photo][0]
    peak = np.unravel_index(int(spm.argmax()), spm.shape)
    top, left, bottom, right = box
    assert top <= peak[0] < bottom and left <= peak[1] < right, f"{photo}: CAM peak at {peak}, outside {box}"
    share = box_area(box) / spm.size
    assert box_mass(spm, box) >= 1.5 * share, f"{photo}: {box_mass(spm, box):.2f} of the CAM in {share:.2f} of the area"


def test_the_cam_of_a_pasted_object_is_where_it_was_pasted():
    # The cat, 96 px, pasted at rows 16-112, columns 112-208 of a plain grey frame: off the diagonal, so a
    # transposed CAM would land in rows 112-208, columns 16-112, and a flipped one in another quadrant.
    cat = Image.open(EXAMPLES_DIR / "cat.jpg").convert("RGB").resize((96, 96), Image.BICUBIC)
    canvas = Image.new("RGB", (224, 224), (128, 128, 128))
    canvas.paste(cat, (112, 16))  # PIL takes (x, y)
    res = snapmix_pair(canvas, canvas, **NO_MIX)
    assert res.label_a == "Egyptian cat"
    where = (16, 112, 112, 208)
    mirrors = {
        "transposed": (112, 16, 208, 112),
        "flipped left-right": (16, 16, 112, 112),
        "flipped up-down": (112, 112, 208, 208),
    }
    inside = float(box_mass(res.spm_a, where))
    share = box_area(where) / res.spm_a.size
    assert inside >= 2 * share, f"{inside:.2f} of the CAM in the object's box, {share:.2f} of the area"
    for name, box in mirrors.items():
        assert inside > float(box_mass(res.spm_a, box)), f"more CAM in the {name} box than on the object"
