"""Box mixes whose labels weigh the class activation map's mass inside the boxes: SnapMix and a TransMix for CNNs.

- SnapMix: Huang, Wang, Tao, "SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained
  Data", AAAI 2021, https://arxiv.org/abs/2012.04846. Box A and box B drawn independently; B's box-B
  crop resized into box A; rho_a = 1 - SPM_A mass in box A, rho_b = SPM_B mass in box B (`snapmix_demo.snapmix`).
  `snapmix_official` is the same mix on maps computed as the official code computes them (CAMs of
  ReLU'd features); the caller passes those maps.
- TransMix: Chen, Wang, Wei, Yuille, Bai, "TransMix: Attend to Mix for Vision Transformers", CVPR 2022,
  https://arxiv.org/abs/2111.09833. CutMix's box; the label of B mixes the area share with the share of
  the mixed image's attention that B's patch holds, here the SPMs of the unmixed images standing in for
  the attention (A's mass outside the box, B's inside it, normalised to sum to 1), weighted
  `area_weight` to 1 - `area_weight` (0.5: their mean, as OpenMixup's TransMix does).
"""

import torch
from torch import Tensor

from snapmix_demo.boxes import Box, box_area, rand_box, sample_lam
from snapmix_demo.mixes.draws import check_batch, check_maps
from snapmix_demo.mixes.frame import (
    IDENTITY,
    MixResult,
    Placement,
    box_mask,
    described,
    mixed_result,
    unmixed_result,
)
from snapmix_demo.mixes.params import PROB, Param, beta_param
from snapmix_demo.snapmix import batch_rng, box_mass, gate, mix_at, partners

__all__ = ["snapmix", "snapmix_at", "snapmix_official", "transmix"]

SNAPMIX_PARAMS = (beta_param(5.0),)
AREA_WEIGHT = Param("area_weight", 0.5, 0.0, 1.0, "weight of the area share against the CAM share")
TRANSMIX_PARAMS = (beta_param(1.0), AREA_WEIGHT)


def snapmix_at(
    x: Tensor, y: Tensor, spm: Tensor, degenerate: Tensor, box_a: Box, box_b: Box, perm: Tensor, method: str = "snapmix"
) -> MixResult:
    """SnapMix at given boxes and partners (the core's `snapmix.mix_at`), described by its mask and placement."""
    mix = mix_at(x, y, spm, degenerate, box_a=box_a, box_b=box_b, perm=perm)
    if not mix.mixed:
        return unmixed_result(x, y, method)
    return described(mix, box_mask(box_a, *x.shape[-2:], len(x), x.device), method, Placement(src=box_b, dst=box_a))


def _snapmix(x, y, spm, degenerate, generator, prob, perm, beta, method) -> MixResult:
    """Draw as `snapmix_batch` draws (gate, seed, lam_a, box A, lam_b, box B, partners), then mix."""
    check_batch(x, y, perm)
    check_maps(x, spm, degenerate, method)
    prob, beta = PROB.check(prob), SNAPMIX_PARAMS[0].check(beta)
    height, width = x.shape[-2:]
    if not gate(prob, generator):
        return unmixed_result(x, y, method)
    rng = batch_rng(generator)
    box_a = rand_box(height, width, sample_lam(beta, rng), rng)
    box_b = rand_box(height, width, sample_lam(beta, rng), rng)
    perm = partners(len(x), generator, perm, x.device)
    return snapmix_at(x, y, spm, degenerate, box_a, box_b, perm, method)


def snapmix(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 5.0,
) -> MixResult:
    """SnapMix on SPMs (N, H, W) of each sample's label: identical to `snapmix_batch` for the same generator."""
    return _snapmix(x, y, spm, degenerate, generator, prob, perm, beta, "snapmix")


def snapmix_official(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 5.0,
) -> MixResult:
    """SnapMix on SPMs (N, H, W) from CAMs of ReLU'd features, as the official code computes its maps."""
    return _snapmix(x, y, spm, degenerate, generator, prob, perm, beta, "snapmix_official")


def transmix(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 1.0,
    area_weight: float = 0.5,
) -> MixResult:
    """TransMix for CNNs: CutMix's box; rho_b = area_weight * area + (1 - area_weight) * B's share of CAM mass."""
    check_batch(x, y, perm)
    check_maps(x, spm, degenerate, "transmix")
    prob, beta, area_weight = PROB.check(prob), TRANSMIX_PARAMS[0].check(beta), AREA_WEIGHT.check(area_weight)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "transmix")
    rng = batch_rng(generator)
    box = rand_box(height, width, sample_lam(beta, rng), rng)
    perm = partners(n, generator, perm, x.device)
    if box_area(box) == 0:
        return unmixed_result(x, y, "transmix")
    area_b = box_area(box) / (height * width)
    kept_a = torch.where(degenerate, 1.0 - area_b, 1.0 - box_mass(spm, box).double())  # A's map outside the box
    moved_b = torch.where(degenerate[perm], area_b, box_mass(spm, box).double()[perm])  # B's map inside it
    total = kept_a + moved_b
    safe = torch.where(total > 0, total, torch.ones_like(total))
    cam_b = torch.where(total > 0, moved_b / safe, area_b)  # A's mass all in the box, B's all outside: area
    rho_b = area_weight * area_b + (1.0 - area_weight) * cam_b
    mask = box_mask(box, height, width, n, x.device)
    fallback = (degenerate, degenerate[perm])
    return mixed_result(x, y, mask, IDENTITY, perm, (1.0 - rho_b, rho_b), "transmix", fallback, box_a=box, box_b=box)
