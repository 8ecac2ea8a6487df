"""Evidence that the CAMs and SnapMix weights mean something, on held-out generated shapes.

For a backbone with bundled shapes weights this measures, on seeds never used in training:
- classification accuracy;
- the CAM pointing game: the CAM's maximum lies on the object (mask dilated by 8 px);
- label fidelity over random pairs and boxes: how well `rho_b` follows the true share of
  B's object inside box B and `rho_a` the share of A's object outside box A (Spearman
  correlation and mean absolute error), beside CutMix's area weights.

Run: `python -m snapmix_demo.evaluate --images 400 --pairs 1000 --plot docs/fidelity.png`.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from snapmix_demo.backbones import BACKBONES, BackboneSpec
from snapmix_demo.shapes import HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.snapmix import (
    area_lambda,
    box_mass,
    class_cams,
    rand_box,
    sample_lam,
    semantic_percent_maps,
    upsample,
)
from snapmix_demo.weights import available_weights, cached_backbone

__all__ = ["Evaluation", "evaluate", "evaluate_model", "main", "normalise", "predict"]

POINTING_TOLERANCE_PX = 8


@dataclass(frozen=True)
class Evaluation:
    """The figures of one evaluation run."""

    backbone: str
    images: int
    pairs: int
    accuracy: float
    pointing_game: float
    spearman_rho_a: float
    spearman_rho_b: float
    spearman_cutmix_a: float
    spearman_cutmix_b: float
    mae_rho_a: float
    mae_rho_b: float
    mae_cutmix_a: float
    mae_cutmix_b: float


def normalise(images: np.ndarray, spec: BackboneSpec) -> torch.Tensor:
    """Float (N, 3, H, W) model input from uint8 (N, H, W, 3) images."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)


