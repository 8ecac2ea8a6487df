"""SnapMix explorer: class activation maps and SnapMix for any backbone, through fastcore's `@patch_to`."""

from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.imageio import ImageError, load_image
from snapmix_demo.lab import MixComparison, MixPair, compare_mixes, mix_pair
from snapmix_demo.mixes import MIXES, get_mix, mix_batch
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.pipeline import snapmix_pair
from snapmix_demo.results import PairResult, Side
from snapmix_demo.snapmix import normalise, snapmix_batch, snapmix_loss
from snapmix_demo.weights import available_weights, load_backbone

__all__ = [
    "BACKBONES",
    "MIXES",
    "PATCH_MODES",
    "ImageError",
    "MixComparison",
    "MixPair",
    "PairResult",
    "Side",
    "available_weights",
    "compare_mixes",
    "get_mix",
    "get_spec",
    "load_backbone",
    "load_image",
    "mix_batch",
    "mix_pair",
    "normalise",
    "snapmix_batch",
    "snapmix_loss",
    "snapmix_pair",
]
