"""The app's handlers and examples without a browser: weights choices, example sets, staleness, raw payloads."""

import base64

import gradio as gr
import PIL.Image
import pytest

from snapmix_demo.app import choices, examples, handlers, messages, requests, run
from snapmix_demo.app.examples import PHOTOS, SHAPES
from snapmix_demo.backbones import get_spec
from snapmix_demo.errors import InputError
from snapmix_demo.imageio import ImageError
from snapmix_demo.inputs import seed_text
from tests._checkpoints import CLASSES, write_checkpoint, write_classes

LITE0 = "tf_efficientnet_lite0"


def test_imagenet_is_offered_for_every_backbone_with_its_download_size():
    assert choices.weights_choices(LITE0) == [
        ("ImageNet", "imagenet"),
        ("shapes (bundled)", "shapes"),
        ("random", "random"),
        ("own checkpoint", "checkpoint"),
    ]
    size = f"{get_spec('resnet50').download_mb:.0f}"
    assert choices.weights_choices("resnet50")[0] == (f"ImageNet (download, {size} MB)", "imagenet")
    assert choices.default_weights("resnet50") == "random", "nothing is downloaded unless chosen"


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
    backbone, weights, target_a, target_b, own, source = handlers.on_example(LITE0, "imagenet", "as_prop")
    assert backbone == LITE0 and weights.value == "imagenet" and not own.visible
    assert target_a.value == target_b.value == choices.PREDICTED
    assert "as_prop=True" in source


def test_results_are_out_of_date_exactly_when_the_controls_differ():
    request = ("a.png", "b.png", LITE0, "imagenet", "default", "predicted", "predicted", 5.0, 0, "", "", None, None, "")
    shown = run.Shown(requests.PairRequest.from_page(request), result=None)
    assert handlers.on_check(None, *request) == ""
    assert "Out of date" not in handlers.on_check(shown, *request)
    assert "Out of date" in handlers.on_check(shown, *request[:8], 1, *request[9:])
    failed = run.Shown(request, error="Image A: the file is empty.")
    stale = handlers.on_check(failed, *request[:8], 1, *request[9:])
    assert "the file is empty" in stale and "Out of date" in stale, "an error stays, marked out of date"


def test_raw_image_payloads_become_what_the_decoder_reads():
    assert requests.image_source(None) is None
    assert requests.image_source({"path": "/x/cat.jpg", "url": "http://h/file=/x/cat.jpg"}) == "/x/cat.jpg"
    data_url = "data:image/png;base64," + base64.b64encode(b"\x89PNG-ish bytes").decode()
    assert requests.image_source({"path": None, "url": data_url}) == b"\x89PNG-ish bytes"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(messages.FIELD_LABELS, "Box A: must be"), ({}, "`box_a`: must be")],
)
def test_messages_name_the_field_as_each_user_sees_it(labels, expected):
    message = messages.message_for(InputError("box_a", "must be four whole numbers"), labels)
    assert message.startswith(expected) and message.endswith(".")


# ## The own checkpoint: its controls, its class names in the target lists, staleness, the server's switch


def _file(path) -> dict:
    """A raw upload payload, as Gradio hands it to events that skip preprocessing."""
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("ckpt"), "resnet18", "ddp")


def test_choosing_own_checkpoint_shows_its_controls_and_the_targets_follow_its_classes(resnet18_checkpoint):
    weights, target_a, target_b, own = handlers.on_weights("resnet18", "checkpoint", None, None, "")
    assert weights.value == "checkpoint" and own.visible
    assert target_a.choices == target_b.choices == [("predicted", "predicted")], "nothing uploaded yet"
    numbered = handlers.on_weights("resnet18", "checkpoint", _file(resnet18_checkpoint), None, "")[1]
    assert [c for c, _ in numbered.choices] == ["predicted", *(f"class {i}" for i in range(5))], "read from its head"
    pasted = handlers.on_weights("resnet18", "checkpoint", _file(resnet18_checkpoint), None, "\n".join(CLASSES))[1]
    assert [c for c, _ in pasted.choices] == ["predicted", *CLASSES]
    assert not handlers.on_weights("resnet18", "random", None, None, "")[3].visible


