"""Evidence that the CAMs and SnapMix weights mean something, on held-out generated shapes.

For a backbone with bundled shapes weights this measures, on seeds never used in training:
- classification accuracy;
- the CAM pointing game: the CAM's maximum lies on the object (mask dilated by 8 px);
- label fidelity over random pairs (`fidelity_rows`): how well each label weight follows the true share of
  its object, for three rules on the same pairs: SnapMix (`rho_a`, `rho_b` from the CAMs at two independent
  boxes), the area of each image's own box at those boxes, and real CutMix (one box at the same place in both
  images, weights by its area), each against its own boxes' truth (Spearman correlation and mean absolute error).

Run: `python -m snapmix_demo.training.evaluate --images 400 --pairs 1000 --plot docs/fidelity.png`.

With `--methods all` (or names) it scores every mixing method of the registry instead (`method_rows`,
`method_summary`): the same seeded pairs for each method, each method's mix applied to the two images and to
their object masks (`mixes.object_shares`, the truth), for the bundled shapes model and the ImageNet Lite0.
Run: `python -m snapmix_demo.training.evaluate --methods all --plot docs/mixes_fidelity.png`.
"""

import argparse
import json
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage, stats
from torch import Tensor, nn

from snapmix_demo.backbones import BACKBONES, BackboneSpec
from snapmix_demo.errors import InputError
from snapmix_demo.mixes import MIXES, MixResult, apply_mix, get_mix, object_shares
from snapmix_demo.snapmix import (
    Box,
    SemanticMaps,
    area_lambda,
    box_area,
    box_mass,
    eval_mode,
    label_weights,
    maps_from_features,
    model_maps,
    normalise,
    rand_box,
    sample_lam,
)
from snapmix_demo.training.shapes import HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.unwrap import patched_module
from snapmix_demo.weights import available_weights, cached_backbone

__all__ = [
    "Evaluation",
    "MethodEvaluation",
    "MethodMaps",
    "content_share_b",
    "draw_pairs",
    "evaluate",
    "evaluate_methods",
    "evaluate_model",
    "fidelity_rows",
    "fidelity_summary",
    "main",
    "method_maps",
    "method_names",
    "method_rows",
    "method_summary",
    "methods_markdown",
    "predict",
]

POINTING_TOLERANCE_PX = 8
WEIGHT_RULES = ("rho", "area", "cutmix")  # SnapMix, the area of each image's own box, real CutMix


@dataclass(frozen=True)
class Evaluation:
    """The figures of one evaluation run: `<measure>_<rule>_<side>` for each weight rule and label."""

    backbone: str
    images: int
    pairs: int
    accuracy: float
    pointing_game: float
    spearman_rho_a: float
    spearman_rho_b: float
    spearman_area_a: float
    spearman_area_b: float
    spearman_cutmix_a: float
    spearman_cutmix_b: float
    mae_rho_a: float
    mae_rho_b: float
    mae_area_a: float
    mae_area_b: float
    mae_cutmix_a: float
    mae_cutmix_b: float


@torch.inference_mode()
def predict(model: nn.Module, x: Tensor, labels: Tensor, batch: int = 32) -> SemanticMaps:
    """`model_maps` of the true classes, batch by batch: logits (so predictions), CAMs and SPMs."""
    chunks = [model_maps(model, x[i : i + batch], labels[i : i + batch]) for i in range(0, len(x), batch)]
    tensors = (torch.cat([getattr(c, name) for c in chunks]) for name in SemanticMaps._fields if name != "grid")
    return SemanticMaps(*tensors, grid=chunks[0].grid)


def _pointing_hits(cams: torch.Tensor, masks: np.ndarray) -> np.ndarray:
    """Whether each CAM's maximum lies within POINTING_TOLERANCE_PX of its object."""
    hits = []
    for cam, mask in zip(cams.numpy(), masks, strict=True):
        y, x = np.unravel_index(int(cam.argmax()), cam.shape)
        distance = ndimage.distance_transform_edt(~mask)
        hits.append(distance[y, x] <= POINTING_TOLERANCE_PX)
    return np.array(hits)


