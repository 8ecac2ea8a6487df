"""Mixing methods beside SnapMix: a registry of declared facts and one pure, batched, seeded function each.

Every method describes its mix as a mask of the output (B's share per pixel) plus where B's pixels
come from (`frame.Placement`), so the mixed image (`mix_images`), the area weight (`area_share`) and
the ground truth on object masks (`object_shares`) are one function each, for every method.

`mix_batch(x, y, model, method=...)` runs any of them on a training batch (the model's maps computed
only for the methods that read them); `apply_mix` runs one on maps the caller already has.

Example:
    >>> import torch
    >>> x, y = torch.rand(2, 3, 8, 8), torch.tensor([0, 1])
    >>> objects = torch.zeros(2, 8, 8)
    >>> objects[:, 2:6, 2:6] = 1  # each image's object: the central 4 x 4 square
    >>> mix = apply_mix("cutmix", x, y, generator=torch.Generator().manual_seed(3))
    >>> x_mixed, y_b, rho_a, rho_b = mix  # CutMix's label weights: the box's area
    >>> share_a, share_b = object_shares(mix, objects)  # the truth: each object's surviving share
    >>> get_mix("cutmix").paper.cite, mix.box_a, round(float(rho_a[0]), 3), round(float(rho_b[0]), 3)
    ('Yun et al., ICCV 2019', (0, 2, 3, 8), 0.719, 0.281)
    >>> float(share_a[0]), float(share_b[0])  # the box holds a quarter of each object, 28 % of the image
    (0.75, 0.25)
"""

from snapmix_demo.mixes.area import cutmix, fmix, mixup, resizemix
from snapmix_demo.mixes.batch import mix_batch
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
    "mix_batch",
    "mix_images",
    "mixup",
    "object_shares",
    "resizemix",
    "saliencymix",
    "snapmix",
    "snapmix_official",
    "transmix",
]
