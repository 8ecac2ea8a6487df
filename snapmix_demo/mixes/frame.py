"""A mix described by its mask: B's share of every output pixel, plus where B's pixels come from.

Every method in `snapmix_demo.mixes` returns a `MixResult` whose `mask` (N, H, W) in [0, 1] is the
share of the partner B at each pixel of the output, and whose `placement` maps the partner into the
output frame: as it is (Mixup, CutMix, FMix, the saliency-guided mixes), or a crop of it resized into
a box (SnapMix: B's box-B crop into box A; ResizeMix: the whole of B into the box). From those two,
one function each gives the mixed image (`mix_images`) and the area weight (`area_share`), and
`snapmix_demo.mixes.truth` gives the ground truth. Conventions are the core's (`snapmix_demo.snapmix`): boxes are
(top, left, bottom, right), half-open, rows first.
"""

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from snapmix_demo.boxes import Box
from snapmix_demo.snapmix import BatchMix, label_dtype, resized, unmixed

__all__ = [
    "IDENTITY",
    "MixResult",
    "Placement",
    "area_share",
    "box_mask",
    "boxes_mask",
    "described",
    "mix_images",
    "mixed_result",
    "unmixed_result",
]


@dataclass(frozen=True)
class Placement:
    """Where B's pixels come from: the partner as it is (`src` None), or its `src` crop resized into `dst`."""

    src: Box | None = None  # crop of the partner, in the partner's frame
    dst: Box | None = None  # where that crop lands in the output frame (bilinear, align_corners=False)

    @property
    def kind(self) -> str:
        """`identity` (same frame) or `crop_resize` (a crop of B resized into a box of the output)."""
        return "identity" if self.src is None else "crop_resize"

    def place(self, t: Tensor, perm: Tensor) -> Tensor:
        """Partners `t[perm]` (N, C, H, W) mapped into the output frame; zeros where nothing of B lands."""
        if self.src is None:
            return t[perm]
        top, left, bottom, right = self.src
        crops = t[..., top:bottom, left:right][perm]  # crop, then permute: N crops, not N whole images
        placed = torch.zeros_like(t)
        dst_top, dst_left, dst_bottom, dst_right = self.dst
        placed[..., dst_top:dst_bottom, dst_left:dst_right] = resized(
            crops, (dst_bottom - dst_top, dst_right - dst_left), t.dtype
        )
        return placed


IDENTITY = Placement()


@dataclass(frozen=True, eq=False)
class MixResult(BatchMix):
    """A `BatchMix` (unpacks as `(x, y_b, rho_a, rho_b)`) that also says how the mix was made.

    `rho_a`/`rho_b` are the method's own label weights; `mask` and `placement` describe the mix so that
    `area_share` and `snapmix_demo.mixes.truth.object_shares` can measure any method the same way.
    """

    mask: Tensor | None = None  # (N, H, W) float32 in [0, 1]: B's share of each output pixel (maybe an expanded view)
    placement: Placement = IDENTITY  # where B's pixels come from
    boxes: Tensor | None = None  # (N, 4) int64 per-sample boxes, when each sample has its own (SaliencyMix)
    method: str = ""  # the registry name of the method that made it


def described(mix: BatchMix, mask: Tensor, method: str, placement: Placement = IDENTITY) -> MixResult:
    """The core's `BatchMix` with the mask and placement that describe it."""
    core = {f.name: getattr(mix, f.name) for f in fields(BatchMix)}
    return MixResult(**core, mask=mask, placement=placement, method=method)


def unmixed_result(x: Tensor, y: Tensor, method: str) -> MixResult:
    """The batch as it is (`snapmix.unmixed`): own labels with weight 1, an all-zero mask, no partner."""
    mask = torch.zeros(1, *x.shape[-2:], device=x.device).expand(len(x), -1, -1)
    return described(unmixed(x, y), mask, method)


def mixed_result(
    x: Tensor,
    y: Tensor,
    mask: Tensor,
    placement: Placement,
    perm: Tensor,
    rho: tuple[Tensor, Tensor],
    method: str,
    fallback: tuple[Tensor, Tensor] | None = None,
    **named: object,
) -> MixResult:
    """A mix's result: images mixed by `mask` and `placement`, labels `rho` = (rho_a, rho_b) (N,) each.

    `fallback` = (fallback_a, fallback_b) (N,) bools, all False by default (a method that reads no map).
    """
    if fallback is None:
        no = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        fallback = (no, no)
    rho_a, rho_b = (r.to(label_dtype(x)) for r in rho)
    mixed = mix_images(x, mask, placement, perm)
    return MixResult(
        mixed, y[perm], rho_a, rho_b, *fallback, perm=perm, mask=mask, placement=placement, method=method, **named
    )


def box_mask(box: Box, height: int, width: int, n: int, device: torch.device | str = "cpu") -> Tensor:
    """Mask (n, height, width) that is 1 inside the half-open box and 0 outside, one box for the batch."""
    top, left, bottom, right = box
    mask = torch.zeros(height, width, device=device)
    mask[top:bottom, left:right] = 1.0
    return mask.expand(n, height, width)


def boxes_mask(boxes: Tensor, height: int, width: int) -> Tensor:
    """Mask (N, height, width) of per-sample boxes (N, 4): row and column ranges compared at once, no loop."""
    rows = torch.arange(height, device=boxes.device)
    cols = torch.arange(width, device=boxes.device)
    top, left, bottom, right = (boxes[:, i, None] for i in range(4))
    in_rows = (rows >= top) & (rows < bottom)  # (N, H)
    in_cols = (cols >= left) & (cols < right)  # (N, W)
    return (in_rows[:, :, None] & in_cols[:, None, :]).float()


def mix_images(x: Tensor, mask: Tensor, placement: Placement, perm: Tensor) -> Tensor:
    """(1 - mask) * x + mask * place(x[perm]) for images (N, C, H, W); integer images are rounded, not truncated."""
    work = x.dtype if x.is_floating_point() else torch.float32
    xw = x.to(work)
    m = mask.to(device=x.device, dtype=work)[:, None]
    # lerp is that formula in one pass, and exact where the mask is 0 (x) or 1 (B's pixel): SnapMix stays bit-exact
    mixed = torch.lerp(xw, placement.place(xw, perm), m)
    if x.is_floating_point():
        return mixed
    info = torch.iinfo(x.dtype)
    return mixed.round_().clamp_(info.min, info.max).to(x.dtype)  # in place: lerp's result is ours


def area_share(mask: Tensor) -> Tensor:
    """B's share (N,) of the output's pixels, the mask's mean: the area weight of B (A's is 1 minus it)."""
    return mask.float().mean(dim=(-2, -1))
