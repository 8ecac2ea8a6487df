"""The files of a result, alike in the app's downloads and the command line: names, frames, input names."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from snapmix_demo.exports import FULL_MAX_SIDE, full_resolution, result_files

MODEL_FRAME = ["cam_a.png", "cam_b.png", "mixed.png", "spm_a.npy", "spm_b.npy"]
FULL = ["cam_a_full.png", "cam_b_full.png", "mixed_full.png"]


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_the_files_say_their_frame_and_result_json_names_its_inputs(result):
    originals = (Image.new("RGB", (90, 60), "white"), Image.new("RGB", (300, 120), "white"))
    files = result_files(result, names=("a.jpg", "b.png"), originals=originals)
    assert list(files) == ["result.json", *MODEL_FRAME, *FULL]
    facts = json.loads(files["result.json"])
    assert facts["inputs"] == {"image_a": "a.jpg", "image_b": "b.png"}
    assert set(facts["files"]) == {*MODEL_FRAME, *FULL}
    assert "model-input frame" in facts["files"]["cam_a.png"] and "own resolution" in facts["files"]["cam_a_full.png"]
    assert facts["rho_a"] == result.rho_a
    assert _image(files["cam_a.png"]).size == result.image_a.size
    assert _image(files["cam_a_full.png"]).size == (90, 60) and _image(files["mixed_full.png"]).size == (90, 60)
    assert _image(files["cam_b_full.png"]).size == (300, 120)
    assert np.load(io.BytesIO(files["spm_a.npy"])).shape == (result.image_a.height, result.image_a.width)


def test_without_the_originals_only_the_model_frame_is_written(result):
    files = result_files(result)
    assert list(files) == ["result.json", *MODEL_FRAME]
    assert json.loads(files["result.json"])["inputs"] == {"image_a": None, "image_b": None}


@pytest.mark.parametrize("raw", [False, True])
def test_full_resolution_scales_the_box_and_caps_the_long_side(result, raw):
    frame_h, frame_w = result.image_a.height, result.image_a.width
    big = Image.new("RGB", (frame_w * 50, frame_h * 50), "white")  # past the cap: shrunk to FULL_MAX_SIDE
    full = full_resolution(result, (big, big), cmap="jet", alpha=0.5, raw=raw)
    width, height = full["cam_a_full.png"].size
    assert max(width, height) == FULL_MAX_SIDE
    top, left, _, right = result.box_a
    px = np.asarray(full["mixed_full.png"])
    y, x = round(top * height / frame_h), round((left + right) / 2 * width / frame_w)
    assert tuple(px[y + 1, x]) != (255, 255, 255), "the pasted box's outline sits where box A scales to"
