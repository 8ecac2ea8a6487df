"""The registry's declared facts against real forwards, the patches, weight resolution and the model cache."""

import dataclasses
import importlib
import os
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from snapmix_demo import BACKBONES, PATCH_MODES, backbones, patches
from snapmix_demo.backbones import (
    available_weights,
    cached_backbone,
    clear_model_cache,
    get_spec,
    load_backbone,
    model_cache_info,
)
from snapmix_demo.patches import PATCHED, accessor_source, classifier
from snapmix_demo.snapmix import class_cams


class NotATensor:
    """An arbitrary picklable object: `weights_only=True` must refuse to build it."""


EXPECTED = {
    "efficientnet_b0",
    "tf_efficientnet_b0",
    "mixnet_s",
    "resnet18",
    "resnet50",
    "densenet121",
    "tv_efficientnet_b0",
    "mobilenet_v2",
}


def test_registry_has_the_promised_backbones():
    assert set(BACKBONES) >= EXPECTED, f"missing: {EXPECTED - set(BACKBONES)}"
    for name, spec in BACKBONES.items():
        assert spec.name == name
        assert len(spec.classes) == 1000 and spec.classes[0] == "tench", f"{name}: ImageNet class names"
        assert len(spec.mean) == 3 and len(spec.std) == 3


@pytest.mark.parametrize("mode", PATCH_MODES)
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_accessors_match_the_declared_spec(name, mode, built):
    model, spec = built(name), get_spec(name)
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))  # non-square on purpose
    with torch.no_grad():
        feats = model.extract_features(x)
        fc = classifier(model, mode)
        logits = fc(feats.mean(dim=(2, 3)))
        expected_logits = model(x)
    assert fc is model.get_submodule(spec.fc_path), f"{name}/{mode}: accessor is not {spec.fc_path}"
    assert isinstance(fc, torch.nn.Linear)
    assert feats.shape[1] == spec.num_features == fc.in_features, (
        f"{name}: features {feats.shape[1]}, spec {spec.num_features}, Linear in {fc.in_features}"
    )
    assert torch.allclose(logits, expected_logits, atol=1e-5, rtol=1e-5), f"{name}: fc(pool(features)) != forward"


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_mean_of_every_cam_is_its_logit(name, built):
    model = built(name)
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = model.extract_features(x)
        fc = model.get_fc()
        every_class = torch.arange(fc.out_features)
        cams = class_cams(feats.expand(len(every_class), -1, -1, -1), fc.weight, fc.bias, every_class)
        logits = model(x)[0]
    assert torch.allclose(cams.mean(dim=(1, 2)), logits, rtol=1e-4, atol=1e-4 * logits.abs().max()), name


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_the_three_modes_reach_the_same_linear(name, built):
    model = built(name)
    assert model.get_fc() is model.fc_layer is model.get_submodule(type(model).fc_path())
    assert type(model).fc_path() == model.fc_path() == get_spec(name).fc_path


def test_fc_layer_is_a_read_only_property(built):
    model = load_backbone("resnet18", weights="random")
    with pytest.raises(AttributeError):
        model.fc_layer = None
    # nn.Module files a Module value under _modules, but the class property still wins on every read.
    model.fc_layer = torch.nn.Linear(1, 1)
    assert model.fc_layer is model.fc


def test_no_patch_overwrote_an_attribute_or_shadows_a_submodule(built):
    for name, classes in PATCHED.items():
        for cls in classes:
            stash = cls.__dict__.get(f"_orig_{name}")
            assert stash is None or patches._is_ours(stash), f"{cls.__name__}.{name} existed before patching"
    for model_name in sorted(BACKBONES):
        children = dict(built(model_name).named_children())
        assert not set(PATCHED) & set(children), f"{model_name}: a patched name is also a submodule"


def test_patching_again_is_harmless(built):
    model = built("densenet121")
    before = model.get_fc()
    importlib.reload(patches)
    assert model.get_fc() is before and model.fc_layer is before
    assert type(model).fc_path() == "classifier"


