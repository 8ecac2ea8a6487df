"""Mixes that need no saliency map, whose labels are the mixing ratio or the area that each image covers.

- Mixup: Zhang, Cisse, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018,
  https://arxiv.org/abs/1710.09412. One lam ~ Beta(beta, beta) per batch; every pixel (1 - lam) of B.
- CutMix: Yun, Han, Oh, Chun, Choe, Yoo, "CutMix: Regularization Strategy to Train Strong Classifiers
  with Localizable Features", ICCV 2019, https://arxiv.org/abs/1905.04899. One box per batch, at the
  same place in both images; labels are the areas.
- ResizeMix: Qin, Fang, Zhang, Liu, Wang, Chen, "ResizeMix: Mixing Data with Preserved Object
  Information and True Labels", 2020, https://arxiv.org/abs/2012.11101. The whole of B shrunk by a
  side ratio tau ~ U(scale_min, scale_max) into a box of A; labels are the areas. One box per batch;
  the resize is bilinear, as everywhere in this project (OpenMixup's ResizeMix uses nearest).
- FMix: Harris, Marcu, Painter, Niranjan, Prügel-Bennett, Hare, "FMix: Enhancing Mixed Sample Data
  Augmentation", 2020, https://arxiv.org/abs/2002.12047. The top pixels of a low-frequency Fourier
  image (power decaying as 1/f^decay) are B's, exactly round((1 - lam) * H * W) of them; labels are the
  mask's mean. One mask per batch, as the official code draws it (which takes the ceiling or the floor
  of the count at random, and gives the top pixels to A: the same distribution).
"""

import functools
import math

import numpy as np
import torch
from torch import Tensor

from snapmix_demo.boxes import box_area, box_around, rand_box, sample_lam
from snapmix_demo.errors import InputError
from snapmix_demo.mixes.draws import check_batch
from snapmix_demo.mixes.frame import (
    IDENTITY,
    MixResult,
    Placement,
    box_mask,
    mixed_result,
    unmixed_result,
)
from snapmix_demo.mixes.params import PROB, Param, beta_param
from snapmix_demo.snapmix import batch_rng, gate, partners

__all__ = ["cutmix", "fmix", "fmix_mask", "low_freq_image", "mixup", "resizemix"]

MIXUP_PARAMS = (beta_param(1.0),)
CUTMIX_PARAMS = (beta_param(1.0),)
SCALE_MIN = Param("scale_min", 0.1, 0.0, 1.0, "smallest side ratio of the shrunk B", above=True)
SCALE_MAX = Param("scale_max", 0.8, 0.0, 1.0, "largest side ratio of the shrunk B", above=True)
RESIZEMIX_PARAMS = (SCALE_MIN, SCALE_MAX)
DECAY = Param("decay", 3.0, 0.0, math.inf, "power of the 1/f^decay fall-off of the mask's spectrum", above=True)
FMIX_PARAMS = (beta_param(1.0), DECAY)


def _area_rho(x: Tensor, share_b: float) -> tuple[Tensor, Tensor]:
    """(rho_a, rho_b) (N,) from B's share of the output, the same for the whole batch."""
    rho_b = torch.full((len(x),), share_b, dtype=torch.float64, device=x.device)
    return 1.0 - rho_b, rho_b


def mixup(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 1.0,
) -> MixResult:
    """Mixup of a batch (N, C, H, W) with its partners: every pixel takes (1 - lam) of B; labels lam, 1 - lam."""
    check_batch(x, y, perm)
    prob, beta = PROB.check(prob), MIXUP_PARAMS[0].check(beta)
    if not gate(prob, generator):
        return unmixed_result(x, y, "mixup")
    lam = sample_lam(beta, batch_rng(generator))
    perm = partners(len(x), generator, perm, x.device)
    mask = torch.full((1, *x.shape[-2:]), 1.0 - lam, device=x.device).expand(len(x), -1, -1)
    return mixed_result(x, y, mask, IDENTITY, perm, _area_rho(x, 1.0 - lam), "mixup")


