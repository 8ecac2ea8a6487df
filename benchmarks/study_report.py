"""Tables and plots of the small-data study (`benchmarks/study.py`) from its record, `runs.jsonl`.

Prints, per method, the held-out accuracy (mean ± sd over seeds), the final training accuracy and the label
error during training against the part's true share; the paired differences (same seed: same training
images, data order and head) of SnapMix vs CutMix and of each method vs none, with a 95 % t-interval; and
the held-out set's own sampling error. Writes the plots `study_accuracy.png`, `study_curves.png` and
`study_label_error.png` into `--docs`.

Usage (the README's figures and docs/ plots):
    python benchmarks/study_report.py --docs docs
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse
import math
import statistics
from collections.abc import Sequence

import numpy as np
from scipy import stats
from study import DEFAULT_OUT, METHODS, load

COMPARISONS = (("snapmix", "cutmix"), *((m, "none") for m in METHODS if m != "none"))


def by_method(runs: list[dict]) -> dict[str, dict[int, dict]]:
    """{method: {seed: run}} in `METHODS` order, for the methods that have runs."""
    out = {m: {r["seed"]: r for r in runs if r["method"] == m} for m in METHODS}
    return {m: seeds for m, seeds in out.items() if seeds}


def _mean_sd(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values) * scale:.{digits}f} ± {sd * scale:.{digits}f}"


def summary(runs: list[dict]) -> str:
    """Markdown table: per method, mean ± sd over seeds."""
    lines = [
        "| method | seeds | held-out accuracy (%) | train accuracy (%) | label MAE in training | CPU-min per run |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for method, seeds in by_method(runs).items():
        rs = list(seeds.values())
        mae = [r["label_mae"] for r in rs if r["label_mae"] is not None]
        lines.append(
            f"| {method} | {len(rs)} | {_mean_sd([r['accuracy'] for r in rs], 100)} "
            f"| {_mean_sd([r['train_acc'] for r in rs], 100)} | {_mean_sd(mae, digits=3)} "
            f"| {statistics.fmean(r['cpu_minutes'] for r in rs):.1f} |"
        )
    return "\n".join(lines)


def correct_bits(run: dict) -> np.ndarray:
    """The run's right/wrong per held-out image (bool)."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(run["correct"]), dtype=np.uint8))
    return bits[: run["config"]["test_images"]].astype(bool)


def paired_difference(runs: list[dict], a: str, b: str) -> dict | None:
    """Accuracy of `a` minus `b` (points) on the seeds both have: mean, 95 % t-interval, wins, and the held-out
    set's own sampling error of one seed's difference (sd of the per-image difference / sqrt(n), mean over seeds)."""
    methods = by_method(runs)
    seeds = sorted(set(methods.get(a, {})) & set(methods.get(b, {})))
    if len(seeds) < 2:
        return None
    diffs = np.array([methods[a][s]["accuracy"] - methods[b][s]["accuracy"] for s in seeds]) * 100
    half = stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs))
    per_image = [correct_bits(methods[a][s]).astype(float) - correct_bits(methods[b][s]) for s in seeds]
    test_se = statistics.fmean(d.std(ddof=1) / math.sqrt(len(d)) for d in per_image) * 100
    return {
        "a": a,
        "b": b,
        "seeds": len(seeds),
        "mean": float(diffs.mean()),
        "low": float(diffs.mean() - half),
        "high": float(diffs.mean() + half),
        "wins": int((diffs > 0).sum()),
        "test_se": test_se,
    }