@pytest.mark.parametrize("mode", PATCH_MODES)
def test_patch_source_is_available_per_mode(mode, built):
    source = accessor_source(type(built("mobilenet_v2")), mode)
    assert "@patch_to(" in source
    assert {"default": "def get_fc", "as_prop": "as_prop=True", "cls_method": "cls_method=True"}[mode] in source
    with pytest.raises(ValueError, match="patch mode"):
        accessor_source(type(built("mobilenet_v2")), "monkey")


# ## Names


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"did you mean `resnet50`") as e:
        get_spec("resnt50")
    assert "densenet121" in str(e.value), "the message lists the choices"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("mobilenetv3_large_100", "Hardswish"),
        ("mobilenet_v3_small", "Hardswish"),
        ("convnext_tiny", "LayerNorm"),
        ("vgg16", "flattened"),
        ("vit_b_16", "transformer"),
    ],
)
def test_models_without_exact_cams_are_refused_with_the_reason(name, why):
    with pytest.raises(ValueError, match=why) as e:
        get_spec(name)
    assert "does not add up to its logits" in str(e.value)


# ## Weights


def _hub_file(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(get_spec(name).imagenet_url)


@pytest.fixture
def hub_checkpoint():
    """Write a checkpoint under the file name the hub cache expects, and remove it afterwards."""
    written = []

    def write(name: str, state: dict) -> Path:
        path = _hub_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        written.append(path)
        return path

    yield write
    for path in written:
        path.unlink(missing_ok=True)
    clear_model_cache()


def test_imagenet_weights_load_from_the_hub_cache(hub_checkpoint):
    reference = get_spec("resnet18").builder(num_classes=1000)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in reference.state_dict().items()}
    hub_checkpoint("resnet18", state)
    assert available_weights("resnet18")[0] == "imagenet"
    bb = cached_backbone("resnet18", weights="imagenet")
    assert bb.weights.kind == "imagenet" and "torch hub cache" in bb.weights.source
    assert torch.equal(bb.model.fc.weight, state["fc.weight"])
    assert not bb.model.training and not any(p.requires_grad for p in bb.model.parameters())
    assert cached_backbone("resnet18", weights="auto").weights.kind == "imagenet", "auto prefers ImageNet"


def test_legacy_densenet_checkpoint_keys_are_remapped(hub_checkpoint):
    state = get_spec("densenet121").builder(num_classes=1000).state_dict()
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
    bb = cached_backbone("mixnet_s", weights="auto")
    assert bb.weights.kind == "random" and "meaningless" in bb.weights.source
    with pytest.raises(ValueError, match="not available here"):
        load_backbone("mixnet_s", weights="imagenet")
    with pytest.raises(ValueError, match="unknown weights"):
        load_backbone("mixnet_s", weights="laion")


def test_a_download_that_cannot_connect_fails_fast(monkeypatch, tmp_path):
    monkeypatch.delenv("SNAPMIX_OFFLINE")
    url = "http://127.0.0.1:9/resnet18-unreachable.pth"  # discard port: connection refused at once
    spec = dataclasses.replace(get_spec("resnet18"), imagenet_url=url)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert backbones._try_imagenet(spec, partial(backbones._construct, spec)) is None
    assert url in backbones._failed_downloads, "a failed URL is not retried in this process"
    assert not list(tmp_path.rglob("*.pth")), "no partial file is left behind as a checkpoint"


# ## Model cache


def test_concurrent_first_requests_build_one_model():
    clear_model_cache()
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
    clear_model_cache()
    for name in ("resnet18", "mobilenet_v2", "mixnet_s", "tv_efficientnet_b0"):
        cached_backbone(name, weights="random")
    info = model_cache_info()
    assert len(info["keys"]) == info["maxsize"] == 3
    assert ("resnet18", "random") not in info["keys"], "the least recently used model is evicted"
