"""The kinds of weights, which of them a backbone has on this machine, and the classes each predicts.

Answered without building a model: the app and the command line ask on every choice. The project's
own shapes weights live in `BUNDLED_DIR`, listed (file, sha256, classes) in its `manifest.json`.
"""

import json
from pathlib import Path

from snapmix_demo.backbones import BackboneSpec, spec_of
from snapmix_demo.weights.imagenet import imagenet_status

__all__ = ["BUNDLED_DIR", "WEIGHT_CHOICES", "available_weights", "bundled_entry", "weights_classes"]

BUNDLED_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "weights"
WEIGHT_CHOICES = ("auto", "imagenet", "shapes", "random")


def _bundled_manifest() -> dict[str, dict]:
    path = BUNDLED_DIR / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def bundled_entry(spec: BackboneSpec) -> dict | None:
    """`spec`'s entry in the bundled shapes weights' manifest (`file`, `sha256`, `classes`), or None."""
    return _bundled_manifest().get(spec.name)


def available_weights(backbone: str | BackboneSpec) -> list[str]:
    """Weight kinds usable for `backbone` (a name or its spec) without the network, best first."""
    spec = spec_of(backbone)
    kinds = ["imagenet"] if imagenet_status(spec) != "download" else []
    if bundled_entry(spec) is not None:
        kinds.append("shapes")
    return [*kinds, "random"]


def weights_classes(backbone: str | BackboneSpec, kind: str) -> tuple[str, ...]:
    """Class names that `backbone` predicts with weights `kind`, without building the model."""
    spec = spec_of(backbone)
    if kind == "shapes" and (entry := bundled_entry(spec)):
        return tuple(entry["classes"])
    return spec.classes