def cutmix(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 1.0,
) -> MixResult:
    """CutMix: one box for the batch, B's pixels pasted at the same place; labels the area shares."""
    check_batch(x, y, perm)
    prob, beta = PROB.check(prob), CUTMIX_PARAMS[0].check(beta)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "cutmix")
    rng = batch_rng(generator)
    box = rand_box(height, width, sample_lam(beta, rng), rng)
    perm = partners(n, generator, perm, x.device)
    if box_area(box) == 0:
        return unmixed_result(x, y, "cutmix")
    mask = box_mask(box, height, width, n, x.device)
    rho = _area_rho(x, box_area(box) / (height * width))
    return mixed_result(x, y, mask, IDENTITY, perm, rho, "cutmix", box_a=box, box_b=box)


def resizemix(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    scale_min: float = 0.1,
    scale_max: float = 0.8,
) -> MixResult:
    """ResizeMix: the whole of B resized (bilinear) into one box of side ratio tau per batch; labels the areas."""
    check_batch(x, y, perm)
    prob, scale_min, scale_max = PROB.check(prob), SCALE_MIN.check(scale_min), SCALE_MAX.check(scale_max)
    if scale_min > scale_max:
        raise InputError("scale_min", f"must not exceed `scale_max` ({scale_max:g}), got {scale_min:g}")
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "resizemix")
    rng = batch_rng(generator)
    tau = float(rng.uniform(scale_min, scale_max))
    box = box_around(
        int(rng.integers(height)), int(rng.integers(width)), int(height * tau), int(width * tau), height, width
    )
    perm = partners(n, generator, perm, x.device)
    if box_area(box) == 0:
        return unmixed_result(x, y, "resizemix")
    placement = Placement(src=(0, 0, height, width), dst=box)
    mask = box_mask(box, height, width, n, x.device)
    rho = _area_rho(x, box_area(box) / (height * width))
    return mixed_result(x, y, mask, placement, perm, rho, "resizemix", box_a=box, box_b=(0, 0, height, width))


@functools.lru_cache(maxsize=8)
def _amplitudes(height: int, width: int, decay: float) -> np.ndarray:
    """1/max(f, 1/max(H, W))^decay on the half-plane of `rfft2` frequencies (read-only: it is shared)."""
    freqs = np.sqrt(np.fft.fftfreq(height)[:, None] ** 2 + np.fft.rfftfreq(width)[None, :] ** 2)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay
    scale.setflags(write=False)
    return scale


def low_freq_image(height: int, width: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """Real image (height, width) whose Fourier amplitudes fall as 1/max(f, 1/max(H, W))^decay, random phases."""
    scale = _amplitudes(height, width, decay)
    normal = rng.standard_normal((2, *scale.shape))  # the real parts, then the imaginary ones
    spectrum = np.empty(scale.shape, dtype=np.complex128)
    np.multiply(scale, normal[0], out=spectrum.real)
    np.multiply(scale, normal[1], out=spectrum.imag)
    return np.fft.irfft2(spectrum, s=(height, width))


def fmix_mask(height: int, width: int, share_b: float, decay: float, rng: np.random.Generator) -> np.ndarray:
    """Binary mask (height, width): 1 on the round(share_b * H * W) highest pixels of a low-frequency image."""
    image = low_freq_image(height, width, decay, rng).ravel()
    count = round(share_b * height * width)
    mask = np.zeros(height * width, dtype=np.float32)
    if count > 0:  # a partial sort: the top `count` in any order is all a mask needs (a full sort took ~3 ms)
        mask[np.argpartition(image, -count)[-count:]] = 1.0
    return mask.reshape(height, width)


def fmix(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 1.0,
    decay: float = 3.0,
) -> MixResult:
    """FMix: one thresholded low-frequency mask per batch, B's share exactly its pixel count; labels its mean."""
    check_batch(x, y, perm)
    prob, beta, decay = PROB.check(prob), FMIX_PARAMS[0].check(beta), DECAY.check(decay)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "fmix")
    rng = batch_rng(generator)
    lam = sample_lam(beta, rng)
    plane = torch.from_numpy(fmix_mask(height, width, 1.0 - lam, decay, rng)).to(x.device)
    perm = partners(n, generator, perm, x.device)
    mask = plane.expand(n, height, width)
    return mixed_result(x, y, mask, IDENTITY, perm, _area_rho(x, float(plane.mean(dtype=torch.float64))), "fmix")
