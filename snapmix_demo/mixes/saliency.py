"""Mixes whose mask follows the partner's saliency, here each sample's class activation map (its SPM).

- Attentive CutMix: Walawalkar, Shen, Liu, Savvides, "Attentive CutMix: An Enhanced Data Augmentation
  Approach for Deep Learning Based Image Classification", ICASSP 2020, https://arxiv.org/abs/2003.13048.
  The top-k cells of B's map on the feature-map grid (7 x 7 at 224 px; the paper uses k = 6) are pasted
  at the same place; labels k / cells. The paper ranks cells by a separate pretrained extractor's map;
  here they are ranked by the mean of the model's own CAM of B's label over each cell.
- SaliencyMix: Uddin, Monira, Shin, Chung, Bae, "SaliencyMix: A Saliency Guided Data Augmentation
  Strategy for Better Regularization", ICLR 2021, https://arxiv.org/abs/2006.01791. A CutMix-sized box
  centred on the peak of B's saliency, clipped to the frame, pasted at the same place; area labels.
  The saliency is B's CAM instead of OpenCV's fine-grained saliency, and each sample's box is centred on
  its own partner's peak (the official code centres one box for the batch on the first partner's).
- GuidedMixup: Kang, Kim, "GuidedMixup: An Efficient Mixup Strategy Guided by Saliency Maps", AAAI 2023,
  https://arxiv.org/abs/2306.16612. Per pixel, B's share is s_b / (s_a + s_b) of the two sum-to-one maps
  (0.5 where both are 0); labels are the mask's mean. Partners are the permutation, not the paper's
  greedy pairing (its `random` condition).

A degenerate map (flagged by the caller) carries no saliency: Attentive CutMix then picks k random
cells, SaliencyMix a uniform random centre, GuidedMixup a flat map; the labels are then area shares,
and `fallback_b` (the partner's map) or `fallback_a` (the sample's own, GuidedMixup only) say so.
"""

import math

import torch
from torch import Tensor

from snapmix_demo.boxes import sample_lam
from snapmix_demo.errors import InputError
from snapmix_demo.mixes.draws import check_batch, check_maps
from snapmix_demo.mixes.frame import IDENTITY, MixResult, boxes_mask, mixed_result, unmixed_result
from snapmix_demo.mixes.params import PROB, Param, beta_param
from snapmix_demo.snapmix import batch_rng, gate, partners

__all__ = [
    "attentive_cutmix",
    "cell_means",
    "guided_mask",
    "guidedmixup",
    "peak_boxes",
    "saliencymix",
    "top_cells_mask",
]

TOP_K = Param("top_k", 6, 1, math.inf, "cells of the grid pasted from B", integer=True)
GRID = Param(
    "grid", (7, 7), 1, math.inf, "the feature map's (rows, columns), e.g. (7, 7) at 224 px", integer=True, pair=True
)
ATTENTIVE_PARAMS = (TOP_K, GRID)
SALIENCYMIX_PARAMS = (beta_param(1.0),)
GUIDEDMIXUP_PARAMS = ()


def _cells(size: int, parts: int, device: torch.device) -> Tensor:
    """Cell index (size,) of each row (or column) when `size` pixels are cut into `parts` near-equal cells."""
    return torch.arange(size, device=device) * parts // size


def cell_means(spm: Tensor, grid: tuple[int, int]) -> Tensor:
    """Mean (N, cells) of each map (N, H, W) over each cell of the grid, cells in row-major order."""
    height, width = spm.shape[-2:]
    rows, cols = _cells(height, grid[0], spm.device), _cells(width, grid[1], spm.device)
    in_row = (rows[None] == torch.arange(grid[0], device=spm.device)[:, None]).float()  # (gh, H)
    in_col = (cols[None] == torch.arange(grid[1], device=spm.device)[:, None]).float()  # (gw, W)
    mass = torch.einsum("gh,nhw,cw->ngc", in_row, spm.float(), in_col)
    return (mass / (in_row.sum(1)[:, None] * in_col.sum(1)[None, :])).flatten(1)


def top_cells_mask(spm: Tensor, top_k: int, grid: tuple[int, int], scores: Tensor | None = None) -> Tensor:
    """Mask (N, H, W) of the `top_k` grid cells with the highest mean of `spm` (N, H, W), or of `scores` (N, cells)."""
    n, height, width = spm.shape
    rows, cols = _cells(height, grid[0], spm.device), _cells(width, grid[1], spm.device)
    scores = cell_means(spm, grid) if scores is None else scores
    chosen = torch.zeros(n, grid[0] * grid[1], device=spm.device)
    chosen.scatter_(1, scores.topk(top_k, dim=1).indices, 1.0)
    return chosen.view(n, *grid)[:, rows][:, :, cols]


