"""Every mixing method's label weights against the truth, on held-out shapes.

The same seeded pairs for each method (`draw_pairs`), each method's mix applied to the two images and to their
object masks (`mixes.object_shares`, the truth), scored by mean absolute error and Spearman correlation, with a
spread over disjoint chunks of pairs (`method_rows`, `method_summary`, `evaluate_methods`). The command line is
`python -m snapmix_demo.training.evaluate --methods all`.
"""

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from snapmix_demo.mixes import MixResult, apply_mix, get_mix, object_shares
from snapmix_demo.snapmix import (
    box_mass,
    eval_mode,
    maps_from_features,
    normalise,
)
from snapmix_demo.training.fidelity import pointing_hits
from snapmix_demo.training.shapes import HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.unwrap import patched_module
from snapmix_demo.weights import cached_backbone

__all__ = [
    "MethodEvaluation",
    "MethodMaps",
    "content_share_b",
    "draw_pairs",
    "evaluate_methods",
    "method_maps",
    "method_rows",
    "method_summary",
]


CHUNKS = 5  # the spread: sd over this many disjoint chunks of pairs, each drawn from its own fifth of the images
METHOD_WEIGHTS = ("shapes", "imagenet")  # the bundled shapes model, and the ImageNet Lite0 on the same images


class MethodMaps(NamedTuple):
    """What the methods read from one model for every held-out image, from one forward."""

    logits: Tensor  # (N, K)
    classes: Tensor  # (N,) the class of every map: the true label (shapes weights) or the top-1 (ImageNet)
    cams: Tensor  # (N, H, W) linear CAMs, for the pointing game
    spms: Tensor  # (N, H, W) SPMs of the linear CAM ("cam")
    degenerate: Tensor  # (N,)
    spms_relu: Tensor  # (N, H, W) SPMs of the CAM of ReLU'd features, as the official SnapMix code ("cam_relu")
    degenerate_relu: Tensor  # (N,)
    grid: tuple[int, int]  # the feature map's (rows, columns): Attentive CutMix's grid


@torch.inference_mode()
def method_maps(model: nn.Module, x: Tensor, classes: Tensor | None = None, batch: int = 32) -> MethodMaps:
    """Both kinds of maps from one `extract_features` per batch, through `maps_from_features` (None: top-1)."""
    model = patched_module(model)
    parts, grid = [], (0, 0)
    with eval_mode(model):
        for i in range(0, len(x), batch):
            feats = model.extract_features(x[i : i + batch])
            chosen = None if classes is None else classes[i : i + batch]
            linear = maps_from_features(feats, model.get_fc(), x.shape[-2:], chosen)
            relu = maps_from_features(feats, model.get_fc(), x.shape[-2:], linear.classes, relu=True)
            parts.append(
                (linear.classes, linear.cams, linear.spms, linear.degenerate, relu.spms, relu.degenerate, linear.logits)
            )
            grid = tuple(feats.shape[-2:])
    classes_, cams, spms, degenerate, spms_relu, degenerate_relu, logits = (
        torch.cat(p) for p in zip(*parts, strict=True)
    )
    return MethodMaps(logits, classes_, cams, spms, degenerate, spms_relu, degenerate_relu, grid)


