"""SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained Data.

Huang, Wang, Tao, AAAI 2021, https://arxiv.org/abs/2012.04846. A box cut from image B
is pasted into a box of image A, and the two label weights are the shares of each
image's class activation map that the boxes keep, instead of CutMix's box area.

Conventions: images are (C, H, W), `y` indexes rows (dim -2) and `x` columns (dim -1);
a box is (top, left, bottom, right) in pixels, half-open, in the model-input frame.
Randomness comes only from generators passed in by the caller.
"""

import functools
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snapmix_demo.boxes import Box, area_lambda, box_area, rand_box, sample_lam
from snapmix_demo.inputs import prob_value
from snapmix_demo.unwrap import patched_module

if TYPE_CHECKING:
    from snapmix_demo.backbones import BackboneSpec

__all__ = [
    "BatchMix",
    "SemanticMaps",
    "batch_rng",
    "box_mass",
    "class_cams",
    "eval_mode",
    "gate",
    "label_dtype",
    "label_weights",
    "maps_from_features",
    "mix_at",
    "model_maps",
    "normalise",
    "partners",
    "paste",
    "resized",
    "semantic_percent_maps",
    "snapmix_batch",
    "snapmix_loss",
    "unmixed",
    "upsample",
]

# A map whose mean excess over its minimum is below this fraction of its magnitude is constant: degenerate.
DEGENERATE_RTOL = 1e-6
Weight = TypeVar("Weight", float, Tensor)  # one label weight, or a (N,) tensor of them
Flag = bool | Tensor  # a degeneracy flag, or a (N,) bool tensor of them


# ## 0. Model input


def normalise(images: Tensor | np.ndarray, spec: "BackboneSpec") -> Tensor:
    """Float model input (N, 3, H, W): `(x / 255 - mean) / std` with the backbone's declared mean and std.

    `images` are uint8: a (N, 3, H, W) tensor, or a (N, H, W, 3) array as PIL and `shapes.make_arrays` give them.

    Example:
        >>> from snapmix_demo.backbones import get_spec
        >>> white = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
        >>> normalise(white, get_spec("tf_efficientnet_lite0")).unique().tolist()  # mean = std = 0.5
        [1.0]
        >>> normalise(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), get_spec("resnet18"))[0, :, 0, 0]
        tensor([-2.1179, -2.0357, -1.8044])
    """
    x = torch.from_numpy(images).permute(0, 3, 1, 2) if isinstance(images, np.ndarray) else images
    mean, std = _mean_std(spec.mean, spec.std)
    return x.float().div_(255).sub_(mean).div_(std)


@functools.cache
def _mean_std(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[Tensor, Tensor]:
    """Per-channel (1, 3, 1, 1) mean and std, built once per normalisation."""
    return torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)


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


class SemanticMaps(NamedTuple):
    """What one pass from the features gives, per image: logits, the class mapped, its CAM and SPM."""

    logits: Tensor  # (N, K), from the pooled features, as the model's own head computes them
    classes: Tensor  # (N,) the class of each map
    cams: Tensor  # (N, H, W) CAMs upsampled to the input, float32
    spms: Tensor  # (N, H, W) semantic percent maps (zeros where degenerate)
    degenerate: Tensor  # (N,) bool: constant or non-finite CAM, so the weights fall back to area
    grid: tuple[int, int] = (0, 0)  # (h, w) of the feature map the CAMs were upsampled from


def maps_from_features(
    feats: Tensor,
    fc: nn.Linear,
    size: tuple[int, int],
    classes: Tensor | Sequence[int | None] | None = None,
    *,
    relu: bool = False,
) -> SemanticMaps:
    """Features (N, D, h, w) -> logits, CAMs and SPMs at `size`: the one route of the app, training and evaluation.

    `classes` picks each map's class: a (N,) tensor, or a sequence whose None entries (or None for all) take
    the predicted top-1. An inference engine can feed its own features in here. `relu=True` computes the CAMs
    from ReLU'd features, as the official SnapMix code does (the logits stay the model's own); it changes
    nothing where the features cannot be negative (ReLU and ReLU6 heads).

    Example:
        >>> fc = nn.Linear(2, 3, bias=False).requires_grad_(False)
        >>> _ = nn.init.eye_(fc.weight)  # class k reads channel k; class 2 reads nothing
        >>> feats = torch.zeros(1, 2, 2, 2)
        >>> feats[0, 0, 0, 0] = 4.0  # all of channel 0's evidence sits in the top-left cell
        >>> maps = maps_from_features(feats, fc, (4, 4))  # no classes given: the predicted top-1
        >>> maps.classes.tolist(), maps.logits.tolist()  # each logit is its CAM's mean: 4 / 4 cells
        ([0], [[1.0, 0.0, 0.0]])
        >>> round(float(box_mass(maps.spms[0], (0, 0, 2, 2))), 3), maps.degenerate.tolist()
        (0.766, [False])
    """
    logits = fc(feats.mean(dim=(2, 3)))
    if classes is None or not isinstance(classes, Tensor):
        predicted = logits.argmax(dim=1).tolist()
        if classes is not None:
            predicted = [p if c is None else c for c, p in zip(classes, predicted, strict=True)]
        classes = torch.tensor(predicted, device=logits.device)
    cams = upsample(class_cams(F.relu(feats) if relu else feats, fc.weight, fc.bias, classes), size)
    return SemanticMaps(logits, classes, cams, *semantic_percent_maps(cams), grid=tuple(feats.shape[-2:]))


