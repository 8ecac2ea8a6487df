"""SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained Data.

Huang, Wang, Tao, AAAI 2021, https://arxiv.org/abs/2012.04846. A box cut from image B
is pasted into a box of image A, and the two label weights are the shares of each
image's class activation map that the boxes keep, instead of CutMix's box area.

Conventions: images are (C, H, W), `y` indexes rows (dim -2) and `x` columns (dim -1);
a box is (top, left, bottom, right) in pixels, half-open, in the model-input frame.
Randomness comes only from generators passed in by the caller.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snapmix_demo.distributed import patched_module
from snapmix_demo.inputs import beta_value, prob_value

__all__ = [
    "BatchMix",
    "Box",
    "area_lambda",
    "batch_spms",
    "box_area",
    "box_mass",
    "class_cams",
    "eval_mode",
    "mix_batch",
    "paste",
    "rand_box",
    "sample_lam",
    "semantic_percent_maps",
    "snapmix_batch",
    "snapmix_loss",
    "unmixed",
    "upsample",
]

Box = tuple[int, int, int, int]  # (top, left, bottom, right), half-open
# A map whose mean excess over its minimum is below this fraction of its magnitude is constant: degenerate.
DEGENERATE_RTOL = 1e-6


# ## 1. Semantic percent maps


def class_cams(feats: Tensor, weight: Tensor, bias: Tensor | None, classes: Tensor) -> Tensor:
    """CAMs (B, h, w) of `classes` (B,) from features (B, D, h, w) and the Linear's rows, bias included."""
    cams = torch.einsum("bdhw,bd->bhw", feats.float(), weight[classes].float())
    return cams if bias is None else cams + bias[classes].float()[:, None, None]


