"""Ground truth for label rules: the same mix applied to the images' object masks gives each object's share.

Apply a method's mask and placement (same boxes, same resize) to binary object masks instead of
pixels, and count what survives in the mixed image:

    share_a = sum((1 - mask) * m_a) / sum(m_a)
    share_b = sum(mask * place(m_b[perm])) / sum(m_b[perm])

Both count pixels in the output frame against the object's pixels in its own image, so a placement
that shrinks B (ResizeMix, SnapMix with a smaller box A) shrinks B's share with it, and one that
enlarges a crop of B can give a share above 1: the object then covers more pixels than it did. An
empty object mask has no share to keep: its share is NaN (use `torch.nanmean` over a batch).
"""

import torch
from torch import Tensor

from snapmix_demo.errors import InputError
from snapmix_demo.mixes.frame import MixResult

__all__ = ["object_shares"]


def object_shares(mix: MixResult, objects: Tensor) -> tuple[Tensor, Tensor]:
    """Each sample's object share (N,) that survives, and its partner's: the truth the label weights aim at.

    `objects` (N, H, W) are each sample's own object masks (bool or in [0, 1]); the partner's is
    `objects[mix.perm]`. Without a partner (nothing mixed) A keeps all and B gets 0.
    """
    if not isinstance(objects, Tensor) or objects.shape != mix.mask.shape:
        shape = tuple(objects.shape) if isinstance(objects, Tensor) else type(objects).__name__
        raise InputError("objects", f"must be one object mask per sample, shape {tuple(mix.mask.shape)}, got {shape}")
    obj = objects.to(device=mix.mask.device, dtype=torch.float32)
    mask = mix.mask.float()
    perm = mix.perm if mix.perm is not None else torch.arange(len(obj), device=obj.device)
    placed = mix.placement.place(obj[:, None], perm)[:, 0]
    own_a, own_b = obj.double().sum((1, 2)), obj[perm].double().sum((1, 2))
    kept_a = ((1 - mask) * obj).double().sum((1, 2))
    kept_b = (mask * placed).double().sum((1, 2))
    nan = torch.full_like(own_a, float("nan"))
    share_a = torch.where(own_a > 0, kept_a / torch.where(own_a > 0, own_a, 1.0), nan)
    share_b = torch.where(own_b > 0, kept_b / torch.where(own_b > 0, own_b, 1.0), nan)
    return share_a, share_b