@torch.no_grad()
def model_maps(
    model: nn.Module, x: Tensor, classes: Tensor | Sequence[int | None] | None = None, *, relu: bool = False
) -> SemanticMaps:
    """`maps_from_features` of `model` on `x` (N, C, H, W), in eval mode without gradients (its mode restored)."""
    model = patched_module(model)
    with eval_mode(model):
        return maps_from_features(model.extract_features(x), model.get_fc(), x.shape[-2:], classes, relu=relu)


# ## 2. Weights


def box_mass(spm: Tensor | np.ndarray, box: Box) -> Tensor | np.ndarray:
    """Sum of map(s) (..., H, W) inside `box`: the semantic share the box holds."""
    top, left, bottom, right = box
    return spm[..., top:bottom, left:right].sum((-2, -1))


def label_weights(
    mass_a: Weight, mass_b: Weight, degenerate_a: Flag, degenerate_b: Flag, area_a: float
) -> tuple[Weight, Weight]:
    """SnapMix's weights: `rho_a = 1 - mass_a` (A's map kept), `rho_b = mass_b` (B's map pasted).

    `mass_a` is the share of A's SPM inside box A, `mass_b` of B's inside box B; a degenerate map falls back
    to CutMix's area weight, `area_a` (= `area_lambda(box_a, ...)`) for A and `1 - area_a` for B. Works on
    floats and on (N,) tensors alike.

    Example:
        >>> label_weights(0.3, 0.6, False, False, area_a=0.75)
        (0.7, 0.6)
        >>> label_weights(0.3, 0.6, True, True, area_a=0.75)  # both maps flat: area
        (0.75, 0.25)
    """
    if isinstance(mass_a, Tensor):
        return torch.where(degenerate_a, area_a, 1.0 - mass_a), torch.where(degenerate_b, 1.0 - area_a, mass_b)
    return (area_a if degenerate_a else 1.0 - mass_a), (1.0 - area_a if degenerate_b else mass_b)


def paste(a: Tensor, b: Tensor, box_a: Box, box_b: Box) -> Tensor:
    """Copy of `a` (..., C, H, W) with box A replaced by `b`'s box-B crop, resized bilinearly to box A."""
    at, al, ab, ar = box_a
    bt, bl, bb, br = box_b
    mixed = a.clone()
    mixed[..., at:ab, al:ar] = resized(b[..., bt:bb, bl:br], (ab - at, ar - al), a.dtype)
    return mixed