def upsample(cams: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear float32 upsampling of (B, h, w) maps to (B, H, W), `align_corners=False`."""
    return F.interpolate(cams.float()[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def semantic_percent_maps(cams: Tensor) -> tuple[Tensor, Tensor]:
    """SPMs (B, H, W), each >= 0 and summing to 1, and a (B,) mask of degenerate (constant or non-finite) maps.

    A degenerate map is flagged, not patched with an epsilon: its SPM is all zeros and callers fall back to area.
    """
    flat = cams.flatten(1)
    excess = flat - flat.amin(dim=1, keepdim=True)
    total = excess.sum(dim=1)
    scale = flat.abs().amax(dim=1) * flat.shape[1]
    degenerate = ~torch.isfinite(total) | (total <= DEGENERATE_RTOL * scale)
    safe_total = torch.where(degenerate, torch.ones_like(total), total)
    spm = torch.where(degenerate[:, None], torch.zeros_like(excess), excess / safe_total[:, None])
    return spm.view_as(cams), degenerate


# ## 2. Boxes


def sample_lam(beta: float, rng: np.random.Generator) -> float:
    """Mixing ratio lam ~ Beta(beta, beta); `beta` must be a positive finite number."""
    beta = beta_value(beta)
    return float(rng.beta(beta, beta))


def rand_box(height: int, width: int, lam: float, rng: np.random.Generator) -> Box:
    """Box of side ratio sqrt(1 - lam) around a uniform centre, clipped to the (height, width) frame."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(top), int(left), int(bottom), int(right)


def box_area(box: Box) -> int:
    """Pixels inside a half-open (top, left, bottom, right) box (0 if empty)."""
    top, left, bottom, right = box
    return max(bottom - top, 0) * max(right - left, 0)


def area_lambda(box_a: Box, height: int, width: int) -> float:
    """CutMix's weight of image A: the share of its area outside box A."""
    return 1.0 - box_area(box_a) / (height * width)


def box_mass(spm: Tensor | np.ndarray, box: Box) -> Tensor | np.ndarray:
    """Sum of map(s) (..., H, W) inside `box`: the semantic share the box holds."""
    top, left, bottom, right = box
    return spm[..., top:bottom, left:right].sum((-2, -1))


def paste(a: Tensor, b: Tensor, box_a: Box, box_b: Box) -> Tensor:
    """Copy of `a` (..., C, H, W) with box A replaced by `b`'s box-B crop, resized bilinearly to box A."""
    at, al, ab, ar = box_a
    bt, bl, bb, br = box_b
    patch = b[..., bt:bb, bl:br]
    if patch.shape[-2:] != (ab - at, ar - al):
        lead = patch.shape[:-3]
        patch = F.interpolate(
            patch.reshape(-1, *patch.shape[-3:]).float(), size=(ab - at, ar - al), mode="bilinear", align_corners=False
        )
        patch = patch.reshape(*lead, *patch.shape[-3:]).to(a.dtype)
    mixed = a.clone()
    mixed[..., at:ab, al:ar] = patch
    return mixed


# ## 4. A batch, for training


@dataclass(frozen=True, eq=False)
class BatchMix:
    """Mixed inputs, partner labels and the two per-sample label weights, with how they came about.

    Iterates as the 4-tuple `(x, y_b, rho_a, rho_b)` that `snapmix_batch` has always returned, so
    `x, y_b, rho_a, rho_b = snapmix_batch(...)` keeps working; the other fields are read by name.
    """

    x: Tensor  # (N, C, H, W)
    y_b: Tensor  # (N,) labels of the pasted partners
    rho_a: Tensor  # (N,) weight of each sample's own label y
    rho_b: Tensor  # (N,) weight of y_b
    fallback_a: Tensor  # (N,) bool: the sample's own CAM was degenerate, so rho_a is the area share
    fallback_b: Tensor  # (N,) bool: the partner's CAM was degenerate, so rho_b is 1 - the area share
    box_a: Box | None = None  # where the patches landed; None when nothing was mixed
    box_b: Box | None = None  # where they were cut from
    perm: Tensor | None = None  # (N,) partner of each sample; None when nothing was mixed

    def __iter__(self):
        return iter((self.x, self.y_b, self.rho_a, self.rho_b))

    @property
    def mixed(self) -> bool:
        """Whether partners' patches were pasted (False: the probability gate or an empty box said no)."""
        return self.perm is not None


def unmixed(x: Tensor, y: Tensor) -> BatchMix:
    """The batch as it is: own labels with weight 1, no partner, no fallback."""
    no = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    return BatchMix(x, y, x.new_ones(len(x)), x.new_zeros(len(x)), no, no)


@contextmanager
def eval_mode(model: nn.Module):
    """Temporarily put `model` in eval mode (BatchNorm uses its running statistics), restoring it even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def batch_spms(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """SPMs (N, H, W) of each sample's labelled class, in one eval-mode pass, with the degeneracy mask."""
    model = patched_module(model)
    with eval_mode(model):
        feats = model.extract_features(x)
        fc = model.get_fc()
        cams = class_cams(feats, fc.weight, fc.bias, y)
    return semantic_percent_maps(upsample(cams, x.shape[-2:]))


def mix_batch(x: Tensor, y: Tensor, model: nn.Module, *, box_a: Box, box_b: Box, perm: Tensor) -> BatchMix:
    """SnapMix `x` with its permutation `perm` (N,) at given boxes: the deterministic half of `snapmix_batch`."""
    height, width = x.shape[-2:]
    if box_area(box_a) == 0 or box_area(box_b) == 0:
        return unmixed(x, y)
    perm = perm.to(x.device)
    spm, degenerate = batch_spms(model, x, y)
    lam_area = area_lambda(box_a, height, width)
    rho_a = torch.where(degenerate, lam_area, 1.0 - box_mass(spm, box_a))
    rho_b = torch.where(degenerate[perm], 1.0 - lam_area, box_mass(spm, box_b)[perm])  # permute N masses, not maps
    top, left, bottom, right = box_b
    crops = x[..., top:bottom, left:right][perm]  # a copy of the partners' crops, cut before anything is written
    mixed = paste(x, crops, box_a, (0, 0, bottom - top, right - left))
    return BatchMix(
        mixed, y[perm], rho_a.to(x.dtype), rho_b.to(x.dtype), degenerate, degenerate[perm], box_a, box_b, perm
    )


def snapmix_batch(
    x: Tensor, y: Tensor, model: nn.Module, *, beta: float = 5.0, prob: float = 1.0, generator: torch.Generator
) -> BatchMix:
    """SnapMix a training batch against a permutation of itself.

    CAMs are computed for each sample's labelled class in eval mode without gradients, one
    box pair is drawn for the whole batch, and the patch is cut from the partners before
    anything is written. When a sample and its partner share a label the two weights add
    up in `snapmix_loss` to `rho_a + rho_b` for that class (the official code counts it twice).

    Args:
        x: images (N, C, H, W), normalised as the model expects.
        y: integer labels (N,).
        model: a patched backbone (`extract_features`, `get_fc`), bare or wrapped in DDP, DataParallel or
            torch.compile (`snapmix_demo.distributed.patched_module`); its train/eval mode is restored.
        beta: Beta(beta, beta) parameter of the box sizes (> 0; the paper uses 5).
        prob: probability of mixing this batch at all.
        generator: the only source of randomness (a CPU or device `torch.Generator`).

    Returns:
        `BatchMix`, which unpacks as `(x, y_b, rho_a, rho_b)` and also says which CAMs fell back to area
        (`fallback_a`, `fallback_b`), the boxes and the permutation; without mixing: `x` unchanged, `y`,
        ones, zeros, no fallback, `mixed == False`.

    Example:
        >>> mix = snapmix_batch(x, y, model, beta=5.0, prob=0.5, generator=torch.Generator().manual_seed(0))
        >>> loss = snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)
    """
    prob = prob_value(prob)
    n, height, width = x.shape[0], x.shape[-2], x.shape[-1]
    if torch.rand((), generator=generator, device=generator.device).item() >= prob:
        return unmixed(x, y)
    rng = np.random.default_rng(int(torch.randint(2**62, (), generator=generator, device=generator.device)))
    box_a = rand_box(height, width, sample_lam(beta, rng), rng)
    box_b = rand_box(height, width, sample_lam(beta, rng), rng)
    perm = torch.randperm(n, generator=generator, device=generator.device)
    return mix_batch(x, y, model, box_a=box_a, box_b=box_b, perm=perm)


def snapmix_loss(logits: Tensor, y_a: Tensor, y_b: Tensor, rho_a: Tensor, rho_b: Tensor) -> Tensor:
    """mean(rho_a * CE(logits, y_a) + rho_b * CE(logits, y_b)), never renormalising the weights."""
    ce_a = F.cross_entropy(logits, y_a, reduction="none")
    ce_b = F.cross_entropy(logits, y_b, reduction="none")
    return (rho_a * ce_a + rho_b * ce_b).mean()