def fidelity_rows(
    spms: Tensor | np.ndarray,
    degenerate: Tensor | np.ndarray,
    masks: Tensor | np.ndarray,
    pairs: int,
    rng: np.random.Generator,
    *,
    beta: float = 5.0,
    cutmix_beta: float = 5.0,
) -> dict[str, np.ndarray]:
    """Label weights of random pairs (A = image i, B = image j) beside the true shares of their objects.

    SnapMix and the own-box area are scored on the same two independent boxes (`beta`): A's weight against
    the share of A's object outside box A, B's against the share of B's object inside box B. CutMix gets its
    own box (`cutmix_beta`), at the same place in both images, and is scored against that box's truth: its
    weight for B, the box's area, is then a real CutMix label, not the area of an unrelated box.
    Per pair the draws are: i, j, box A, box B, the CutMix box.
    """
    n, height, width = masks.shape
    totals = masks.sum((-2, -1))
    rows = []
    for _ in range(pairs):
        i, j = (int(v) for v in rng.choice(n, size=2, replace=False))
        box_a, box_b = (rand_box(height, width, sample_lam(beta, rng), rng) for _ in range(2))
        box = rand_box(height, width, sample_lam(cutmix_beta, rng), rng)
        lam = area_lambda(box_a, height, width)
        masses = float(box_mass(spms[i], box_a)), float(box_mass(spms[j], box_b))
        rho = label_weights(*masses, bool(degenerate[i]), bool(degenerate[j]), lam)
        own_area = lam, box_area(box_b) / (height * width)
        cut = area_lambda(box, height, width)
        truth, cut_truth = (
            _true_shares(masks[i], masks[j], totals[i], totals[j], b_a, b_b)
            for b_a, b_b in ((box_a, box_b), (box, box))
        )
        rows.append((*rho, *own_area, *truth, cut, 1 - cut, *cut_truth))
    names = ("rho_a", "rho_b", "area_a", "area_b", "true_a", "true_b")
    names += ("cutmix_a", "cutmix_b", "cutmix_true_a", "cutmix_true_b")
    return dict(zip(names, np.array(rows, dtype=np.float64).T, strict=True))


def _true_shares(mask_a, mask_b, total_a, total_b, box_a: Box, box_b: Box) -> tuple[float, float]:
    """What the labels should be: the share of A's object outside box A, and of B's object inside box B."""
    return 1 - float(box_mass(mask_a, box_a) / total_a), float(box_mass(mask_b, box_b) / total_b)


def fidelity_summary(rows: dict[str, np.ndarray]) -> dict[str, float]:
    """Spearman correlation and mean absolute error of each rule's weight against its own truth, per label."""
    out = {}
    for side in ("a", "b"):
        for rule in WEIGHT_RULES:
            weight = rows[f"{rule}_{side}"]
            truth = rows[f"cutmix_true_{side}" if rule == "cutmix" else f"true_{side}"]
            out[f"spearman_{rule}_{side}"] = float(stats.spearmanr(weight, truth).statistic)
            out[f"mae_{rule}_{side}"] = float(np.abs(weight - truth).mean())
    return out


def evaluate_model(
    model: nn.Module, spec: BackboneSpec, *, images: int = 400, pairs: int = 1000, seed: int = 0
) -> tuple[Evaluation, dict[str, np.ndarray]]:
    """Accuracy, pointing game and label fidelity of a shapes `model` on held-out seeds, and the fidelity rows."""
    height, width = spec.input_size
    start = HELDOUT_SEED_BASE + 10_000_000 * (seed + 1)  # held out; apart from the examples' seeds (1.9e9)
    imgs, masks, labels = make_arrays(range(start, start + images), (height, width))
    labels_t = torch.from_numpy(labels)
    maps = predict(model.eval(), normalise(imgs, spec), labels_t)
    rows = fidelity_rows(maps.spms, maps.degenerate, masks, pairs, np.random.default_rng(seed))
    evaluation = Evaluation(
        backbone=spec.name,
        images=images,
        pairs=pairs,
        accuracy=float((maps.logits.argmax(dim=1) == labels_t).float().mean()),
        pointing_game=float(_pointing_hits(maps.cams, masks).mean()),
        **fidelity_summary(rows),
    )
    return evaluation, rows


def evaluate(backbone: str, *, images: int = 400, pairs: int = 1000, seed: int = 0) -> Evaluation:
    """`evaluate_model` on `backbone`'s bundled shapes weights, loaded (and verified) as the app loads them."""
    bb = cached_backbone(backbone, weights="shapes")
    return evaluate_model(bb.model, bb.spec, images=images, pairs=pairs, seed=seed)[0]


