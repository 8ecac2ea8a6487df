"""The real app over loopback through gradio_client: /snapmix and /compare, their errors, and cheap re-runs."""

import json
import urllib.request
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from snapmix_demo import PATCH_MODES
from snapmix_demo.app.examples import PHOTO_PAIRS, example_sets
from snapmix_demo.imageio import MAX_BYTES
from tests import _queue as q

CAT, COFFEE = PHOTO_PAIRS[0]
BASE = {"backbone": "resnet18", "mode": "default", "seed": 0, "weights": "random"}
PUBLIC_PARAMETERS = (
    *("image_a", "image_b", "backbone", "mode", "seed", "weights", "target_a", "target_b", "beta", "box_a", "box_b"),
    *("checkpoint", "classes"),
)


def call(client, image_a=CAT, image_b=COFFEE, **kwargs):
    a = handle_file(image_a) if image_a is not None else None
    b = handle_file(image_b) if image_b is not None else None
    return client.predict(image_a=a, image_b=b, **(BASE | kwargs), api_name="/snapmix")


def test_only_the_snapmix_and_compare_endpoints_are_public(client):
    api = client.view_api(print_info=False, return_format="dict")
    endpoints = api["named_endpoints"]
    assert set(endpoints) == {"/snapmix", "/compare"}, f"internal events leaked: {endpoints.keys()}"
    compared = [p["parameter_name"] for p in endpoints["/compare"]["parameters"]]
    assert compared == [*PUBLIC_PARAMETERS[:11], "methods", *PUBLIC_PARAMETERS[11:], "mask_a", "mask_b"], compared
    assert not api["unnamed_endpoints"]
    names = [p["parameter_name"] for p in api["named_endpoints"]["/snapmix"]["parameters"]]
    assert names == [*PUBLIC_PARAMETERS], f"the public parameters, in order (new ones appended): {names}"
    optional = {
        p["parameter_name"] for p in api["named_endpoints"]["/snapmix"]["parameters"] if p["parameter_has_default"]
    }
    assert optional == set(PUBLIC_PARAMETERS) - {"image_a", "image_b"}


def test_the_api_pages_sample_sends_images_not_a_pdf(app_url):
    with urllib.request.urlopen(f"{app_url}gradio_api/info", timeout=30) as response:
        parameters = json.load(response)["named_endpoints"]["/snapmix"]["parameters"]
    examples = {p["parameter_name"]: p["example_input"] for p in parameters}
    assert ".pdf" not in json.dumps(examples), examples
    for name in ("image_a", "image_b"):
        assert examples[name]["url"].endswith(".png"), f"{name}: {examples[name]}"
    assert examples["checkpoint"] is None, "the sample sends no checkpoint"


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


SHOWN = [(chosen, pair) for chosen in example_sets() for pair in chosen.pairs]


@pytest.mark.parametrize(("chosen", "pair"), SHOWN, ids=[f"{Path(a).stem}+{Path(b).stem}" for _, (a, b) in SHOWN])
def test_every_example_runs_on_the_model_it_carries(client, chosen, pair):
    res = call(client, *pair, backbone=chosen.backbone, weights=chosen.weights)
    assert res["weights_kind"] == chosen.weights
    assert 0 <= res["rho_a"] <= 1
    assert 0 <= res["rho_b"] <= 1