def attentive_cutmix(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    top_k: int | None = None,
    grid: tuple[int, int] = (7, 7),
) -> MixResult:
    """Attentive CutMix: B's top-k CAM cells of the grid pasted at the same place; labels k / cells.

    `top_k` None takes the paper's share of the grid, 6 of 49 cells (at least one), so smaller maps work too.
    """
    check_batch(x, y, perm)
    check_maps(x, spm, degenerate, "attentive_cutmix")
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    prob, grid = PROB.check(prob), GRID.check(grid)
    if grid[0] > height or grid[1] > width:
        raise InputError("grid", f"must have at most {height} rows and {width} columns (one pixel a cell), got {grid}")
    cells = grid[0] * grid[1]
    top_k = max(1, round(cells * TOP_K.default / 49)) if top_k is None else TOP_K.check(top_k, high=cells)
    if not gate(prob, generator):
        return unmixed_result(x, y, "attentive_cutmix")
    random_scores = torch.from_numpy(batch_rng(generator).random((n, cells))).to(x.device)
    perm = partners(n, generator, perm, x.device)
    fallback_b = degenerate[perm]
    partner_spm = spm[perm]
    scores = torch.where(fallback_b[:, None], random_scores, cell_means(partner_spm, grid).double())
    mask = top_cells_mask(partner_spm, top_k, grid, scores)
    rho_b = torch.full((n,), top_k / cells, dtype=torch.float64, device=x.device)
    rho = (1.0 - rho_b, rho_b)
    return mixed_result(x, y, mask, IDENTITY, perm, rho, "attentive_cutmix", (torch.zeros_like(fallback_b), fallback_b))


def peak_boxes(spm: Tensor, cut_h: int, cut_w: int) -> Tensor:
    """Boxes (N, 4) of cut_h x cut_w centred on each map's (N, H, W) first maximum, clipped to the frame."""
    height, width = spm.shape[-2:]
    flat = spm.flatten(1).argmax(dim=1)
    return _centred(flat // width, flat % width, cut_h, cut_w, height, width)


def _centred(cy: Tensor, cx: Tensor, cut_h: int, cut_w: int, height: int, width: int) -> Tensor:
    """Boxes (N, 4) around centres (N,), clipped as `boxes.box_around` clips one box."""
    top, bottom = (cy - cut_h // 2).clamp(0, height), (cy + cut_h // 2).clamp(0, height)
    left, right = (cx - cut_w // 2).clamp(0, width), (cx + cut_w // 2).clamp(0, width)
    return torch.stack([top, left, bottom, right], dim=1)


def saliencymix(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    beta: float = 1.0,
) -> MixResult:
    """SaliencyMix: per sample, a box centred on the peak of B's map, pasted at the same place; area labels."""
    check_batch(x, y, perm)
    check_maps(x, spm, degenerate, "saliencymix")
    prob, beta = PROB.check(prob), SALIENCYMIX_PARAMS[0].check(beta)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "saliencymix")
    rng = batch_rng(generator)
    ratio = math.sqrt(1.0 - sample_lam(beta, rng))
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    random_cy = torch.from_numpy(rng.integers(height, size=n)).to(x.device)
    random_cx = torch.from_numpy(rng.integers(width, size=n)).to(x.device)
    perm = partners(n, generator, perm, x.device)
    fallback_b = degenerate[perm]
    boxes = torch.where(
        fallback_b[:, None],
        _centred(random_cy, random_cx, cut_h, cut_w, height, width),
        peak_boxes(spm[perm], cut_h, cut_w),
    )
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    mask = boxes_mask(boxes, height, width)
    rho_b = areas.double() / (height * width)
    fallback = (torch.zeros_like(fallback_b), fallback_b)
    return mixed_result(x, y, mask, IDENTITY, perm, (1.0 - rho_b, rho_b), "saliencymix", fallback, boxes=boxes)


def guided_mask(spm_a: Tensor, spm_b: Tensor) -> Tensor:
    """B's share (N, H, W) = s_b / (s_a + s_b) of two non-negative maps; 0.5 where both are 0."""
    total = spm_a.float() + spm_b.float()
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, spm_b.float() / safe, 0.5)


def guidedmixup(
    x: Tensor,
    y: Tensor,
    *,
    spm: Tensor,
    degenerate: Tensor,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
) -> MixResult:
    """GuidedMixup: each pixel mixed by the ratio of the two maps; labels the mask's mean (a flat map if degenerate)."""
    check_batch(x, y, perm)
    check_maps(x, spm, degenerate, "guidedmixup")
    prob = PROB.check(prob)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if not gate(prob, generator):
        return unmixed_result(x, y, "guidedmixup")
    perm = partners(n, generator, perm, x.device)
    flat = torch.full_like(spm, 1.0 / (height * width), dtype=torch.float32)
    maps = torch.where(degenerate[:, None, None], flat, spm.float())
    mask = guided_mask(maps, maps[perm])
    rho_b = mask.double().mean(dim=(1, 2))
    return mixed_result(x, y, mask, IDENTITY, perm, (1.0 - rho_b, rho_b), "guidedmixup", (degenerate, degenerate[perm]))
