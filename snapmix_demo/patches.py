"""Every `@patch_to` of the project: one API for the backbones of two model libraries.

SnapMix needs each network's pre-pooling feature map and its final Linear layer, which
geffnet and torchvision reach in different ways. fastcore's `@patch_to` adds the same
accessors to the *original* classes (no subclass, no changed import), once, at import:

- default mode, plain methods: `model.extract_features(x)`, `model.get_fc()`;
- `as_prop=True`, a read-only property: `model.fc_layer`;
- `cls_method=True`, a class method: `type(model).fc_path()`, a class-level fact (the dotted
  path of the Linear, resolved with `model.get_submodule`).

Classes that share a body are patched in one call with a tuple of classes. No patched name
is a submodule name (`fc`, `classifier`, `features`), so nothing is shadowed.
"""

import inspect

import torch.nn.functional as F
from fastcore.basics import patch_to
from geffnet.gen_efficientnet import GenEfficientNet
from torch import Tensor, nn

from snapmix_demo._torchvision import ensure_torchvision_importable

ensure_torchvision_importable()
from torchvision.models import DenseNet, EfficientNet, MobileNetV2, ResNet  # noqa: E402

__all__ = ["PATCHED", "PATCH_MODES", "accessor_source", "classifier"]

PATCH_MODES = ("default", "cls_method", "as_prop")

# Backbones whose classifier is a Linear at `classifier`, at `classifier[-1]`, or at `fc`.
_LINEAR_AT_CLASSIFIER = (GenEfficientNet, DenseNet)
_LINEAR_LAST_IN_CLASSIFIER = (EfficientNet, MobileNetV2)
_LINEAR_AT_FC = (ResNet,)
_ALL = _LINEAR_AT_CLASSIFIER + _LINEAR_LAST_IN_CLASSIFIER + _LINEAR_AT_FC

# ## extract_features: the map that global average pooling consumes


@patch_to((GenEfficientNet, EfficientNet, MobileNetV2))
def extract_features(self, x: Tensor) -> Tensor:
    """Pre-pool map (B, D, h, w) of a geffnet EfficientNet/MixNet or torchvision EfficientNet/MobileNetV2."""
    return self.features(x)


@patch_to(DenseNet)
def extract_features(self, x: Tensor) -> Tensor:
    """Pre-pool map (B, D, h, w) of a torchvision DenseNet, with the ReLU its forward applies before pooling."""
    return F.relu(self.features(x))


@patch_to(ResNet)
def extract_features(self, x: Tensor) -> Tensor:
    """Pre-pool map (B, D, h, w) of a torchvision ResNet: stem and the four stages."""
    x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
    return self.layer4(self.layer3(self.layer2(self.layer1(x))))


# ## get_fc (default mode): a method bound to the instance


@patch_to(_LINEAR_AT_CLASSIFIER)
def get_fc(self) -> nn.Linear:
    """The final Linear, kept as `classifier`."""
    return self.classifier


@patch_to(_LINEAR_LAST_IN_CLASSIFIER)
def get_fc(self) -> nn.Linear:
    """The final Linear, last layer of the `classifier` Sequential (after its Dropout)."""
    return self.classifier[-1]


@patch_to(_LINEAR_AT_FC)
def get_fc(self) -> nn.Linear:
    """The final Linear, kept as `fc`."""
    return self.fc


# ## fc_layer (as_prop mode): a read-only property, read like an attribute


@patch_to(_LINEAR_AT_CLASSIFIER, as_prop=True)
def fc_layer(self) -> nn.Linear:
    """The final Linear, kept as `classifier`."""
    return self.classifier


@patch_to(_LINEAR_LAST_IN_CLASSIFIER, as_prop=True)
def fc_layer(self) -> nn.Linear:
    """The final Linear, last layer of the `classifier` Sequential."""
    return self.classifier[-1]


@patch_to(_LINEAR_AT_FC, as_prop=True)
def fc_layer(self) -> nn.Linear:
    """The final Linear, kept as `fc`."""
    return self.fc


# ## fc_path (cls_method mode): bound to the class, so it can only state class-level facts


@patch_to(_LINEAR_AT_CLASSIFIER, cls_method=True)
def fc_path(cls) -> str:
    """Dotted path of the final Linear inside every instance of `cls`."""
    return "classifier"


@patch_to(_LINEAR_LAST_IN_CLASSIFIER, cls_method=True)
def fc_path(cls) -> str:
    """Dotted path of the final Linear (index 1 of `classifier`, after its Dropout)."""
    return "classifier.1"


@patch_to(_LINEAR_AT_FC, cls_method=True)
def fc_path(cls) -> str:
    """Dotted path of the final Linear inside every instance of `cls`."""
    return "fc"


PATCHED: dict[str, tuple[type[nn.Module], ...]] = {
    "extract_features": _ALL,
    "get_fc": _ALL,
    "fc_layer": _ALL,
    "fc_path": _ALL,
}


def _is_ours(attr: object) -> bool:
    """Whether a class attribute is one of this module's patches (a reload re-patches over them)."""
    func = attr.fget if isinstance(attr, property) else getattr(attr, "f", attr)
    return getattr(func, "__module__", None) == __name__


# fastcore stashes an attribute that a patch overwrote as `_orig_<name>`: any foreign one is a clash.
_clashes = [
    f"{c.__name__}.{name}"
    for name, classes in PATCHED.items()
    for c in classes
    if f"_orig_{name}" in c.__dict__ and not _is_ours(c.__dict__[f"_orig_{name}"])
]
if _clashes:
    raise RuntimeError(f"@patch_to overwrote existing attributes: {', '.join(_clashes)}")

_MODE_ACCESSOR = {"default": "get_fc", "cls_method": "fc_path", "as_prop": "fc_layer"}


def classifier(model: nn.Module, mode: str) -> nn.Linear:
    """The final Linear of `model`, reached through the accessor that patch mode `mode` installs."""
    if mode == "default":
        return model.get_fc()
    if mode == "as_prop":
        return model.fc_layer
    if mode == "cls_method":
        return model.get_submodule(type(model).fc_path())
    raise ValueError(f"unknown patch mode `{mode}`; choose one of: {', '.join(PATCH_MODES)}")


def accessor_source(model_class: type[nn.Module], mode: str) -> str:
    """Source text of the patch that `mode` uses on `model_class`, with its decorator (shown in the UI)."""
    if mode not in _MODE_ACCESSOR:
        raise ValueError(f"unknown patch mode `{mode}`; choose one of: {', '.join(PATCH_MODES)}")
    attr = inspect.getattr_static(model_class, _MODE_ACCESSOR[mode])
    func = (
        attr.fget if isinstance(attr, property) else getattr(attr, "f", attr)
    )  # fastcore keeps a class method in `.f`
    return inspect.getsource(func)