def draw_pairs(n: int, pairs: int, seed: int, chunks: int = CHUNKS) -> Iterator[tuple[int, int, int, int]]:
    """(chunk, i, j, generator seed) of each pair: pair k in chunk k % chunks, both images from that chunk's fold.

    The folds (image index modulo `chunks`) are disjoint, so the chunks' figures are independent.
    Drawn from `seed` alone: every method sees the same pairs and the same generator seeds.
    """
    chunks = max(1, min(chunks, n // 2))  # every fold must hold a pair
    rng = np.random.default_rng([seed, 23])
    folds = [np.arange(c, n, chunks) for c in range(chunks)]
    for k in range(pairs):
        chunk = k % chunks
        i, j = (int(v) for v in rng.choice(folds[chunk], size=2, replace=False))
        yield chunk, i, j, int(rng.integers(2**62))


def content_share_b(mix: MixResult, objects: Tensor) -> Tensor:
    """B's truth counted in B's own frame (N,): the share of B's object that the mix carries, whatever the resize.

    (share of the placed object that the mask lets through) x (share of B's object inside the crop). It equals
    `object_shares`'s B share where B is not resized, and, for SnapMix, `fidelity_rows`' truth: B's object in box B.
    """
    if mix.perm is None:
        return torch.zeros(len(objects), dtype=torch.float64)
    obj = objects.float()
    placed = mix.placement.place(obj[:, None], mix.perm)[:, 0].double()
    through = (mix.mask.double() * placed).sum((1, 2))
    total_placed = placed.sum((1, 2))
    kept = torch.where(total_placed > 0, through / total_placed.clamp_min(1e-12), 0.0)
    partner = obj[mix.perm].double()
    height, width = obj.shape[-2:]
    crop = mix.placement.src or (0, 0, height, width)
    return kept * box_mass(partner, crop) / partner.sum((1, 2))


def method_rows(
    name: str, maps: MethodMaps, masks: np.ndarray, pairs: int, seed: int, chunks: int = CHUNKS
) -> dict[str, np.ndarray]:
    """Method `name`'s weights and truths on the seeded pairs: a batch of 2 per pair (perm [1, 0]), so two rows.

    The object masks stand in for the images (weights and truths never read pixels; the mixed masks are what
    `object_shares` measures). Columns: rho_a, rho_b, true_a, true_b (`object_shares`), content_b, chunk.
    """
    spec = get_mix(name)
    spms, degenerate = (maps.spms_relu, maps.degenerate_relu) if spec.needs == "cam_relu" else maps[3:5]
    params = {}
    if "grid" in spec.defaults:  # the model's own grid; the paper's k = 6, unless the grid holds fewer cells
        params = {"grid": maps.grid, "top_k": min(spec.defaults["top_k"], maps.grid[0] * maps.grid[1])}
    objects = torch.as_tensor(masks).float()
    perm = torch.tensor([1, 0])
    rows = []
    for chunk, i, j, pair_seed in draw_pairs(len(masks), pairs, seed, chunks):
        idx = torch.tensor([i, j])
        generator = torch.Generator().manual_seed(pair_seed)
        mix = apply_mix(
            name, objects[idx, None], maps.classes[idx], generator=generator, perm=perm,
            spm=spms[idx], degenerate=degenerate[idx], **params,
        )  # fmt: skip
        truth = object_shares(mix, objects[idx])
        cols = (mix.rho_a, mix.rho_b, *truth, content_share_b(mix, objects[idx]))
        rows.extend(zip(*(c.double().tolist() for c in cols), (chunk, chunk), strict=True))
    names = ("rho_a", "rho_b", "true_a", "true_b", "content_b", "chunk")
    return dict(zip(names, np.array(rows, dtype=np.float64).T, strict=True))


def _scores(weight: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """MAE and Spearman of `weight` against `truth`; Spearman is NaN where the weight never varies."""
    mae = float(np.abs(weight - truth).mean())
    if np.ptp(weight) == 0 or np.ptp(truth) == 0:
        return mae, float("nan")
    return mae, float(stats.spearmanr(weight, truth).statistic)


def method_summary(rows: dict[str, np.ndarray]) -> dict[str, float]:
    """MAE and Spearman per label over all rows, and their sd over the chunks.

    The truth of B is `object_shares`' clipped at 1 (a crop enlarged into a bigger box shows more pixels of
    B's object than B had, yet no label deserves more than all of it); `content_b` is scored beside it.
    """
    truths = {"a": rows["true_a"], "b": np.minimum(rows["true_b"], 1.0), "b_content": rows["content_b"]}
    out = {}
    for key, truth in truths.items():
        weight = rows["rho_a" if key == "a" else "rho_b"]
        per_chunk = [_scores(weight[rows["chunk"] == c], truth[rows["chunk"] == c]) for c in np.unique(rows["chunk"])]
        (out[f"mae_{key}"], out[f"spearman_{key}"]) = _scores(weight, truth)
        out[f"mae_{key}_sd"], out[f"spearman_{key}_sd"] = (
            float(np.std(v, ddof=1)) for v in zip(*per_chunk, strict=True)
        )
    out["clipped_b"] = float((rows["true_b"] > 1.0).mean())
    return out


@dataclass(frozen=True)
class MethodEvaluation:
    """One method's label fidelity on one model: `<measure>_<label>` and its sd over chunks (`..._sd`)."""

    method: str
    backbone: str
    weights: str
    images: int
    pairs: int
    chunks: int
    accuracy: float | None  # shapes weights only: the labels are shapes classes
    pointing_game: float  # of the maps' class: the true label, or the ImageNet top-1
    mae_a: float
    spearman_a: float
    mae_a_sd: float
    spearman_a_sd: float
    mae_b: float
    spearman_b: float
    mae_b_sd: float
    spearman_b_sd: float
    mae_b_content: float
    spearman_b_content: float
    mae_b_content_sd: float
    spearman_b_content_sd: float
    clipped_b: float  # share of rows whose B truth exceeded 1 before clipping


def evaluate_methods(
    backbone: str, weights: str, methods: Sequence[str], *, images: int = 400, pairs: int = 1000, seed: int = 0
) -> list[MethodEvaluation]:
    """Every method in `methods` on the same held-out images and pairs, with `backbone`'s `weights`."""
    bb = cached_backbone(backbone, weights=weights)
    height, width = bb.spec.input_size
    start = HELDOUT_SEED_BASE + 10_000_000 * (seed + 1)  # the held-out images of `evaluate_model`
    imgs, masks, labels = make_arrays(range(start, start + images), (height, width))
    labels_t = torch.from_numpy(labels)
    maps = method_maps(bb.model, normalise(imgs, bb.spec), labels_t if weights == "shapes" else None)
    facts = {"backbone": backbone, "weights": weights, "images": images, "pairs": pairs, "chunks": CHUNKS}
    facts["accuracy"] = float((maps.logits.argmax(1) == labels_t).float().mean()) if weights == "shapes" else None
    facts["pointing_game"] = float(pointing_hits(maps.cams, masks).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a chunk's constant weight: its Spearman is NaN
        return [
            MethodEvaluation(method=m, **facts, **method_summary(method_rows(m, maps, masks, pairs, seed)))
            for m in methods
        ]
