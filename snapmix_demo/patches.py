"""Every `@patch_to` of the project: one API for the backbones of two model libraries.

SnapMix needs each network's pre-pooling feature map and its final Linear layer, which
geffnet and torchvision reach in different ways. fastcore's `@patch_to` adds the same
accessors to the *original* classes (no subclass, no changed import), once per class:

- default mode, plain methods: `model.extract_features(x)`, `model.get_fc()`;
- `as_prop=True`, a read-only property: `model.fc_layer`;
- `cls_method=True`, a class method: `type(model).fc_path()`, a class-level fact (the dotted
  path of the Linear, resolved with `model.get_submodule`).

Each accessor is written once below and applied to a library's classes grouped by what they
share (`Families`), with one `@patch_to` call per group. geffnet's classes are patched at import;
torchvision's when `torchvision.models` is first imported, by anyone (`_torchvision.after_import`),
so importing this package does not pay for torchvision. No patched name is a submodule name (`fc`,
`classifier`, `features`), so nothing is shadowed.
"""

import inspect
import textwrap
import threading
from dataclasses import dataclass, fields

import torch.nn.functional as F
from fastcore.basics import patch_to
from geffnet.gen_efficientnet import GenEfficientNet
from torch import Tensor, nn

from snapmix_demo._torchvision import after_import

__all__ = ["PATCHED", "PATCH_MODES", "Families", "accessor_source", "classifier", "patch_torchvision"]

PATCH_MODES = ("default", "cls_method", "as_prop")

Classes = tuple[type[nn.Module], ...]


@dataclass(frozen=True)
class Families:
    """One library's backbone classes, grouped by where their feature map and their Linear sit."""

    # where the pre-pool map comes from
    features_map: Classes = ()  # `features(x)` is the map
    features_then_relu: Classes = ()  # the forward applies a ReLU to `features(x)` before pooling
    resnet_stages: Classes = ()  # stem and four stages, no `features` module
    # where the final Linear sits
    linear_at_classifier: Classes = ()
    linear_last_in_classifier: Classes = ()  # `classifier` is (Dropout, Linear)
    linear_at_fc: Classes = ()

    @property
    def all(self) -> Classes:
        """Every class of the library, each once."""
        return tuple(dict.fromkeys(c for f in fields(self) for c in getattr(self, f.name)))


# ## extract_features: the map that global average pooling consumes


def _patch_extract_features(fam: Families) -> None:
    @patch_to(fam.features_map)
    def extract_features(self, x: Tensor) -> Tensor:
        """Pre-pool map (B, D, h, w) of a geffnet EfficientNet/MixNet or torchvision EfficientNet/MobileNetV2."""
        return self.features(x)

    @patch_to(fam.features_then_relu)
    def extract_features(self, x: Tensor) -> Tensor:
        """Pre-pool map (B, D, h, w) of a torchvision DenseNet, with the ReLU its forward applies before pooling."""
        return F.relu(self.features(x))

    @patch_to(fam.resnet_stages)
    def extract_features(self, x: Tensor) -> Tensor:
        """Pre-pool map (B, D, h, w) of a torchvision ResNet: stem and the four stages."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


# ## get_fc (default mode): a method bound to the instance


def _patch_get_fc(fam: Families) -> None:
    @patch_to(fam.linear_at_classifier)
    def get_fc(self) -> nn.Linear:
        """The final Linear, kept as `classifier`."""
        return self.classifier

    @patch_to(fam.linear_last_in_classifier)
    def get_fc(self) -> nn.Linear:
        """The final Linear, last layer of the `classifier` Sequential (after its Dropout)."""
        return self.classifier[-1]

    @patch_to(fam.linear_at_fc)
    def get_fc(self) -> nn.Linear:
        """The final Linear, kept as `fc`."""
        return self.fc


# ## fc_layer (as_prop mode): a read-only property, read like an attribute


def _patch_fc_layer(fam: Families) -> None:
    @patch_to(fam.linear_at_classifier, as_prop=True)
    def fc_layer(self) -> nn.Linear:
        """The final Linear, kept as `classifier`."""
        return self.classifier

    @patch_to(fam.linear_last_in_classifier, as_prop=True)
    def fc_layer(self) -> nn.Linear:
        """The final Linear, last layer of the `classifier` Sequential."""
        return self.classifier[-1]

    @patch_to(fam.linear_at_fc, as_prop=True)
    def fc_layer(self) -> nn.Linear:
        """The final Linear, kept as `fc`."""
        return self.fc


# ## fc_path (cls_method mode): bound to the class, so it can only state class-level facts


def _patch_fc_path(fam: Families) -> None:
    @patch_to(fam.linear_at_classifier, cls_method=True)
    def fc_path(cls) -> str:
        """Dotted path of the final Linear inside every instance of `cls`."""
        return "classifier"

    @patch_to(fam.linear_last_in_classifier, cls_method=True)
    def fc_path(cls) -> str:
        """Dotted path of the final Linear (index 1 of `classifier`, after its Dropout)."""
        return "classifier.1"

    @patch_to(fam.linear_at_fc, cls_method=True)
    def fc_path(cls) -> str:
        """Dotted path of the final Linear inside every instance of `cls`."""
        return "fc"


# ## Applying them, once per library

_ACCESSORS = {
    "extract_features": _patch_extract_features,
    "get_fc": _patch_get_fc,
    "fc_layer": _patch_fc_layer,
    "fc_path": _patch_fc_path,
}
PATCHED: dict[str, Classes] = {name: () for name in _ACCESSORS}  # accessor -> every class that has it now
_lock = threading.Lock()


def _is_ours(attr: object) -> bool:
    """Whether a class attribute is one of this module's patches (a reload re-patches over them)."""
    func = attr.fget if isinstance(attr, property) else getattr(attr, "f", attr)
    return getattr(func, "__module__", None) == __name__


def _apply(fam: Families) -> None:
    """Install every accessor on `fam`'s classes; refuse if one overwrote an attribute not ours."""
    with _lock:
        for name, patch in _ACCESSORS.items():
            patch(fam)
            PATCHED[name] = tuple(dict.fromkeys(PATCHED[name] + fam.all))
    # fastcore stashes an attribute that a patch overwrote as `_orig_<name>`: any foreign one is a clash.
    clashes = [
        f"{c.__name__}.{name}"
        for name in _ACCESSORS
        for c in fam.all
        if f"_orig_{name}" in c.__dict__ and not _is_ours(c.__dict__[f"_orig_{name}"])
    ]
    if clashes:
        raise RuntimeError(f"@patch_to overwrote existing attributes: {', '.join(clashes)}")


def patch_torchvision() -> None:
    """Patch torchvision's backbone classes (runs when `torchvision.models` is imported; idempotent)."""
    from torchvision.models import DenseNet, EfficientNet, MobileNetV2, ResNet

    if PATCHED["get_fc"] and ResNet in PATCHED["get_fc"]:
        return
    _apply(
        Families(
            features_map=(EfficientNet, MobileNetV2),
            features_then_relu=(DenseNet,),
            resnet_stages=(ResNet,),
            linear_at_classifier=(DenseNet,),
            linear_last_in_classifier=(EfficientNet, MobileNetV2),
            linear_at_fc=(ResNet,),
        )
    )


_apply(Families(features_map=(GenEfficientNet,), linear_at_classifier=(GenEfficientNet,)))
after_import("torchvision.models", patch_torchvision)

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
    func = attr.fget if isinstance(attr, property) else getattr(attr, "f", attr)  # a class method keeps it in `.f`
    return textwrap.dedent(inspect.getsource(func))