@torch.inference_mode()
def predict(
    model: nn.Module, x: torch.Tensor, labels: torch.Tensor, batch: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and the upsampled CAMs of the true classes, batch by batch."""
    preds, cams = [], []
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], labels[i : i + batch]
        feats = model.extract_features(xb)
        fc = model.get_fc()
        preds.append(fc(feats.mean(dim=(2, 3))).argmax(dim=1))
        cams.append(upsample(class_cams(feats, fc.weight, fc.bias, yb), xb.shape[-2:]))
    return torch.cat(preds), torch.cat(cams)


def _pointing_hits(cams: torch.Tensor, masks: np.ndarray) -> np.ndarray:
    """Whether each CAM's maximum lies within POINTING_TOLERANCE_PX of its object."""
    hits = []
    for cam, mask in zip(cams.numpy(), masks, strict=True):
        y, x = np.unravel_index(int(cam.argmax()), cam.shape)
        distance = ndimage.distance_transform_edt(~mask)
        hits.append(distance[y, x] <= POINTING_TOLERANCE_PX)
    return np.array(hits)


def _fidelity_rows(spms: np.ndarray, degenerate: np.ndarray, masks: np.ndarray, pairs: int, seed: int) -> dict:
    """SnapMix's and CutMix's weights for random pairs and boxes, beside the true object shares."""
    rng = np.random.default_rng(seed)
    n, height, width = masks.shape
    rows = []
    for _ in range(pairs):
        i, j = rng.choice(n, size=2, replace=False)
        box_a = rand_box(height, width, sample_lam(5.0, rng), rng)
        box_b = rand_box(height, width, sample_lam(5.0, rng), rng)
        lam = area_lambda(box_a, height, width)
        rho_a = lam if degenerate[i] else 1 - float(box_mass(spms[i], box_a))
        rho_b = 1 - lam if degenerate[j] else float(box_mass(spms[j], box_b))
        true_a = 1 - box_mass(masks[i], box_a) / masks[i].sum()
        true_b = box_mass(masks[j], box_b) / masks[j].sum()
        rows.append((rho_a, rho_b, lam, 1 - lam, true_a, true_b))
    names = ("rho_a", "rho_b", "cutmix_a", "cutmix_b", "true_a", "true_b")
    return dict(zip(names, np.array(rows, dtype=np.float64).T, strict=True))


def _fidelity_summary(rows: dict[str, np.ndarray]) -> dict[str, float]:
    """Spearman correlation and mean absolute error of each weight against the true share."""
    out = {}
    for side in ("a", "b"):
        truth = rows[f"true_{side}"]
        for method, key in (("rho", f"rho_{side}"), ("cutmix", f"cutmix_{side}")):
            out[f"spearman_{method}_{side}"] = float(stats.spearmanr(rows[key], truth).statistic)
            out[f"mae_{method}_{side}"] = float(np.abs(rows[key] - truth).mean())
    return out


def evaluate_model(
    model: nn.Module, spec: BackboneSpec, *, images: int = 400, pairs: int = 1000, seed: int = 0
) -> tuple[Evaluation, dict[str, np.ndarray]]:
    """Accuracy, pointing game and label fidelity of a shapes `model` on held-out seeds, and the fidelity rows."""
    height, width = spec.input_size
    start = HELDOUT_SEED_BASE + 10_000_000 * (seed + 1)  # held out; apart from the examples' seeds (1.9e9)
    imgs, masks, labels = make_arrays(range(start, start + images), (height, width))
    labels_t = torch.from_numpy(labels)
    preds, cams = predict(model.eval(), normalise(imgs, spec), labels_t)
    spms, degenerate = semantic_percent_maps(cams)
    rows = _fidelity_rows(spms.numpy(), degenerate.numpy(), masks, pairs, seed)
    evaluation = Evaluation(
        backbone=spec.name,
        images=images,
        pairs=pairs,
        accuracy=float((preds == labels_t).float().mean()),
        pointing_game=float(_pointing_hits(cams, masks).mean()),
        **_fidelity_summary(rows),
    )
    return evaluation, rows


def evaluate(backbone: str, *, images: int = 400, pairs: int = 1000, seed: int = 0) -> Evaluation:
    """`evaluate_model` on `backbone`'s bundled shapes weights, loaded (and verified) as the app loads them."""
    bb = cached_backbone(backbone, weights="shapes")
    return evaluate_model(bb.model, bb.spec, images=images, pairs=pairs, seed=seed)[0]


def scatter(rows: dict[str, np.ndarray], evaluation: Evaluation, path: Path) -> None:
    """Plot rho_b against the true share of B's object in box B, for SnapMix and for CutMix, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True, dpi=100)
    panels = (
        ("SnapMix: rho_b = CAM share in box B", rows["rho_b"], evaluation.spearman_rho_b, evaluation.mae_rho_b),
        ("CutMix: 1 - lambda = area of box A", rows["cutmix_b"], evaluation.spearman_cutmix_b, evaluation.mae_cutmix_b),
    )
    for ax, (title, weight, spearman, mae) in zip(axes, panels, strict=True):
        ax.scatter(rows["true_b"], weight, s=6, alpha=0.35, color="#ea580c", edgecolors="none")
        ax.plot([0, 1], [0, 1], color="#64748b", linewidth=1, linestyle="--")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="true share of B's object inside box B", title=title)
        ax.text(0.03, 0.92, f"Spearman {spearman:.2f}, MAE {mae:.2f}", transform=ax.transAxes)
    axes[0].set_ylabel("label weight of B")
    fig.suptitle(f"{evaluation.backbone}, held-out shapes: {evaluation.pairs} random pairs and boxes", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(results: list[Evaluation]) -> str:
    lines = [
        "| backbone | accuracy | pointing game | Spearman rho_a / CutMix | Spearman rho_b / CutMix "
        "| MAE rho_a / CutMix | MAE rho_b / CutMix |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backbone} | {r.accuracy:.1%} | {r.pointing_game:.1%} "
            f"| {r.spearman_rho_a:.3f} / {r.spearman_cutmix_a:.3f} "
            f"| {r.spearman_rho_b:.3f} / {r.spearman_cutmix_b:.3f} "
            f"| {r.mae_rho_a:.3f} / {r.mae_cutmix_a:.3f} | {r.mae_rho_b:.3f} / {r.mae_cutmix_b:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the bundled backbones as a Markdown table and JSON; optionally plot the scatter."""
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", nargs="+", default=None, help="default: every backbone with bundled shapes weights")
    p.add_argument("--images", type=int, default=400, help="held-out images (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=1000, help="random pairs and boxes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=Path, help="write the rho_b scatter of the first backbone to this PNG")
    args = p.parse_args(argv)
    names = args.backbone or [n for n in sorted(BACKBONES) if "shapes" in available_weights(n)]
    if not names:
        p.error("no bundled shapes weights: train some with `python -m snapmix_demo.train`")
    results = []
    for name in names:
        bb = cached_backbone(name, weights="shapes")
        evaluation, rows = evaluate_model(bb.model, bb.spec, images=args.images, pairs=args.pairs, seed=args.seed)
        results.append(evaluation)
        if args.plot and len(results) == 1:
            scatter(rows, evaluation, args.plot)
    print(_markdown(results))
    print(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
