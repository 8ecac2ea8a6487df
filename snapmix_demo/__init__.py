"""SnapMix explorer: class activation maps and SnapMix for any backbone, through fastcore's `@patch_to`."""

from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.imageio import ImageError, load_image
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.pipeline import PairResult, snapmix_pair
from snapmix_demo.snapmix import normalise, snapmix_batch, snapmix_loss
from snapmix_demo.weights import available_weights, load_backbone

__all__ = [
    "BACKBONES",
    "PATCH_MODES",
    "ImageError",
    "PairResult",
    "available_weights",
    "get_spec",
    "load_backbone",
    "load_image",
    "normalise",
    "snapmix_batch",
    "snapmix_loss",
    "snapmix_pair",
]