def resized(patch: Tensor, size: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """`patch` (..., C, h, w) resized bilinearly to `size` in `dtype`; as it is when it has that size already."""
    if patch.shape[-2:] == size:
        return patch
    lead = patch.shape[:-3]
    flat = F.interpolate(patch.reshape(-1, *patch.shape[-3:]).float(), size=size, mode="bilinear", align_corners=False)
    flat = flat if dtype.is_floating_point else flat.round()  # integers round, never truncate
    return flat.reshape(*lead, *flat.shape[-3:]).to(dtype)


# ## 4. A batch, for training


@dataclass(frozen=True, eq=False)
class BatchMix:
    """Mixed inputs, partner labels and the two per-sample label weights, with how they came about.

    Unpacks, indexes and slices as the 4-tuple `(x, y_b, rho_a, rho_b)` that `snapmix_batch` has always
    returned, so `x, y_b, rho_a, rho_b = snapmix_batch(...)` and `snapmix_batch(...)[0]` keep working; the
    other fields are read by name.
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

    def _as_tuple(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.x, self.y_b, self.rho_a, self.rho_b

    def __iter__(self):
        return iter(self._as_tuple())

    def __getitem__(self, index: int | slice):
        """`mix[0]`, `mix[:4]`, `mix[-1]`: the 4-tuple's items, as code written against the tuple indexes them."""
        return self._as_tuple()[index]

    def __len__(self) -> int:
        return 4

    @property
    def mixed(self) -> bool:
        """Whether partners' patches were pasted (False: the probability gate or an empty box said no)."""
        return self.perm is not None


def label_dtype(x: Tensor) -> torch.dtype:
    """Float type of the label weights: the images' own, or float32 for integer (uint8) images."""
    return x.dtype if x.is_floating_point() else torch.float32


def unmixed(x: Tensor, y: Tensor) -> BatchMix:
    """The batch as it is: own labels with weight 1, no partner, no fallback."""
    no = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    ones = torch.ones(len(x), dtype=label_dtype(x), device=x.device)
    return BatchMix(x, y, ones, torch.zeros_like(ones), no, no)


# Every batch mix draws in this order from the caller's generator: the probability gate, one 62-bit seed of a
# numpy generator for the batch's ratios and boxes (numpy on the CPU: the same shapes on any device), then the
# partners. `snapmix_demo.mixes` draws every method this way, so its SnapMix is this one, bit for bit.


def gate(prob: float, generator: torch.Generator) -> bool:
    """Whether to mix this batch: one uniform draw below `prob`."""
    return torch.rand((), generator=generator, device=generator.device).item() < prob


def batch_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from `generator`: the batch's ratios, boxes and masks come from it."""
    return np.random.default_rng(int(torch.randint(2**62, (), generator=generator, device=generator.device)))


def partners(
    n: int, generator: torch.Generator, perm: Tensor | None = None, device: torch.device | None = None
) -> Tensor:
    """The partner of each sample (N,): `perm` as given, else a permutation drawn from `generator`."""
    if perm is None:
        perm = torch.randperm(n, generator=generator, device=generator.device)
    return perm.to(device or generator.device)


@contextmanager
def eval_mode(model: nn.Module):
    """Temporarily put `model` in eval mode (BatchNorm uses its running statistics), restoring it even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def mix_at(x: Tensor, y: Tensor, spm: Tensor, degenerate: Tensor, *, box_a: Box, box_b: Box, perm: Tensor) -> BatchMix:
    """SnapMix `x` with partners `perm` (N,) at given boxes, weighed by the SPMs (N, H, W) of each sample's label.

    The deterministic half of `snapmix_batch`: the patches are cut from the partners before anything is written.
    """
    height, width = x.shape[-2:]
    if box_area(box_a) == 0 or box_area(box_b) == 0:
        return unmixed(x, y)
    perm = perm.to(x.device)
    mass_b = box_mass(spm, box_b)[perm]  # permute N masses, not maps
    rho_a, rho_b = label_weights(
        box_mass(spm, box_a), mass_b, degenerate, degenerate[perm], area_lambda(box_a, height, width)
    )
    top, left, bottom, right = box_b
    crops = x[..., top:bottom, left:right][perm]  # a copy of the partners' crops, cut before anything is written
    mixed = paste(x, crops, box_a, (0, 0, bottom - top, right - left))
    dtype = label_dtype(x)
    return BatchMix(mixed, y[perm], rho_a.to(dtype), rho_b.to(dtype), degenerate, degenerate[perm], box_a, box_b, perm)


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
            torch.compile (`snapmix_demo.unwrap.patched_module`); its train/eval mode is restored.
        beta: Beta(beta, beta) parameter of the box sizes (> 0; the paper uses 5).
        prob: probability of mixing this batch at all.
        generator: the only source of randomness (a CPU or device `torch.Generator`).

    Returns:
        `BatchMix`, which unpacks as `(x, y_b, rho_a, rho_b)` and also says which CAMs fell back to area
        (`fallback_a`, `fallback_b`), the boxes and the permutation; without mixing: `x` unchanged, `y`,
        ones, zeros, no fallback, `mixed == False`.

    Example:
        >>> from snapmix_demo import load_backbone
        >>> model = load_backbone("resnet18", weights="random").train()
        >>> x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
        >>> mix = snapmix_batch(x, y, model, beta=5.0, prob=1.0, generator=torch.Generator().manual_seed(0))
        >>> loss = snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)
        >>> mix.mixed, model.training, mix.x.shape == x.shape, loss.requires_grad
        (True, True, True, True)
    """
    prob = prob_value(prob)
    height, width = x.shape[-2:]
    if not gate(prob, generator):
        return unmixed(x, y)
    rng = batch_rng(generator)
    box_a = rand_box(height, width, sample_lam(beta, rng), rng)
    box_b = rand_box(height, width, sample_lam(beta, rng), rng)
    perm = partners(len(x), generator)
    maps = model_maps(model, x, y)
    return mix_at(x, y, maps.spms, maps.degenerate, box_a=box_a, box_b=box_b, perm=perm)


def snapmix_loss(logits: Tensor, y_a: Tensor, y_b: Tensor, rho_a: Tensor, rho_b: Tensor) -> Tensor:
    """mean(rho_a * CE(logits, y_a) + rho_b * CE(logits, y_b)), never renormalising the weights."""
    ce_a = F.cross_entropy(logits, y_a, reduction="none")
    ce_b = F.cross_entropy(logits, y_b, reduction="none")
    return (rho_a * ce_a + rho_b * ce_b).mean()
