"""The app's handlers and examples without a browser: weights choices, example sets, staleness, raw payloads."""

import base64

import pytest

from snapmix_demo.app import examples, handlers
from snapmix_demo.app.examples import PHOTOS, SHAPES
from snapmix_demo.backbones import get_spec
from snapmix_demo.errors import InputError

LITE0 = "tf_efficientnet_lite0"


def test_imagenet_is_offered_for_every_backbone_with_its_download_size():
    assert handlers.weights_choices(LITE0) == [
        ("ImageNet", "imagenet"),
        ("shapes (bundled)", "shapes"),
        ("random", "random"),
    ]
    size = f"{get_spec('resnet50').download_mb:.0f}"
    assert handlers.weights_choices("resnet50")[0] == (f"ImageNet (download, {size} MB)", "imagenet")
    assert handlers.default_weights("resnet50") == "random", "nothing is downloaded unless chosen"


def test_photos_come_first_and_shapes_show_only_with_a_model_that_knows_them(monkeypatch):
    assert examples.example_sets() == [PHOTOS, SHAPES], "the shapes model is bundled"
    monkeypatch.setattr(examples, "available_weights", lambda name: ["imagenet", "random"])
    assert examples.example_sets() == [PHOTOS]
    assert PHOTOS.pairs[0][0].endswith("cat.jpg") and PHOTOS.pairs[0][1].endswith("coffee.jpg")
    assert PHOTOS.pairs[1][0].endswith("astronaut.jpg") and PHOTOS.pairs[1][1].endswith("grace_hopper.jpg")
    monkeypatch.setattr(examples, "available_weights", lambda name: ["imagenet", "shapes", "random"])
    assert examples.example_sets() == [PHOTOS, SHAPES]
    assert (SHAPES.backbone, SHAPES.weights) == (LITE0, "shapes")
    assert (PHOTOS.backbone, PHOTOS.weights) == (LITE0, "imagenet")


def test_an_example_sets_its_model_and_resets_the_classes():
    backbone, weights, target_a, target_b, source = handlers.on_example(LITE0, "imagenet", "as_prop")
    assert backbone == LITE0 and weights.value == "imagenet"
    assert target_a.value == target_b.value == handlers.PREDICTED
    assert "as_prop=True" in source


def test_results_are_out_of_date_exactly_when_the_controls_differ():
    request = ("a.png", "b.png", LITE0, "imagenet", "default", "predicted", "predicted", 5.0, 0, "", "")
    shown = handlers.Shown(request, result=None)
    assert handlers.on_check(None, *request) == ""
    assert "Out of date" not in handlers.on_check(shown, *request)
    assert "Out of date" in handlers.on_check(shown, *request[:8], 1, "", "")
    failed = handlers.Shown(request, error="Image A: the file is empty.")
    assert "the file is empty" in handlers.on_check(failed, *request[:8], 1, "", ""), "an error stays until a run"


def test_raw_image_payloads_become_what_the_decoder_reads():
    assert handlers.image_source(None) is None
    assert handlers.image_source({"path": "/x/cat.jpg", "url": "http://h/file=/x/cat.jpg"}) == "/x/cat.jpg"
    data_url = "data:image/png;base64," + base64.b64encode(b"\x89PNG-ish bytes").decode()
    assert handlers.image_source({"path": None, "url": data_url}) == b"\x89PNG-ish bytes"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(handlers.FIELD_LABELS, "Box A: must be"), ({}, "`box_a`: must be")],
)
def test_messages_name_the_field_as_each_user_sees_it(labels, expected):
    message = handlers.message_for(InputError("box_a", "must be four whole numbers"), labels)
    assert message.startswith(expected) and message.endswith(".")