def _assert_clean(message: str) -> None:
    assert "Traceback" not in message
    assert "/tmp" not in message
    assert "site-packages" not in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"image_a": None}, "`image_a`: please upload or paste an image"),
        ({"image_b": None}, "`image_b`: please upload or paste an image"),
        ({"backbone": "resnt18"}, "did you mean `resnet18`"),
        ({"backbone": "vit_b_16"}, "not supported"),
        ({"mode": "monkey"}, "`mode`: unknown patch mode"),
        ({"beta": -1}, "`beta`: must be a positive number"),
        ({"beta": None}, "`beta`: must be a positive number (the paper uses 5), got nothing"),
        ({"beta": "abc"}, "`beta`: must be a positive number"),
        ({"seed": 1.5}, "`seed`: must be a whole number"),
        ({"seed": 0.5}, "`seed`: must be a whole number"),
        ({"seed": True}, "`seed`: must be a whole number"),
        ({"seed": "abc"}, "`seed`: must be a whole number"),
        ({"seed": None}, "`seed`: must be a whole number from 0 to 2^63 - 1, got nothing"),
        ({"seed": -3}, "`seed`: must be a whole number"),
        ({"box_a": "1,2,3"}, "`box_a`: must be four whole numbers"),
        ({"box_a": "1_0, 0, 50, 50"}, "`box_a`: must be four whole numbers"),
        ({"box_a": "0,0,999,10"}, "`box_a`"),
        ({"target_a": "not a class"}, "`target_a`: unknown target class"),
        ({"target_b": "1_0"}, "`target_b`: unknown target class"),
        ({"target_b": "9" * 5000}, "`target_b`: has more than 6 digits"),
        ({"weights": "imagenet"}, "Could not download the ImageNet weights of `resnet18`"),
    ],
)
def test_bad_requests_get_clear_messages(client, kwargs, expected):
    with pytest.raises(AppError) as e:
        call(client, **kwargs)
    assert expected in str(e.value), f"{e.value!s} lacks {expected!r}"
    _assert_clean(str(e.value))


def test_nan_and_infinite_seeds_are_refused_by_name(app_url):
    # JSON has no NaN: a raw request carries what some clients' serialisers send anyway
    with open(CAT, "rb") as a, open(COFFEE, "rb") as b:
        files = [("files", ("a.jpg", a)), ("files", ("b.jpg", b))]
        paths = httpx.post(f"{app_url}gradio_api/upload", files=files, timeout=30).json()
    images = [{"path": p, "meta": {"_type": "gradio.FileData"}} for p in paths]
    for seed in ("NaN", "Infinity", "-Infinity"):
        values = json.dumps([*images, *q.values(seed="SEED")])
        body = '{"data": ' + values.replace('"SEED"', seed) + "}"
        headers = {"content-type": "application/json"}
        event = httpx.post(f"{app_url}gradio_api/call/snapmix", content=body, headers=headers, timeout=30).json()
        stream = httpx.get(f"{app_url}gradio_api/call/snapmix/{event['event_id']}", timeout=60).text
        assert "event: error" in stream and "`seed`: must be a whole number" in stream, stream


def test_boxes_accept_spaces_and_brackets(client):
    res = call(client, box_a="10 20 110 120", box_b="[0, 0, 50, 50]", seed=1)
    assert (res["box_a"], res["box_b"]) == ([10, 20, 110, 120], [0, 0, 50, 50])


def test_whole_seeds_are_not_rounded(client):
    assert call(client, seed=2.0)["seed"] == 2


def test_errors_quote_a_short_escaped_excerpt(client):
    typed = "<b>bold</b><img src=x onerror=alert(1)>" + "x" * 10_000
    with pytest.raises(AppError) as e:
        call(client, target_a=typed)
    message = str(e.value)
    assert len(message) < 300, f"{len(message)} characters: the whole input came back"
    assert "<b>" not in message and "<img" not in message and "&lt;b&gt;" in message


