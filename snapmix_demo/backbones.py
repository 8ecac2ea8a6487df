"""Backbone registry, weight resolution and a bounded model cache.

Each supported network is declared once, as facts (`BackboneSpec`), keyed by its
library's own model name. Weights resolve in a fixed order (ImageNet weights in the
torch hub cache, a download with a short connect timeout, the project's bundled
weights, random init) and the source is always reported: random weights are never
silent.
"""

import difflib
import hashlib
import json
import logging
import os
import pickle
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import geffnet
import torch
from torch import nn

from snapmix_demo import patches  # noqa: F401 (installs the accessors on every backbone class)
from snapmix_demo._torchvision import ensure_torchvision_importable

ensure_torchvision_importable()
from torchvision import models as tv  # noqa: E402
from torchvision.models._meta import _IMAGENET_CATEGORIES  # noqa: E402

__all__ = [
    "BACKBONES",
    "BUNDLED_DIR",
    "WEIGHT_CHOICES",
    "Backbone",
    "BackboneSpec",
    "WeightsInfo",
    "available_weights",
    "build_model",
    "cached_backbone",
    "clear_model_cache",
    "get_spec",
    "load_backbone",
    "model_cache_info",
    "weights_classes",
]

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = tuple(_IMAGENET_CATEGORIES)
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "weights"
WEIGHT_CHOICES = ("auto", "imagenet", "shapes", "random")
DOWNLOAD_TIMEOUT_S = 3.0  # connect and per-read timeout: an unreachable host fails fast, never hangs
MODEL_CACHE_SIZE = int(os.environ.get("SNAPMIX_MODEL_CACHE_SIZE", "3"))


@dataclass(frozen=True)
class BackboneSpec:
    """Declared facts about one supported backbone."""

    # where it comes from
    name: str
    source: str  # "geffnet" or "torchvision"
    builder: Callable[..., nn.Module]  # builder(num_classes=...) -> randomly initialised model
    imagenet_url: str
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


def _spec(name: str, source: str, builder: Callable[..., nn.Module], url: str, **kw) -> BackboneSpec:
    return BackboneSpec(name=name, source=source, builder=builder, imagenet_url=url, **kw)


def _gen(name: str) -> Callable[..., nn.Module]:
    return partial(getattr(geffnet, name), pretrained=False)