def test_a_class_file_and_pasted_names_replace_each_other(tmp_path, resnet18_checkpoint):
    chosen = ("resnet18", "checkpoint", _file(resnet18_checkpoint))
    text, target_a, target_b = handlers.on_class_file(*chosen, _file(write_classes(tmp_path)), "heron", "class 2")
    assert text == "", "the file replaces pasted names"
    assert (target_a.value, target_b.value) == ("heron", "predicted"), "a target that still exists is kept"
    cleared, target_a, _ = handlers.on_class_text(*chosen, _file(tmp_path / "classes.txt"), "owl\nkiwi", "heron", "x")
    assert cleared is None and [c for c, _ in target_a.choices] == ["predicted", "owl", "kiwi"]
    assert target_a.value == "predicted"
    kept, target_a, _ = handlers.on_class_text(*chosen, _file(tmp_path / "classes.txt"), "", "heron", "x")
    assert kept is not None and [c for c, _ in target_a.choices] == ["predicted", *CLASSES], "emptied: the file counts"


def test_own_checkpoint_controls_count_for_staleness_only_while_chosen(resnet18_checkpoint):
    base = ("a.png", "b.png", "resnet18", "imagenet", "default", "predicted", "predicted", 5.0, 0, "", "")
    shown = run.Shown(requests.PairRequest.from_page((*base, None, None, "")))
    assert "Out of date" not in handlers.on_check(shown, *base, _file(resnet18_checkpoint), None, "a\nb")
    own = (*base[:3], "checkpoint", *base[4:])
    shown = run.Shown(requests.PairRequest.from_page((*own, _file(resnet18_checkpoint), None, "")))
    assert "Out of date" not in handlers.on_check(shown, *own, _file(resnet18_checkpoint), None, "")
    assert "Out of date" in handlers.on_check(shown, *own, _file(resnet18_checkpoint), None, "a\nb")
    assert "Out of date" in handlers.on_check(shown, *own, None, None, "")


def test_pasted_class_names_are_the_non_empty_lines():
    assert requests.class_source(" sparrow \n\nfinch\r\n  \n") == ["sparrow", "finch"]
    assert requests.class_source("") is None and requests.class_source(None) is None
    assert requests.class_source({"path": "/x/classes.txt"}) == "/x/classes.txt", "an uploaded file is read by path"
    with pytest.raises(InputError, match="as text, one per line, or as a text file"):
        requests.class_source(["a", "b"])


def test_with_checkpoint_uploads_off_there_is_no_own_checkpoint(monkeypatch, resnet18_checkpoint):
    monkeypatch.setenv("SNAPMIX_CHECKPOINT_UPLOADS", "off")
    assert "checkpoint" not in [value for _, value in choices.weights_choices(LITE0)]
    for weights, checkpoint in (("checkpoint", None), ("auto", _file(resnet18_checkpoint))):
        with pytest.raises(InputError, match="does not take checkpoints") as e:
            requests.own_model(weights, checkpoint, None)
        assert messages.message_for(e.value).startswith("Checkpoint: this server does not take checkpoints")


def test_own_checkpoint_requests_name_what_is_missing():
    with pytest.raises(InputError, match="please upload your checkpoint") as e:
        requests.own_model("checkpoint", None, "a\nb")
    assert e.value.field == "checkpoint"
    with pytest.raises(InputError, match="class names go with your own checkpoint") as e:
        requests.own_model("auto", None, "a\nb")
    assert messages.message_for(e.value).startswith("Class names: ")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("0", 0), ("9223372036854775807", 2**63 - 1), (" 12 ", 12), (7, 7)],
)
def test_seeds_are_text_with_the_command_lines_rules(typed, expected):
    assert seed_text(typed, "seed") == expected
    assert messages.message_for(InputError("seed", "x")).startswith("Seed of the boxes: ")


@pytest.mark.parametrize("typed", ["1e3", "1.5", "-3", "", "9223372036854775808", "1_0", "1" * 300])
def test_seeds_the_command_line_refuses_are_refused_in_the_app_too(typed):
    with pytest.raises(InputError, match=r"must be a whole number from 0 to 2\^63 - 1|has more than 19 digits") as e:
        seed_text(typed, "seed")
    assert e.value.field == "seed"


