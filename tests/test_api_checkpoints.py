"""Issue 13 over HTTP: a user's own checkpoint and class names through `/snapmix`, on the real app over loopback.

Every checkpoint is a real file that the tests write (`tests/_checkpoints.py`), uploaded with gradio_client's
`handle_file` as a client would. Most tests use the session's app; the upload cap, refusals before any
code of ours runs, and the temp folder's sweep use this module's own app with a small checkpoint cap.
"""

import dataclasses
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from snapmix_demo.app import build_demo, launch_kwargs
from snapmix_demo.app.examples import PHOTO_PAIRS
from snapmix_demo.app.serving.settings import ServerSettings
from snapmix_demo.weights import clear_model_cache, user
from tests._checkpoints import CLASSES, LAYOUTS, WritesMarker, trained_state, write_checkpoint, write_classes
from tests.conftest import _free_port

CAT, COFFEE = PHOTO_PAIRS[0]
BACKBONES = ("resnet18", "tf_efficientnet_lite0")
LEAKS = ("/tmp", "/work", "Traceback", "site-packages")
SMALL_CAP = 30 * 2**20  # this module's own app takes checkpoints up to 30 MB (the default is 250 MB)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="module")
def states() -> dict[str, dict[str, torch.Tensor]]:
    return {name: trained_state(name) for name in BACKBONES}


@pytest.fixture(scope="module", autouse=True)
def _uploads_removed(scratch):
    """Checkpoints are tens of MB: remove this module's uploads and models afterwards, as the sweeper would later."""
    yield
    for path in (scratch / "gradio").glob("*/*.ckpt"):
        path.unlink(missing_ok=True)
    clear_model_cache()


def call(client: Client, checkpoint: Path | None = None, classes: str | Path | None = None, **kwargs) -> dict:
    """/snapmix on the cat and the coffee, with a checkpoint and class names as a client sends them."""
    own = {} if checkpoint is None else {"checkpoint": handle_file(checkpoint)}
    if classes is not None:
        own["classes"] = handle_file(classes) if isinstance(classes, Path) else classes
    images = {"image_a": handle_file(CAT), "image_b": handle_file(COFFEE)}
    return client.predict(**images, **({"backbone": "resnet18", "seed": 0} | kwargs | own), api_name="/snapmix")


def refused(client: Client, *args, **kwargs) -> str:
    """The message of a call that must be refused, checked for leaks."""
    with pytest.raises(AppError) as e:
        call(client, *args, **kwargs)
    message = str(e.value)
    for leak in LEAKS:
        assert leak not in message, f"{leak!r} leaked into {message!r}"
    return message


def assert_still_serving(client: Client) -> None:
    assert 0 <= call(client, weights="random", seed=99)["rho_a"] <= 1, "the server keeps serving"


# ## Every accepted layout, both backbones


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_layout_runs_with_the_users_class_names(client, folder, states, backbone, layout):
    path = write_checkpoint(folder, backbone, layout, states[backbone])
    res = call(client, path, "\n".join(CLASSES), backbone=backbone)
    assert res["weights_kind"] == "checkpoint" and res["backbone"] == backbone
    assert res["weights"] == f"your checkpoint ({path.name}, sha256 {user.sha256(path)[:8]}, 5 classes)"
    assert res["label_a"] in CLASSES and res["label_b"] in CLASSES
    assert {label for label, _ in res["topk_a"]} == set(CLASSES), "the top-5 of a 5-class head: all its names"
    assert str(folder) not in json.dumps(res) and "/gradio/" not in json.dumps(res), "no server or client path"


def test_a_class_file_targets_by_name_and_numbered_classes_without_names(client, folder, states):
    path = write_checkpoint(folder, "tf_efficientnet_lite0", "lightning", states["tf_efficientnet_lite0"])
    res = call(client, path, write_classes(folder), backbone="tf_efficientnet_lite0", target_a="heron", target_b=1)
    assert (res["label_a"], res["chosen_a"], res["label_b"], res["class_b"]) == ("heron", True, "finch", 1)
    numbered = call(client, path, backbone="tf_efficientnet_lite0", weights="checkpoint", target_a="class 3")
    assert numbered["label_a"] == "class 3" and {label for label, _ in numbered["topk_b"]} == {
        f"class {i}" for i in range(5)
    }
    assert "unknown target class 'heron'" in refused(client, path, backbone="tf_efficientnet_lite0", target_a="heron")


# ## Checkpoints and class lists that do not fit


def test_a_checkpoint_of_another_architecture_names_the_one_it_fits(client, folder, states):
    path = write_checkpoint(folder, "resnet18", "ddp", states["resnet18"])
    message = refused(client, path, backbone="resnet50")
    assert "Checkpoint `resnet18-ddp.ckpt` does not fit backbone `resnet50`: missing: layer1.0.conv3.weight" in message
    assert message.endswith("It looks like a checkpoint of `resnet18`.")
    assert_still_serving(client)


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(client, folder):
    marker = folder / "pwned"
    path = folder / "evil.ckpt"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "payload": WritesMarker(marker)}, path)
    message = refused(client, path, weights="checkpoint")
    assert "Checkpoint `evil.ckpt` could not be loaded safely" in message and "weights_only=True" in message
    assert not marker.exists(), "unpickling ran the payload"
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        ("sparrow\nfinch", "The class list has 2 names, but the checkpoint's classifier predicts 5 classes"),
        ("\n".join([*CLASSES, "owl"]), "The class list has 6 names, but the checkpoint's classifier predicts 5"),
        ("x" * 300, "is longer than 200 characters"),
    ],
)
def test_a_class_list_that_disagrees_with_the_head_gets_a_clear_message(client, folder, states, classes, expected):
    path = write_checkpoint(folder, "resnet18", "plain", states["resnet18"])
    assert expected in refused(client, path, classes)