def paired(runs: list[dict]) -> str:
    """Markdown table of the paired differences (SnapMix vs CutMix, each method vs none)."""
    lines = [
        "| comparison | seeds | difference (points) | 95 % CI | wins | held-out sampling SE |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for a, b in COMPARISONS:
        d = paired_difference(runs, a, b)
        if d:
            lines.append(
                f"| {a} − {b} | {d['seeds']} | {d['mean']:+.1f} | {d['low']:+.1f} … {d['high']:+.1f} "
                f"| {d['wins']}/{d['seeds']} | {d['test_se']:.1f} |"
            )
    return "\n".join(lines)


def sampling_note(runs: list[dict]) -> str:
    """The held-out set's binomial sampling error of one run's accuracy, at the mean accuracy."""
    p, n = statistics.fmean(r["accuracy"] for r in runs), runs[0]["config"]["test_images"]
    se = math.sqrt(p * (1 - p) / n)
    return f"held-out set: {n} images; a run's accuracy of {p:.1%} carries a sampling SE of {se:.1%}"


def curves(runs: list[dict], key: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per method, the mean over seeds of curve `key` at each epoch (None points skipped)."""
    out = {}
    for method, seeds in by_method(runs).items():
        points: dict[int, list[float]] = {}
        for run in seeds.values():
            for p in run["curve"]:
                if p[key] is not None:
                    points.setdefault(p["epoch"], []).append(p[key])
        if points:
            epochs = sorted(points)
            out[method] = (epochs, [statistics.fmean(points[e]) for e in epochs])
    return out


def plot(runs: list[dict], docs: Path) -> list[Path]:
    """The three plots, small PNGs; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    docs.mkdir(parents=True, exist_ok=True)
    cfg = runs[0]["config"]
    title = f"parts task, {cfg['per_class']} images/class, {cfg['size']} px, {cfg['epochs']} epochs, Lite0 ImageNet"
    paths = [docs / f"study_{name}.png" for name in ("accuracy", "curves", "label_error")]
    _plot_accuracy(runs, title, paths[0])
    _plot_curves(runs, title, paths[1])
    _plot_label_error(runs, paths[2])
    return paths


def _colour(method: str):
    import matplotlib.pyplot as plt

    i = 2 * METHODS.index(method)  # the ten strong shades first, then the light ones
    return plt.cm.tab20(i % 20 + i // 20)


def _plot_accuracy(runs: list[dict], title: str, path: Path) -> None:
    """Left: each seed's held-out accuracy and mean ± sd per method; right: the paired differences' intervals."""
    import matplotlib.pyplot as plt

    methods = by_method(runs)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for i, (m, seeds) in enumerate(methods.items()):
        acc = [r["accuracy"] * 100 for r in seeds.values()]
        left.scatter([i] * len(acc), acc, s=14, color=_colour(m), alpha=0.7)
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        left.errorbar(i + 0.2, statistics.fmean(acc), yerr=sd, fmt="o", color="black", capsize=3)
    left.set_xticks(range(len(methods)), list(methods), rotation=40, ha="right")
    left.set_ylabel("held-out accuracy (%)")
    left.set_title("each seed (dots); mean ± sd (black)", fontsize=9)
    diffs = [d for a, b in COMPARISONS if (d := paired_difference(runs, a, b))]
    for j, d in enumerate(diffs):
        right.errorbar(d["mean"], j, xerr=[[d["mean"] - d["low"]], [d["high"] - d["mean"]]], fmt="o", capsize=3)
    right.axvline(0, color="grey", lw=0.8)
    right.set_yticks(range(len(diffs)), [f"{d['a']} − {d['b']}" for d in diffs])
    right.invert_yaxis()
    right.set_xlabel("paired difference, points (95 % t-interval)")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def _plot_curves(runs: list[dict], title: str, path: Path) -> None:
    """Train loss, clean training accuracy and held-out accuracy against epochs, mean over seeds per method."""
    import matplotlib.pyplot as plt

    cfg = runs[0]["config"]
    panels = {
        "train_loss": "train loss (mixed batches)",
        "train_acc": "accuracy on the clean training images (%)",
        "heldout_acc": f"held-out accuracy, {cfg['curve_images']} images (%)",
    }
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (key, label) in zip(axes, panels.items(), strict=True):
        scale = 1 if key == "train_loss" else 100
        for m, (epochs, values) in curves(runs, key).items():
            bold = m in ("none", "cutmix", "snapmix")
            ax.plot(epochs, [v * scale for v in values], color=_colour(m), lw=2 if bold else 1, label=m)
        ax.axvline(cfg["mix_start"], color="grey", lw=0.6, ls=":")
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{title}: learning curves, mean over seeds (mixing after the dotted line)", fontsize=10)
    _save(fig, path)


def _plot_label_error(runs: list[dict], path: Path) -> None:
    """Each mixing method's label error during training against the part's true share, mean over seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for m, (epochs, values) in curves(runs, "label_mae").items():
        ax.plot(epochs, values, color=_colour(m), lw=2 if m in ("cutmix", "snapmix") else 1, label=m, marker=".")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean |label weight − part's true share|")
    ax.set_title("label error of the mixed training batches against the part masks", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)


def report(runs: list[dict]) -> str:
    """The tables the README shows, with the held-out sampling error."""
    return f"{summary(runs)}\n\n{paired(runs)}\n\n({sampling_note(runs)}.)"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", type=Path, default=DEFAULT_OUT / "runs.jsonl")
    p.add_argument("--docs", type=Path, default=None, help="write the plots here")
    args = p.parse_args(argv)
    runs = load(args.record)
    if not runs:
        print(f"no runs in {args.record}")
        return 1
    cpu, wall = sum(r["cpu_minutes"] for r in runs), sum(r["minutes"] for r in runs)
    print(f"{len(runs)} runs, {cpu:.0f} CPU-minutes ({wall:.0f} process wall-minutes)\n\n{report(runs)}")
    if args.docs:
        for path in plot(runs, args.docs):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