def test_a_non_image_file_gets_a_clear_message(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image")
    with pytest.raises(AppError, match="`image_a`: this file is not an image in a supported format") as e:
        call(client, image_a=str(fake))
    _assert_clean(str(e.value))


def test_an_image_over_its_size_cap_is_refused_by_name_and_the_server_keeps_serving(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (MAX_BYTES + 1024))
    with pytest.raises(AppError, match="`image_a`: the file is larger than 20 MB") as e:
        call(client, image_a=str(big))
    _assert_clean(str(e.value))
    assert call(client)["rho_a"] >= 0, "the server must keep serving after refusing an upload"


# ## /compare: every mixing method on the pair


def compare(client, image_a=CAT, image_b=COFFEE, **kwargs):
    return client.predict(
        image_a=handle_file(image_a), image_b=handle_file(image_b), **(BASE | kwargs), api_name="/compare"
    )


def test_compare_gives_every_method_and_the_snapmix_endpoints_result(client):
    from snapmix_demo import MIXES
    from snapmix_demo.app.examples import SHAPE_PAIRS

    star, ring = SHAPE_PAIRS[0]
    res = compare(client, star, ring, weights="shapes", backbone="tf_efficientnet_lite0", seed=4)
    assert list(res["methods"]) == list(MIXES) and res["truth_known"] and res["label_b"] == "ring"
    snap = call(client, star, ring, weights="shapes", backbone="tf_efficientnet_lite0", seed=4)
    assert res["methods"]["snapmix"]["box_a"] == snap["box_a"]
    assert res["methods"]["snapmix"]["rho_b"] == pytest.approx(snap["rho_b"], rel=1e-6)
    compare(client, methods="mixup", seed=4)
    some = compare(client, methods="cutmix, fmix", seed=5)
    assert list(some["methods"]) == ["cutmix", "fmix"] and not some["truth_known"]
    assert some["forward_passes"] == 0, "the pair's analyses are cached from the call before"


def test_compare_takes_object_masks_for_the_truth_of_any_pair(client, tmp_path):
    """Two generated shapes images (not the examples) and their masks as pictures: every weight gets its truth."""
    from PIL import Image

    from snapmix_demo import compare_mixes
    from snapmix_demo.training.shapes import make_sample

    paths = {}
    for side, seed in (("a", 7), ("b", 8)):
        sample = make_sample(seed, size=128)
        sample.image.save(tmp_path / f"{side}.png")
        Image.fromarray(sample.mask).save(tmp_path / f"{side}.mask.png")
        paths[side] = (str(tmp_path / f"{side}.png"), str(tmp_path / f"{side}.mask.png"))
    masks = {f"mask_{side}": handle_file(paths[side][1]) for side in "ab"}
    res = compare(client, paths["a"][0], paths["b"][0], methods="cutmix, snapmix", seed=3, **masks)
    model = {k: v for k, v in BASE.items() if k != "seed"}
    objects = (paths["a"][1], paths["b"][1])
    local = compare_mixes(paths["a"][0], paths["b"][0], methods=["cutmix", "snapmix"], seed=3, objects=objects, **model)
    assert res["truth_known"] and res["methods"]["cutmix"]["true_b"] == pytest.approx(local.pairs["cutmix"].true_b)
    without = compare(client, paths["a"][0], paths["b"][0], methods="cutmix", seed=3)
    assert not without["truth_known"] and without["methods"]["cutmix"]["true_b"] is None
    with pytest.raises(AppError) as e:
        compare(client, paths["a"][0], paths["b"][0], methods="cutmix", mask_a=masks["mask_a"])
    assert "`mask_b`: give an object mask for both images, or for neither" in str(e.value)
    _assert_clean(str(e.value))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"methods": "cutmix snapmx"}, "`method`: unknown method `snapmx` (did you mean `snapmix`?)"),
        ({"methods": "<b>x</b>"}, "`method`: unknown method `&lt;b&gt;x&lt;/b&gt;`"),
        ({"beta": -1}, "`beta`: must be a positive number (the paper uses 5), got -1"),
        ({"seed": 1.5}, "`seed`: must be a whole number"),
        ({"box_a": "1,2,3"}, "`box_a`: must be four whole numbers"),
        ({"mode": "monkey"}, "`mode`: unknown patch mode"),
    ],
)
def test_compare_refuses_bad_requests_by_name(client, kwargs, expected):
    with pytest.raises(AppError) as e:
        compare(client, **kwargs)
    assert expected in str(e.value), f"{e.value!s} lacks {expected!r}"
    _assert_clean(str(e.value))
