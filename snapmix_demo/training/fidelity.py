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

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage, stats
from torch import Tensor, nn

from snapmix_demo.backbones import BackboneSpec
from snapmix_demo.boxes import Box, area_lambda, box_area, rand_box, sample_lam
from snapmix_demo.snapmix import SemanticMaps, box_mass, label_weights, model_maps, normalise
from snapmix_demo.training.shapes import HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.weights import cached_backbone

__all__ = ["Evaluation", "evaluate", "evaluate_model", "fidelity_rows", "fidelity_summary", "pointing_hits", "predict"]

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


def pointing_hits(cams: torch.Tensor, masks: np.ndarray) -> np.ndarray:
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
        pointing_game=float(pointing_hits(maps.cams, masks).mean()),
        **fidelity_summary(rows),
    )
    return evaluation, rows


def evaluate(backbone: str, *, images: int = 400, pairs: int = 1000, seed: int = 0) -> Evaluation:
    """`evaluate_model` on `backbone`'s bundled shapes weights, loaded (and verified) as the app loads them."""
    bb = cached_backbone(backbone, weights="shapes")
    return evaluate_model(bb.model, bb.spec, images=images, pairs=pairs, seed=seed)[0]
