"""The spread over boxes: SnapMix's weights against CutMix's for the boxes of many seeds, from one result's CAMs.

A result holds both images' maps, so the weights of any other pair of boxes are box sums of those maps:
no model runs. Seed `k` draws its boxes exactly as `snapmix_pair(..., seed=k)` does, so each point is what
that seed's run would show. Box sums come from summed-area tables: a few hundred seeds take milliseconds.
"""

import io
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from snapmix_demo.pipeline import PairResult, pair_weights
from snapmix_demo.render import COLOR_A, COLOR_B
from snapmix_demo.snapmix import Box, pair_boxes

__all__ = ["SPREAD_SEEDS", "Spread", "box_spread", "spread_png"]

SPREAD_SEEDS = 300


@dataclass(frozen=True)
class Spread:
    """Per seed: the boxes' weights. `area_lambda` is CutMix's weight of A; B's is `1 - area_lambda`."""

    seeds: np.ndarray
    rho_a: np.ndarray
    rho_b: np.ndarray
    area_lambda: np.ndarray

    def to_dict(self) -> dict[str, list]:
        """JSON-safe lists, one entry per seed."""
        return {k: getattr(self, k).tolist() for k in ("seeds", "rho_a", "rho_b", "area_lambda")}


def _table(spm: np.ndarray | None) -> np.ndarray | None:
    """Summed-area table with a zero row and column in front: the sum of box (t, l, b, r) in four lookups."""
    if spm is None:
        return None
    return np.pad(spm.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))


def _mass(table: np.ndarray | None, box: Box) -> float | None:
    """The map's sum inside `box` in four lookups; None for a flat map (no table)."""
    if table is None:
        return None
    top, left, bottom, right = box
    return float(table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left])


def box_spread(res: PairResult, seeds: range = range(SPREAD_SEEDS)) -> Spread:
    """ρA, ρB and λ for the boxes each seed draws with `res.beta`, weighed on `res`'s maps as the pair weighs them.

    Both boxes are drawn for every seed, as `snapmix_pair` draws them when none is given.
    """
    frame = (res.image_a.height, res.image_a.width)
    table_a, table_b = _table(res.spm_a), _table(res.spm_b)
    out = np.empty((len(seeds), 3))
    for i, seed in enumerate(seeds):
        box_a, box_b = pair_boxes(seed, res.beta, *frame)
        weights = pair_weights(_mass(table_a, box_a), _mass(table_b, box_b), box_a, box_b, frame)
        out[i] = (weights["rho_a"], weights["rho_b"], weights["area_lambda"])
    return Spread(np.asarray(seeds), out[:, 0], out[:, 1], out[:, 2])


def spread_png(res: PairResult, spread: Spread) -> bytes:
    """The scatter as a PNG: each seed's ρA against A's area share λ, ρB against B's 1 - λ; the diagonal is CutMix."""
    fig = Figure(figsize=(5.2, 4.0), dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#94a3b8", lw=1, label="CutMix (weight = area)")
    ax.scatter(spread.area_lambda, spread.rho_a, s=9, color=COLOR_A, alpha=0.6, label=f"ρA of A: {res.label_a}")
    ax.scatter(1 - spread.area_lambda, spread.rho_b, s=9, color=COLOR_B, alpha=0.6, label=f"ρB of B: {res.label_b}")
    ax.scatter([res.area_lambda], [res.rho_a], s=70, facecolors="none", edgecolors="black", lw=1.5)
    ax.scatter(
        [1 - res.area_lambda],
        [res.rho_b],
        s=70,
        facecolors="none",
        edgecolors="black",
        lw=1.5,
        label=f"seed {res.seed} (on screen)",
    )
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="CutMix: share of the area", ylabel="SnapMix: share of the CAM")
    ax.set_title(f"{len(spread.seeds)} seeds, beta {res.beta:g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
