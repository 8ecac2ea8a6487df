"""The evaluations' tables, plots and run records: what docs/evidence.md and benchmarks/results/ hold."""

import json
import platform
import shlex
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from snapmix_demo.mixes import get_mix
from snapmix_demo.training.fidelity import WEIGHT_RULES, Evaluation
from snapmix_demo.training.method_fidelity import MethodEvaluation

__all__ = ["json_safe", "markdown", "methods_markdown", "methods_plot", "record", "scatter"]


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


def json_safe(result: Evaluation | MethodEvaluation) -> dict:
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
        "results": [json_safe(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")
