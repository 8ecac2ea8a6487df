"""The real app over loopback through gradio_client: the /snapmix endpoint, its errors, and cheap re-runs."""

from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from snapmix_demo import PATCH_MODES
from snapmix_demo.app import EXAMPLES
from snapmix_demo.imageio import MAX_BYTES

CAT, COFFEE = EXAMPLES[2]
BASE = {"backbone": "resnet18", "mode": "default", "seed": 0, "weights": "random"}


def call(client, image_a=CAT, image_b=COFFEE, **kwargs):
    a = handle_file(image_a) if image_a is not None else None
    b = handle_file(image_b) if image_b is not None else None
    return client.predict(image_a=a, image_b=b, **(BASE | kwargs), api_name="/snapmix")


def test_only_the_snapmix_endpoint_is_public(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/snapmix"}, f"internal events leaked: {api['named_endpoints'].keys()}"
    assert not api["unnamed_endpoints"]
    names = [p["parameter_name"] for p in api["named_endpoints"]["/snapmix"]["parameters"]]
    assert names[:5] == ["image_a", "image_b", "backbone", "mode", "seed"], names
    optional = {
        p["parameter_name"] for p in api["named_endpoints"]["/snapmix"]["parameters"] if p["parameter_has_default"]
    }
    assert optional >= {"backbone", "mode", "seed", "weights", "target_a", "target_b", "beta", "box_a", "box_b"}


def test_answer_carries_the_result_facts(client):
    res = call(client, seed=3)
    assert isinstance(res, dict)
    for key in ("rho_a", "rho_b", "area_lambda", "box_a", "box_b", "class_a", "class_b", "label_a", "weights"):
        assert key in res, f"missing {key}"
    assert 0 <= res["rho_a"] <= 1
    assert len(res["box_a"]) == 4
    assert res["backbone"] == "resnet18"
    assert "random init" in res["weights"]


def test_only_images_are_required(client):
    res = client.predict(image_a=handle_file(CAT), image_b=handle_file(COFFEE), api_name="/snapmix")
    assert res["backbone"] == "tf_efficientnet_lite0"
    assert res["mode"] == "default"
    assert res["weights_kind"] == "imagenet", "the default is a real model, offline"
    assert (res["label_a"], res["label_b"]) == ("Egyptian cat", "espresso")


def test_modes_give_identical_weights(client):
    results = [call(client, mode=mode, seed=7) for mode in PATCH_MODES]
    assert {(r["rho_a"], r["rho_b"], tuple(r["box_a"]), tuple(r["box_b"])) for r in results} == {
        (results[0]["rho_a"], results[0]["rho_b"], tuple(results[0]["box_a"]), tuple(results[0]["box_b"]))
    }


def test_a_new_seed_does_not_run_the_model(client):
    first = call(client, seed=100, mode="as_prop")
    second = call(client, seed=101, mode="as_prop")
    assert second["forward_passes"] == 0, "a new seed must reuse the cached CAMs"
    assert first["rho_a"] != second["rho_a"] or first["box_a"] != second["box_a"]


def test_explicit_boxes_and_targets(client):
    res = call(client, box_a="10, 20, 110, 120", box_b="0,0,50,50", target_a="tabby", target_b="7")
    assert res["box_a"] == [10, 20, 110, 120]
    assert res["box_b"] == [0, 0, 50, 50]
    assert res["label_a"] == "tabby"
    assert res["class_b"] == 7


@pytest.mark.parametrize("pair", EXAMPLES, ids=lambda p: f"{Path(p[0]).stem}+{Path(p[1]).stem}")
def test_every_example_runs(client, pair):
    res = call(client, *pair, backbone="tf_efficientnet_lite0", weights="auto")
    assert 0 <= res["rho_a"] <= 1
    assert 0 <= res["rho_b"] <= 1


def _assert_clean(message: str) -> None:
    assert "Traceback" not in message
    assert "/tmp" not in message
    assert "site-packages" not in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"image_a": None}, "Please provide Image A"),
        ({"image_b": None}, "Please provide Image B"),
        ({"backbone": "resnt18"}, "did you mean `resnet18`"),
        ({"backbone": "vit_b_16"}, "not supported"),
        ({"mode": "monkey"}, "Unknown patch mode"),
        ({"beta": -1}, "`beta` must be a positive number"),
        ({"box_a": "1,2,3"}, "four integers"),
        ({"box_a": "0,0,999,10"}, "box_a"),
        ({"target_a": "not a class"}, "Unknown target class"),
        ({"weights": "imagenet"}, "Could not download the ImageNet weights of `resnet18`"),
    ],
)
def test_bad_requests_get_clear_messages(client, kwargs, expected):
    with pytest.raises(AppError) as e:
        call(client, **kwargs)
    assert expected in str(e.value), f"{e.value!s} lacks {expected!r}"
    _assert_clean(str(e.value))


def test_a_non_image_file_gets_a_clear_message(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image")
    with pytest.raises(AppError, match="not an image in a supported format") as e:
        call(client, image_a=str(fake))
    _assert_clean(str(e.value))


def test_a_file_over_the_upload_limit_is_refused_and_the_server_keeps_serving(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (MAX_BYTES + 1024))
    with pytest.raises(Exception) as e:  # noqa: PT011 (Gradio refuses the upload before our code runs)
        call(client, image_a=str(big))
    assert "Traceback" not in str(e.value)
    assert call(client)["rho_a"] >= 0, "the server must keep serving after refusing an upload"
