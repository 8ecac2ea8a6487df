"""Random draws shared by every mixing method, in `snapmix_batch`'s order, from the caller's generator only.

Order of draws, for every method: the probability gate (`torch.rand`), one 62-bit seed for a numpy
generator that draws the batch's scalars and boxes (Beta ratios, centres, FMix's spectrum; GuidedMixup,
which draws none, skips it), then the partner permutation (`torch.randperm`) unless the caller gives
one. Drawing the shapes with numpy on the CPU makes them the same whichever device the images are on.
SnapMix drawn this way reproduces `snapmix_demo.snapmix.snapmix_batch` bit for bit; the global RNGs
are never touched.
"""

import numpy as np
import torch
from torch import Tensor

from snapmix_demo.errors import InputError

__all__ = ["batch_rng", "check_batch", "check_maps", "gate", "partners"]


def gate(prob: float, generator: torch.Generator) -> bool:
    """Whether to mix this batch: one uniform draw below `prob`, exactly as `snapmix_batch` draws it."""
    return torch.rand((), generator=generator, device=generator.device).item() < prob


def batch_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from `generator`: the batch's ratios, boxes and masks come from it."""
    return np.random.default_rng(int(torch.randint(2**62, (), generator=generator, device=generator.device)))


def partners(n: int, generator: torch.Generator, perm: Tensor | None, device: torch.device) -> Tensor:
    """The partner of each sample (N,): `perm` as given, else a permutation drawn from `generator`."""
    if perm is None:
        perm = torch.randperm(n, generator=generator, device=generator.device)
    return perm.to(device)


def check_batch(x: Tensor, y: Tensor, perm: Tensor | None) -> None:
    """Refuse inputs of the wrong shape: images (N, C, H, W), labels (N,), partners (N,) of integers."""
    if not isinstance(x, Tensor) or x.dim() != 4 or len(x) == 0:
        raise InputError("x", f"must be a batch of images (N, C, H, W) with N >= 1, got shape {_shape(x)}")
    if not isinstance(y, Tensor) or y.shape != (len(x),):
        raise InputError("y", f"must be the batch's labels, shape ({len(x)},), got {_shape(y)}")
    if perm is not None and (not isinstance(perm, Tensor) or perm.shape != (len(x),) or perm.is_floating_point()):
        raise InputError(
            "perm", f"must be each sample's partner index, integers of shape ({len(x)},), got {_shape(perm)}"
        )


def check_maps(x: Tensor, spm: Tensor | None, degenerate: Tensor | None, method: str) -> None:
    """Refuse missing or misshapen saliency maps: SPMs (N, H, W) and a degeneracy flag (N,) of bools."""
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not isinstance(spm, Tensor) or spm.shape != (n, height, width):
        raise InputError(
            "spm",
            f"method `{method}` needs each sample's semantic percent map, shape ({n}, {height}, {width}) "
            f"(from `snapmix.batch_spms` or `semantic_percent_maps`), got {_shape(spm)}",
        )
    if not isinstance(degenerate, Tensor) or degenerate.shape != (n,) or degenerate.dtype != torch.bool:
        raise InputError(
            "degenerate", f"must flag each sample's degenerate map: bools of shape ({n},), got {_shape(degenerate)}"
        )


def _shape(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__