def test_a_class_file_that_is_not_text_gets_a_clear_message(client, folder, states):
    path = write_checkpoint(folder, "resnet18", "plain", states["resnet18"])
    binary = folder / "classes.bin.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    assert "The class list could not be read: give a UTF-8 text file" in refused(client, path, binary)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"weights": "checkpoint"}, "`checkpoint`: please upload your checkpoint"),
        ({"classes": "sparrow\nfinch"}, "`classes`: class names go with your own checkpoint"),
    ],
)
def test_what_is_missing_is_named(client, kwargs, expected):
    assert expected in refused(client, **kwargs)


def test_a_checkpoint_over_the_cap_is_refused_before_loading(client, folder, states, monkeypatch):
    path = write_checkpoint(folder, "resnet18", "model-key", states["resnet18"])
    monkeypatch.setattr(user, "CHECKPOINT_MAX_BYTES", 2**20)
    assert "Checkpoint `resnet18-model-key.ckpt` is larger than 1 MB (SNAPMIX_CHECKPOINT_MAX_MB)" in refused(
        client, path
    )
    assert_still_serving(client)


def test_with_checkpoint_uploads_off_a_checkpoint_is_refused(client, folder, states, monkeypatch):
    path = write_checkpoint(folder, "resnet18", "plain", states["resnet18"])
    monkeypatch.setenv("SNAPMIX_CHECKPOINT_UPLOADS", "off")
    for kwargs in ({"checkpoint": path}, {"weights": "checkpoint"}):
        message = refused(client, **kwargs)
        assert "`checkpoint`: this server does not take checkpoints (SNAPMIX_CHECKPOINT_UPLOADS=off)" in message
    assert_still_serving(client)


# ## The upload itself: the cap before any code of ours runs, and the temp folder


@pytest.fixture(scope="module")
def small():
    """This module's own app, as `python app.py` serves it with SNAPMIX_CHECKPOINT_MAX_MB=30; sweeps every 0.5 s."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(user, "CHECKPOINT_MAX_BYTES", SMALL_CAP)
        settings = dataclasses.replace(ServerSettings.from_env({}), sweep_every_s=0.5)
        kwargs = launch_kwargs(settings)
        demo = build_demo()
        port = _free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **kwargs)
        url = f"http://127.0.0.1:{port}/"
        yield SimpleNamespace(url=url, demo=demo, client=Client(url, verbose=False), settings=settings)
        demo.close()


def _oversized(folder: Path, size: int = SMALL_CAP + 2**20) -> Path:
    big = folder / "big.ckpt"
    with big.open("wb") as f:  # sparse: quick to write, as large as a real file to upload
        f.truncate(size)
    return big


def test_a_checkpoint_over_the_upload_cap_is_refused_by_the_client_and_the_server_keeps_serving(small, folder):
    assert small.settings.max_file == SMALL_CAP
    with pytest.raises(ValueError, match=f"exceeds the maximum file size of {SMALL_CAP} bytes"):
        call(small.client, _oversized(folder))  # gradio_client reads max_file_size from the config: nothing is sent
    assert_still_serving(small.client)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (SMALL_CAP + 2**20, f"File size exceeded maximum allowed size of {SMALL_CAP} bytes."),  # Gradio's
        (41 * 2**20, "Upload too large: at most 2 files of 20 MB each per request, or one checkpoint of 30 MB."),
    ],
    ids=["file-over-the-cap", "body-over-the-guards-limit"],
)
def test_a_checkpoint_over_the_upload_cap_is_refused_by_the_server_and_it_keeps_serving(small, folder, size, expected):
    with _oversized(folder, size).open("rb") as f:  # a raw upload, past the client's own check
        answer = httpx.post(f"{small.url}gradio_api/upload", files=[("files", ("big.ckpt", f))], timeout=120)
    assert (answer.status_code, answer.text) == (413, expected)
    assert_still_serving(small.client)


def test_an_uploaded_checkpoint_is_swept_with_the_other_temp_files(small, folder, states):
    path = write_checkpoint(folder, "tf_efficientnet_lite0", "compiled", states["tf_efficientnet_lite0"])
    with path.open("rb") as f:
        answer = httpx.post(f"{small.url}gradio_api/upload", files=[("files", (path.name, f))], timeout=120)
    assert answer.status_code == 200, answer.text
    uploaded = answer.json()[0]
    assert Path(uploaded).name == path.name and uploaded in small.demo.upload_file_set, "Gradio's delete_cache too"
    hour_ago = time.time() - 2 * small.settings.temp_max_age_s
    os.utime(uploaded, (hour_ago, hour_ago))
    for _ in range(200):  # the sweeper runs every 0.5 s here
        if not Path(uploaded).exists():
            break
        time.sleep(0.1)
    assert not Path(uploaded).exists(), "an old checkpoint upload is swept like any other"
