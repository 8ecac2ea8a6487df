"""Evidence that the CAMs and SnapMix weights mean something, on held-out generated shapes.

For a backbone with bundled shapes weights this measures, on seeds never used in training:
- classification accuracy;
- the CAM pointing game: the CAM's maximum lies on the object (mask dilated by 8 px);
- label fidelity over random pairs (`fidelity_rows`): how well each label weight follows the true share of
  its object, for three rules on the same pairs: SnapMix (`rho_a`, `rho_b` from the CAMs at two independent
  boxes), the area of each image's own box at those boxes, and real CutMix (one box at the same place in both
  images, weights by its area), each against its own boxes' truth (Spearman correlation and mean absolute error).

Run: `python -m snapmix_demo.evaluate --images 400 --pairs 1000 --plot docs/fidelity.png`.
"""

import argparse
import json
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage, stats
from torch import Tensor, nn

from snapmix_demo.backbones import BACKBONES, BackboneSpec
from snapmix_demo.shapes import HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.snapmix import (
    Box,
    SemanticMaps,
    area_lambda,
    box_area,
    box_mass,
    label_weights,
    model_maps,
    normalise,
    rand_box,
    sample_lam,
)
from snapmix_demo.weights import available_weights, cached_backbone

__all__ = ["Evaluation", "evaluate", "evaluate_model", "fidelity_rows", "fidelity_summary", "main", "predict"]

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
    return SemanticMaps(*(torch.cat(parts) for parts in zip(*chunks, strict=True)))


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


def record(path: Path, argv: Sequence[str], results: list[Evaluation], seconds: float, cpu_seconds: float) -> None:
    """Append one JSON line to `path`: the command, the figures, and what they were measured on."""
    entry = {
        "command": shlex.join(["python", "-m", "snapmix_demo.evaluate", *argv]),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "results": [asdict(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the bundled backbones as a Markdown table and JSON; optionally plot and record it."""
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", nargs="+", default=None, help="default: every backbone with bundled shapes weights")
    p.add_argument("--images", type=int, default=400, help="held-out images (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=1000, help="random pairs and boxes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=Path, help="write the weight-of-B scatter of the first backbone to this PNG")
    p.add_argument("--record", type=Path, help="append the run as a JSON line to this file (benchmarks/results/)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    names = args.backbone or [n for n in sorted(BACKBONES) if "shapes" in available_weights(n)]
    if not names:
        p.error("no bundled shapes weights: train some with `python -m snapmix_demo.train`")
    start, cpu_start = time.perf_counter(), time.process_time()
    results = []
    for name in names:
        bb = cached_backbone(name, weights="shapes")
        evaluation, rows = evaluate_model(bb.model, bb.spec, images=args.images, pairs=args.pairs, seed=args.seed)
        results.append(evaluation)
        if args.plot and len(results) == 1:
            scatter(rows, evaluation, args.plot)
    if args.record:
        record(args.record, argv, results, time.perf_counter() - start, time.process_time() - cpu_start)
    print(markdown(results))
    print(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