# ## Every mixing method against the truth


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
    facts["pointing_game"] = float(_pointing_hits(maps.cams, masks).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a chunk's constant weight: its Spearman is NaN
        return [
            MethodEvaluation(method=m, **facts, **method_summary(method_rows(m, maps, masks, pairs, seed)))
            for m in methods
        ]


def scatter(rows: dict[str, np.ndarray], evaluation: Evaluation, path: Path) -> None:
    """Plot each rule's weight of B against the true share of B's object that its box pasted, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True, dpi=100)
    panels = (
        ("SnapMix: rho_b = CAM share in box B", "rho", "true_b"),
        ("Area of box B", "area", "true_b"),
        ("CutMix: area of its one box", "cutmix", "cutmix_true_b"),
    )
    for ax, (title, rule, truth) in zip(axes, panels, strict=True):
        ax.scatter(rows[truth], rows[f"{rule}_b"], s=6, alpha=0.35, color="#ea580c", edgecolors="none")
        ax.plot([0, 1], [0, 1], color="#64748b", linewidth=1, linestyle="--")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="true share of B's object in the pasted box", title=title)
        spearman, mae = getattr(evaluation, f"spearman_{rule}_b"), getattr(evaluation, f"mae_{rule}_b")
        ax.text(0.03, 0.92, f"Spearman {spearman:.2f}, MAE {mae:.2f}", transform=ax.transAxes)
    axes[0].set_ylabel("label weight of B")
    fig.suptitle(f"{evaluation.backbone}, held-out shapes: {evaluation.pairs} random pairs", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(results: list[Evaluation]) -> str:
    """The evidence table: per backbone and label, each rule's Spearman and MAE (SnapMix / own box's area / CutMix)."""
    lines = [
        "| backbone | accuracy | pointing game | label | Spearman: SnapMix / own box's area / CutMix "
        "| MAE: SnapMix / own box's area / CutMix |",
        "|---|--:|--:|---|--:|--:|",
    ]
    for r in results:
        for side, label in (("a", "A (rho_a)"), ("b", "B (rho_b)")):
            spearman = " / ".join(f"{getattr(r, f'spearman_{rule}_{side}'):.3f}" for rule in WEIGHT_RULES)
            mae = " / ".join(f"{getattr(r, f'mae_{rule}_{side}'):.3f}" for rule in WEIGHT_RULES)
            lines.append(f"| {r.backbone} | {r.accuracy:.1%} | {r.pointing_game:.1%} | {label} | {spearman} | {mae} |")
    return "\n".join(lines)


def _cell(r: MethodEvaluation, key: str) -> str:
    """`value ± sd` of one measure, or a dash where it is undefined (a weight that never varies)."""
    value, sd = getattr(r, key), getattr(r, f"{key}_sd")
    if value is None or np.isnan(value):
        return "–"
    return f"{value:.3f} ± {sd:.3f}"


def methods_markdown(results: list[MethodEvaluation]) -> str:
    """One table per model: each method's MAE and Spearman per label (± sd over chunks), its paper and needs."""
    tables = []
    for model in dict.fromkeys((r.backbone, r.weights) for r in results):
        rows = [r for r in results if (r.backbone, r.weights) == model]
        first = rows[0]
        accuracy = "" if first.accuracy is None else f"accuracy {first.accuracy:.1%}, "
        lines = [
            f"**{model[0]}, {model[1]} weights** ({first.images} held-out images, {first.pairs} pairs; "
            f"{accuracy}pointing game {first.pointing_game:.1%})",
            "",
            "| method | paper | needs | MAE A | MAE B | Spearman A | Spearman B | MAE B, B's own frame |",
            "|---|---|---|--:|--:|--:|--:|--:|",
        ]
        for r in rows:
            spec = get_mix(r.method)
            cells = (_cell(r, k) for k in ("mae_a", "mae_b", "spearman_a", "spearman_b", "mae_b_content"))
            lines.append(f"| {r.method} | {spec.paper.cite} | {spec.needs} | {' | '.join(cells)} |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def methods_plot(results: list[MethodEvaluation], path: Path) -> None:
    """Per method, MAE of A's and B's weights (± sd over chunks), one colour per model: lower is better."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    models = list(dict.fromkeys((r.backbone, r.weights) for r in results))
    methods = list(dict.fromkeys(r.method for r in results))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(methods) + 1.6), sharey=True, dpi=100)
    colours = ("#ea580c", "#2563eb", "#16a34a")
    for ax, side in zip(axes, ("a", "b"), strict=True):
        for m, (model, colour) in enumerate(zip(models, colours, strict=False)):
            rows = {r.method: r for r in results if (r.backbone, r.weights) == model}
            ys = np.arange(len(methods)) + (m - (len(models) - 1) / 2) * 0.25
            xs = [getattr(rows[name], f"mae_{side}") for name in methods]
            err = [getattr(rows[name], f"mae_{side}_sd") for name in methods]
            ax.errorbar(xs, ys, xerr=err, fmt="o", color=colour, capsize=3, label=f"{model[0]}, {model[1]}")
        ax.set(xlabel=f"MAE of {side.upper()}'s weight against the truth (± sd over {results[0].chunks} chunks)")
        ax.set_xlim(left=-0.02)
        ax.grid(axis="x", color="#e2e8f0")
    axes[0].set_yticks(range(len(methods)), methods)
    axes[0].invert_yaxis()
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Label error of every mixing method, held-out shapes: {results[0].pairs} pairs", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _json_safe(result: Evaluation | MethodEvaluation) -> dict:
    """The figures as a dict, NaN (an undefined Spearman) as None: strict JSON."""
    return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in asdict(result).items()}


def record(
    path: Path,
    argv: Sequence[str],
    results: Sequence[Evaluation | MethodEvaluation],
    seconds: float,
    cpu_seconds: float,
) -> None:
    """Append one JSON line to `path`: the command, the figures, and what they were measured on."""
    entry = {
        "command": shlex.join(["python", "-m", "snapmix_demo.training.evaluate", *argv]),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "results": [_json_safe(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")


def method_names(values: Sequence[str]) -> list[str]:
    """The registry names `--methods` asks for: `all`, or names that `get_mix` knows (a miss raises InputError)."""
    if not values:
        raise InputError("methods", f"give at least one method, or `all`; choose from: {', '.join(sorted(MIXES))}")
    if "all" in values:
        return list(MIXES)
    return [get_mix(v).name for v in dict.fromkeys(values)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.training.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", nargs="+", default=None, help="default: every backbone with bundled shapes weights")
    p.add_argument("--images", type=int, default=400, help="held-out images (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=1000, help="random pairs and boxes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="*", help="score these mixing methods (or `all`) instead of the SnapMix table")
    p.add_argument("--weights", nargs="+", choices=METHOD_WEIGHTS, default=list(METHOD_WEIGHTS), help="with --methods")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice; 1 on a shared machine)")
    p.add_argument("--plot", type=Path, help="write the figure (the scatter of the first backbone, or every method)")
    p.add_argument("--record", type=Path, help="append the run as a JSON line to this file (benchmarks/results/)")
    return p


def _snapmix_table(args: argparse.Namespace, names: list[str]) -> list[Evaluation]:
    """The SnapMix / own box's area / CutMix evaluation of every backbone; the first one's scatter if asked."""
    results = []
    for name in names:
        bb = cached_backbone(name, weights="shapes")
        evaluation, rows = evaluate_model(bb.model, bb.spec, images=args.images, pairs=args.pairs, seed=args.seed)
        results.append(evaluation)
        if args.plot and len(results) == 1:
            scatter(rows, evaluation, args.plot)
    print(markdown(results))
    return results


def _methods_table(args: argparse.Namespace, names: list[str], methods: list[str]) -> list[MethodEvaluation]:
    """Every method on every (backbone, weights); their figure if asked."""
    results = []
    for name in names:
        for kind in args.weights:
            results += evaluate_methods(name, kind, methods, images=args.images, pairs=args.pairs, seed=args.seed)
    if args.plot:
        methods_plot(results, args.plot)
    print(methods_markdown(results))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the bundled backbones as a Markdown table and JSON; optionally plot and record it."""
    p = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    try:
        methods = None if args.methods is None else method_names(args.methods)
    except InputError as e:
        print(f"{p.prog}: error: --methods: {e.problem}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)  # the pair loop's small ops: more threads only wait on a busy machine
    names = args.backbone or [n for n in sorted(BACKBONES) if "shapes" in available_weights(n)]
    if not names:
        p.error("no bundled shapes weights: train some with `python -m snapmix_demo.training.train`")
    start, cpu_start = time.perf_counter(), time.process_time()
    results = _snapmix_table(args, names) if methods is None else _methods_table(args, names, methods)
    if args.record:
        record(args.record, argv, results, time.perf_counter() - start, time.process_time() - cpu_start)
    print(json.dumps([_json_safe(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
