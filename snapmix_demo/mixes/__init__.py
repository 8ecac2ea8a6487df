"""Mixing methods beside SnapMix: a registry of declared facts and one pure, batched, seeded function each.

Every method describes its mix as a mask of the output (B's share per pixel) plus where B's pixels
come from (`frame.Placement`), so the mixed image (`mix_images`), the area weight (`area_share`) and
the ground truth on object masks (`object_shares`) are one function each, for every method.

Example:
    >>> spec = get_mix("cutmix")
    >>> mix = apply_mix("cutmix", x, y, generator=torch.Generator().manual_seed(0))
    >>> x_mixed, y_b, rho_a, rho_b = mix
    >>> share_a, share_b = object_shares(mix, objects)
"""

from snapmix_demo.mixes.area import cutmix, fmix, mixup, resizemix
from snapmix_demo.mixes.frame import IDENTITY, MixResult, Placement, area_share, mix_images
from snapmix_demo.mixes.params import Param
from snapmix_demo.mixes.registry import MIXES, MixSpec, Paper, apply_mix, get_mix
from snapmix_demo.mixes.saliency import attentive_cutmix, guidedmixup, saliencymix
from snapmix_demo.mixes.semantic import snapmix, snapmix_official, transmix
from snapmix_demo.mixes.truth import object_shares

__all__ = [
    "IDENTITY",
    "MIXES",
    "MixResult",
    "MixSpec",
    "Paper",
    "Param",
    "Placement",
    "apply_mix",
    "area_share",
    "attentive_cutmix",
    "cutmix",
    "fmix",
    "get_mix",
    "guidedmixup",
    "mix_images",
    "mixup",
    "object_shares",
    "resizemix",
    "saliencymix",
    "snapmix",
    "snapmix_official",
    "transmix",
]