def test_new_boxes_counts_on_past_2_to_the_31_and_starts_again_after_the_last_seed():
    assert handlers.on_new_boxes(str(2**40)) == str(2**40 + 1)
    assert handlers.on_new_boxes(str(2**31 - 1)) == str(2**31)
    with pytest.warns(UserWarning, match="is the last seed"):  # the app shows it as a toast (gr.Warning)
        assert handlers.on_new_boxes(str(2**63 - 1)) == "0"


@pytest.mark.parametrize(
    ("alpha", "message"),
    [(1.5, "got 1.5"), (-1, "got -1"), (None, "got nothing"), ("", "got nothing")],
)
def test_a_bad_opacity_is_named_not_drawn(alpha, message):
    with pytest.raises(InputError) as e:
        requests.display_options("jet", alpha, requests.VIEWS[0])
    text = messages.message_for(e.value)
    assert text.startswith("Overlay opacity: must be a number from 0 to 1") and message in text
    assert requests.display_options("viridis", 0, requests.VIEWS[1]) == ("viridis", 0.0, requests.VIEWS[1])


@pytest.mark.parametrize("beta", [11, 0.05, 0, -1, float("nan"), None])
def test_beta_beyond_the_sliders_ends_is_refused_on_the_page(beta):
    with pytest.raises(InputError, match="beta") as e:
        requests.page_beta(beta)
    assert messages.message_for(e.value).startswith(("Beta: must be from 0.1 to 10", "Beta: must be a positive"))
    assert requests.page_beta(10) == 10.0 and requests.page_beta(0.1) == 0.1


def test_an_error_is_marked_out_of_date_once_the_controls_change():
    request = (
        "a.png",
        "b.png",
        LITE0,
        "checkpoint",
        "default",
        "predicted",
        "predicted",
        5.0,
        "0",
        "",
        "",
        None,
        None,
        "",
    )
    failed = run.Shown(
        requests.PairRequest.from_page(request), error="Checkpoint: it does not fit tf_efficientnet_lite0."
    )
    same = handlers.on_check(failed, *request)
    assert "does not fit" in same and "Out of date" not in same
    switched = handlers.on_check(failed, *request[:2], "resnet18", *request[3:])
    assert "Out of date" in switched and "does not fit" in switched, "the old message stays readable, marked"


@pytest.mark.parametrize("pair", ["../../etc/passwd,cat.jpg", "cat.jpg", "cat.jpg,coffee.jpg,x", "/etc/hosts,x"])
def test_a_link_names_only_committed_examples(pair):
    from types import SimpleNamespace

    from snapmix_demo.app import links

    opened = links.on_open(SimpleNamespace(query_params={"pair": pair, "seed": "7"}))
    assert opened[0] == opened[1] == gr.skip(), "no file outside the examples is ever opened"
    assert opened[links.OPENED.index("seed")] == "7"
    named = links.on_open(SimpleNamespace(query_params={"pair": "cat.jpg,coffee.jpg"}))
    assert named[0].endswith("cat.jpg") and named[1].endswith("coffee.jpg")


def test_only_our_errors_reach_users_as_messages(monkeypatch, caplog):
    """A ValueError from numpy or torch inside a run is an internal error: logged, reported in general terms."""
    assert messages.message_for(ImageError("the file is empty")) == "The file is empty."
    assert messages.message_for(ValueError("operands could not be broadcast together")) == messages.GENERIC

    def numpy_fails(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(PIL.Image, "fromarray", numpy_fails)  # the pipeline's last step: the mixed image
    cat, coffee = examples.PHOTO_PAIRS[0]
    request = (cat, coffee, "resnet18", "random", "default", "predicted", "predicted", 5.0, 0, "", "", None, None, "")
    with caplog.at_level("ERROR"), pytest.warns(UserWarning, match="Something went wrong on our side"):  # the toast
        outputs = handlers.on_run(*request, "jet", 0.5, requests.VIEWS[0])
    assert outputs[0].error == messages.GENERIC and "operands" not in outputs[1]
    assert any("operands could not be broadcast" in r.exc_text for r in caplog.records if r.exc_text), "logged"