def _tv(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    return partial(builder, weights=None)


_GEFF_URLS = geffnet.gen_efficientnet.model_urls

BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_b0": _spec("efficientnet_b0", "geffnet", _gen("efficientnet_b0"), _GEFF_URLS["efficientnet_b0"]),
    "tf_efficientnet_b0": _spec(
        "tf_efficientnet_b0", "geffnet", _gen("tf_efficientnet_b0"), _GEFF_URLS["tf_efficientnet_b0"]
    ),
    "mixnet_s": _spec("mixnet_s", "geffnet", _gen("mixnet_s"), _GEFF_URLS["mixnet_s"], num_features=1536),
    "resnet18": _spec(
        "resnet18",
        "torchvision",
        _tv(tv.resnet18),
        tv.ResNet18_Weights.IMAGENET1K_V1.url,
        num_features=512,
        fc_path="fc",
    ),
    "resnet50": _spec(
        "resnet50",
        "torchvision",
        _tv(tv.resnet50),
        tv.ResNet50_Weights.IMAGENET1K_V2.url,
        num_features=2048,
        fc_path="fc",
    ),
    "densenet121": _spec(
        "densenet121", "torchvision", _tv(tv.densenet121), tv.DenseNet121_Weights.IMAGENET1K_V1.url, num_features=1024
    ),
    "tv_efficientnet_b0": _spec(
        "tv_efficientnet_b0",
        "torchvision",
        _tv(tv.efficientnet_b0),
        tv.EfficientNet_B0_Weights.IMAGENET1K_V1.url,
        fc_path="classifier.1",
    ),
    "mobilenet_v2": _spec(
        "mobilenet_v2",
        "torchvision",
        _tv(tv.mobilenet_v2),
        tv.MobileNet_V2_Weights.IMAGENET1K_V2.url,
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
    for prefix, reason in _NOT_CAM_EXACT.items():
        if str(name).lower().startswith(prefix):
            raise ValueError(
                f"backbone `{name}` is not supported: {reason}, so its class activation map does not add up to "
                f"its logits and SnapMix's weights would be wrong. Choose one of: {choices}"
            )
    close = difflib.get_close_matches(str(name), BACKBONES, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise ValueError(f"unknown backbone `{name}`{hint}; choose one of: {choices}")


# ## Weights


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights came from, and the class names its head predicts."""

    kind: str  # "imagenet", "shapes" or "random"
    source: str  # human-readable origin, shown in the UI and in results
    classes: tuple[str, ...]


def _hub_checkpoint(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


_failed_downloads: set[str] = set()  # URLs that failed once: not retried in this process


def _download(url: str, dest: Path) -> bool:
    """Fetch `url` into `dest` (atomically); False, logged, when the network does not answer."""
    if os.environ.get("SNAPMIX_OFFLINE") == "1" or url in _failed_downloads:
        return False
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
        os.replace(tmp, dest)
        return True
    except OSError as e:
        _failed_downloads.add(url)
        logger.warning("could not download %s (%s); carrying on without it", url, e)
        return False


def _load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, refusing anything but plain tensors (`weights_only=True`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise ValueError(f"checkpoint `{path.name}` could not be loaded safely ({type(e).__name__}); delete it") from e
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _remap_densenet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old torchvision DenseNet checkpoints name `norm.1` what the module now calls `norm1`."""
    return {_LEGACY_DENSENET_KEY.sub(r"\1\2.", k): v for k, v in state.items()}


_LEGACY_DENSENET_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


def _bundled_manifest() -> dict[str, dict]:
    path = BUNDLED_DIR / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def available_weights(name: str) -> list[str]:
    """Weight kinds usable for backbone `name` right now, best first (never downloads)."""
    spec = get_spec(name)
    kinds = ["imagenet"] if _hub_checkpoint(spec.imagenet_url).exists() else []
    if name in _bundled_manifest():
        kinds.append("shapes")
    return [*kinds, "random"]


def weights_classes(name: str, kind: str) -> tuple[str, ...]:
    """Class names that backbone `name` predicts with weights `kind`, without building the model."""
    if kind == "shapes" and (entry := _bundled_manifest().get(name)):
        return tuple(entry["classes"])
    return get_spec(name).classes


def _try_imagenet(
    spec: BackboneSpec, model_builder: Callable[[int], nn.Module]
) -> tuple[nn.Module, WeightsInfo] | None:
    path = _hub_checkpoint(spec.imagenet_url)
    origin = "torch hub cache"
    if not path.exists():
        if not _download(spec.imagenet_url, path):
            return None
        origin = "downloaded"
    state = _load_checkpoint(path)
    if spec.name.startswith("densenet"):
        state = _remap_densenet_keys(state)
    model = model_builder(len(IMAGENET_CLASSES))
    model.load_state_dict(state)
    return model, WeightsInfo("imagenet", f"ImageNet ({origin}: {path.name})", IMAGENET_CLASSES)


def _try_bundled(spec: BackboneSpec, model_builder: Callable[[int], nn.Module]) -> tuple[nn.Module, WeightsInfo] | None:
    entry = _bundled_manifest().get(spec.name)
    if entry is None:
        return None
    path = BUNDLED_DIR / entry["file"]
    if _sha256(path) != entry["sha256"]:
        raise ValueError(f"bundled weights `{path.name}` do not match their sha256 in the manifest; restore the file")
    state = {k: v.float() for k, v in _load_checkpoint(path).items()}  # stored in half precision, computed in float32
    classes = tuple(entry["classes"])
    model = model_builder(len(classes))
    model.load_state_dict(state)
    accuracy = entry.get("heldout_accuracy")
    score = f", {accuracy:.1%} held-out accuracy" if accuracy is not None else ""
    return model, WeightsInfo("shapes", f"bundled shapes model ({path.name}{score})", classes)


def _random(spec: BackboneSpec, model_builder: Callable[[int], nn.Module], why: str) -> tuple[nn.Module, WeightsInfo]:
    model = model_builder(len(spec.classes))
    return model, WeightsInfo("random", f"random init, seed 0 ({why}): predictions are meaningless", spec.classes)


def _build(name: str, weights: str) -> tuple[nn.Module, WeightsInfo]:
    spec = get_spec(name)
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"unknown weights `{weights}`; choose one of: {', '.join(WEIGHT_CHOICES)}")
    model_builder = partial(_construct, spec)
    if weights in ("auto", "imagenet") and (found := _try_imagenet(spec, model_builder)):
        return found
    if weights in ("auto", "shapes") and (found := _try_bundled(spec, model_builder)):
        return found
    if weights == "random":
        return _random(spec, model_builder, "as requested")
    if weights == "auto":
        logger.warning("no pretrained weights for %s offline: using random init", name)
        return _random(spec, model_builder, "no pretrained weights available offline")
    raise ValueError(f"`{weights}` weights for `{name}` are not available here; available: {available_weights(name)}")


_INIT_LOCK = threading.Lock()  # seeded init draws from torch's process-wide RNG: one construction at a time


def _construct(spec: BackboneSpec, num_classes: int) -> nn.Module:
    """`spec`'s model initialised from seed 0, leaving the global RNG as it was (thread-safe)."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.builder(num_classes=num_classes)


def build_model(name: str, *, num_classes: int) -> nn.Module:
    """A patched, randomly initialised (seed 0) model `name` with a `num_classes`-way head, e.g. for training."""
    return _construct(get_spec(name), num_classes)


def load_backbone(name: str, *, weights: str = "auto") -> nn.Module:
    """A fresh, patched, eval-mode model `name` with the resolved weights (see `Backbone.weights` for the source)."""
    return _load(name, weights).model


# ## Bounded, thread-safe cache of built models (shared, read-only, eval mode)


@dataclass(frozen=True)
class Backbone:
    """A built model with its spec and the origin of its weights."""

    model: nn.Module
    spec: BackboneSpec
    weights: WeightsInfo


def _load(name: str, weights: str) -> Backbone:
    model, info = _build(name, weights)
    model.eval().requires_grad_(False)
    return Backbone(model, get_spec(name), info)


class _ModelCache:
    """LRU of built models; concurrent first requests for one key build it once."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._models: OrderedDict[tuple[str, str], Backbone] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self.builds = 0

    def get(self, key: tuple[str, str]) -> Backbone:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            backbone = _load(*key)
            with self._lock:
                self.builds += 1
                self._models[key] = backbone
                while len(self._models) > self.maxsize:
                    self._models.popitem(last=False)
                self._key_locks.pop(key, None)
        return backbone

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


_cache = _ModelCache(MODEL_CACHE_SIZE)


def cached_backbone(name: str, *, weights: str = "auto") -> Backbone:
    """The shared eval-mode model `name` with `weights`, built at most once while it stays in the bounded cache."""
    get_spec(name)  # fail fast, with the helpful message, before taking any lock
    return _cache.get((name, weights))


def clear_model_cache() -> None:
    """Drop every cached model (tests, or to free memory)."""
    _cache.clear()


def model_cache_info() -> dict[str, object]:
    """Cached keys, bound and number of builds so far."""
    with _cache._lock:
        return {"keys": list(_cache._models), "maxsize": _cache.maxsize, "builds": _cache.builds}
