"""Seeded tiny batches for the mixing tests: images, labels and sum-to-one saliency maps, no model needed."""

import torch


def batch(n: int = 4, size: tuple[int, int] = (12, 18), seed: int = 0, dtype=torch.float32):
    """Images (n, 3, H, W), labels (n,), SPMs (n, H, W) that sum to 1 and an all-False degeneracy flag."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, *size, generator=g)
    if dtype == torch.uint8:
        x = torch.randint(0, 256, (n, 3, *size), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    raw = torch.rand(n, *size, generator=g) ** 4  # peaked, non-negative
    spm = raw / raw.sum(dim=(1, 2), keepdim=True)
    return x, y, spm, torch.zeros(n, dtype=torch.bool)


def gen(seed: int) -> torch.Generator:
    """A fresh CPU generator."""
    return torch.Generator().manual_seed(seed)
