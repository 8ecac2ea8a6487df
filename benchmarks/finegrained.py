"""The SnapMix paper's claim, put to a test: on fine-grained data, semantic label weights beat area weights.

Task: `snapmix_demo.training.shapes`' "parts" task. Every image holds the same kind of large body, and the four
classes differ only in a small part placed anywhere on it, a star with 5, 6, 7 or 8 points (about 1 % of
the pixels), on the shapes' clutter; the masks of that part are the ground truth of where each class lives.

Fine-tunes the ImageNet `tf_efficientnet_lite0` (packaged weights, offline) with no mixing, with CutMix
(one box at the same place in both images, area labels; beta 3, as the official SnapMix code runs it)
and with SnapMix (`snapmix_batch`, beta 5): the same training images, steps, optimiser and schedule, one
run per (method, seed). Mixing starts after a warm-up (`--mix-start`), for both mixing methods alike,
because the CAMs of a freshly initialised 4-way head mean nothing.

Reports, per method, mean ± sd over seeds of:
- held-out accuracy (images from seeds never used in training);
- label fidelity during training: mean |weight - true share| of the labels the mixed batches were
  actually given, against the part masks (true share of A = part of A outside box A, of B = part of B
  inside box B);
- held-out label fidelity of SnapMix's weights computed from each final model's CAMs, beside CutMix's
  area weights, on the same random pairs (MAE and Spearman against the part masks);
- held-out label fidelity of every mixing method of the registry (`snapmix_demo.mixes`) with each final
  model's maps, scored as `python -m snapmix_demo.training.evaluate --methods all` scores it
  (`method_fidelity.method_rows`: the same seeded pairs for every method, the truth = the same mix applied to
  the part masks).

Each finished run is appended to `<out>/runs.jsonl` and skipped when the command is run again, so the
experiment can be stopped and resumed. Not part of CI (tests/test_finegrained.py runs its plumbing).

Usage (benchmarks/README.md's figures; about 32 CPU-minutes on one thread):
    nice -n 10 python benchmarks/finegrained.py --out runs/finegrained --threads 1
"""

import os
import sys
from pathlib import Path

os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/finegrained.py` from anywhere

import argparse
import json
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from snapmix_demo.backbones import get_spec
from snapmix_demo.mixes import MIXES, apply_mix, get_mix
from snapmix_demo.snapmix import BatchMix, box_mass, normalise, snapmix_batch, snapmix_loss, unmixed
from snapmix_demo.training.fidelity import fidelity_rows
from snapmix_demo.training.method_fidelity import MethodMaps, method_maps, method_rows, method_summary
from snapmix_demo.training.shapes import HELDOUT_SEED_BASE, PART_CLASSES, make_arrays
from snapmix_demo.training.train import initial_model

BACKBONE = "tf_efficientnet_lite0"
METHODS = ("none", "cutmix", "snapmix")


@dataclass(frozen=True)
class Config:
    """Everything a run depends on besides its method and seed."""

    steps: int = 200
    batch_size: int = 32
    size: int = 160
    train_images: int = 1280
    test_images: int = 1000
    pairs: int = 2000
    lr: float = 1e-3
    weight_decay: float = 0.05
    mix_start: int = 40
    prob: float = 1.0
    snapmix_beta: float = 5.0
    cutmix_beta: float = 3.0


# ## The two mixes


def true_shares(masks: Tensor, mix: BatchMix) -> tuple[Tensor, Tensor]:
    """The share of each sample's part outside box A, and of its partner's part inside box B (the ground truth)."""
    totals = masks.sum((-2, -1))
    kept = 1 - box_mass(masks, mix.box_a) / totals
    moved = (box_mass(masks, mix.box_b) / totals)[mix.perm]
    return kept, moved


def label_error(masks: Tensor, mix: BatchMix) -> Tensor:
    """Per-sample mean |weight - true share| over the two labels of a mixed batch."""
    kept, moved = true_shares(masks, mix)
    return ((mix.rho_a - kept).abs() + (mix.rho_b - moved).abs()) / 2


# ## One run


def mix(method: str, x: Tensor, y: Tensor, model: nn.Module, cfg: Config, generator: torch.Generator) -> BatchMix:
    """The batch as `method` mixes it."""
    if method == "snapmix":
        return snapmix_batch(x, y, model, beta=cfg.snapmix_beta, prob=cfg.prob, generator=generator)
    if method == "cutmix":  # the registry's CutMix: one box at the same place in A and B, area labels
        return apply_mix("cutmix", x, y, beta=cfg.cutmix_beta, prob=cfg.prob, generator=generator)
    return unmixed(x, y)


def train(method: str, seed: int, cfg: Config, data: dict[str, Tensor]) -> tuple[nn.Module, dict]:
    """Fine-tune one model; returns it with the training-time label error and fallback rate."""
    model = initial_model(BACKBONE, "imagenet", len(PART_CLASSES), seed=seed)  # a new head seeded by `seed`
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(seed)
    order = batches(seed, cfg.train_images, cfg.batch_size)
    errors, fallbacks = [], []
    for step in range(cfg.steps):
        idx = next(order)
        x, y = data["x"][idx], data["y"][idx]
        batch = mix(method if step >= cfg.mix_start else "none", x, y, model, cfg, generator)
        if batch.mixed:
            errors.append(label_error(data["masks"][idx], batch).mean().item())
            fallbacks.append(batch.fallback_a.float().mean().item())
        loss = fit_step(model, optimizer, schedule, batch, y)
        if (step + 1) % 50 == 0:
            print(f"  {method} seed {seed} step {step + 1}/{cfg.steps}: loss {loss.item():.3f}", flush=True)
    return model.eval(), {
        "train_label_mae": statistics.fmean(errors) if errors else None,
        "fallback_rate": statistics.fmean(fallbacks) if fallbacks else None,
        "final_loss": loss.item(),
    }


def fit_step(model: nn.Module, optimizer: torch.optim.Optimizer, schedule, batch: BatchMix, y: Tensor) -> Tensor:
    """One optimiser step on a (mixed) batch with its two weighted labels; returns the loss."""
    loss = snapmix_loss(model(batch.x), y, batch.y_b, batch.rho_a, batch.rho_b)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    return loss


def batches(seed: int, images: int, batch_size: int):
    """Indices of the training batches: a new permutation of the `images` every epoch, seeded; the last partial
    batch of each epoch is dropped."""
    epoch = 0
    while True:
        perm = np.random.default_rng([seed, epoch]).permutation(images)
        for start in range(0, images - batch_size + 1, batch_size):
            yield torch.from_numpy(perm[start : start + batch_size])
        epoch += 1


# ## Held-out evaluation


def heldout_fidelity(spms: Tensor, degenerate: Tensor, masks: Tensor, cfg: Config, seed: int) -> dict:
    """MAE and Spearman, over both labels, of SnapMix's CAM weights and of CutMix's area weights (one box at the
    same place in both images, scored against that box) against the part masks: `fidelity.fidelity_rows`."""
    rows = fidelity_rows(
        spms,
        degenerate,
        masks,
        cfg.pairs,
        np.random.default_rng([seed, 1]),
        beta=cfg.snapmix_beta,
        cutmix_beta=cfg.cutmix_beta,
    )
    out = {}
    for name, rule, truth in (("snapmix", "rho", "true"), ("cutmix", "cutmix", "cutmix_true")):
        weight, true = (np.r_[rows[f"{key}_a"], rows[f"{key}_b"]] for key in (rule, truth))
        out[f"heldout_{name}_mae"] = float(np.abs(weight - true).mean())
        out[f"heldout_{name}_spearman"] = float(stats.spearmanr(weight, true).statistic)
    return out


def heldout_methods(maps: MethodMaps, masks: Tensor, cfg: Config, seed: int) -> dict[str, dict[str, float]]:
    """Every registry method's MAE and Spearman per label (A, B) against the part masks, at its paper defaults."""
    out = {}
    for name in MIXES:
        fid = method_summary(method_rows(name, maps, masks.numpy() > 0.5, cfg.pairs, seed))
        out[name] = {k: None if np.isnan(v) else v for k, v in fid.items()}
    return out


def evaluate(model: nn.Module, test: dict[str, Tensor], cfg: Config, seed: int) -> dict:
    """Held-out accuracy and label fidelity of one trained model, from one forward (`method_fidelity.method_maps`)."""
    maps = method_maps(model, test["x"], test["y"], batch=64)
    return {
        "accuracy": float((maps.logits.argmax(dim=1) == test["y"]).float().mean()),
        **heldout_fidelity(maps.spms, maps.degenerate, test["masks"], cfg, seed),
        "methods": heldout_methods(maps, test["masks"], cfg, seed),
    }


# ## The experiment


def dataset(seeds: Sequence[int], size: int) -> dict[str, Tensor]:
    """Normalised images, labels and float part masks of the "parts" task."""
    images, masks, labels = make_arrays(seeds, size, task="parts")
    return {
        "x": normalise(images, get_spec(BACKBONE)),
        "y": torch.from_numpy(labels),
        "masks": torch.from_numpy(masks).float(),
    }


def run(method: str, seed: int, cfg: Config, train_data: dict, test_data: dict) -> dict:
    """One (method, seed) run: train, evaluate, report. Dropout's global RNG is forked and seeded."""
    tick = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, train_stats = train(method, seed, cfg, train_data)
    return {
        "method": method,
        "seed": seed,
        **train_stats,
        **evaluate(model, test_data, cfg, seed),
        "minutes": (time.perf_counter() - tick) / 60,
        "config": asdict(cfg),
    }


def summary(results: list[dict]) -> str:
    """Markdown table: mean ± sd over seeds per method."""

    def cell(method: str, key: str, scale: float = 1.0, digits: int = 3) -> str:
        values = [r[key] * scale for r in results if r["method"] == method and r[key] is not None]
        if not values:
            return "–"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.fmean(values):.{digits}f} ± {sd:.{digits}f}"

    lines = [
        "| method | runs | held-out accuracy (%) | label MAE in training | SnapMix weights, held-out MAE / Spearman "
        "| CutMix weights, held-out MAE / Spearman |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for method in METHODS:
        runs = sum(r["method"] == method for r in results)
        if runs:
            lines.append(
                f"| {method} | {runs} | {cell(method, 'accuracy', 100, 1)} | {cell(method, 'train_label_mae')} "
                f"| {cell(method, 'heldout_snapmix_mae')} / {cell(method, 'heldout_snapmix_spearman')} "
                f"| {cell(method, 'heldout_cutmix_mae')} / {cell(method, 'heldout_cutmix_spearman')} |"
            )
    return "\n".join(lines)


def methods_summary(results: list[dict]) -> str:
    """Markdown table: every registry method's held-out MAE and Spearman (A / B) with each trained model's maps,
    mean over seeds; one column per training method that has runs with those figures."""
    trained = [m for m in METHODS if any(r["method"] == m and "methods" in r for r in results)]
    if not trained:
        return ""

    def cell(name: str, method: str) -> str:
        runs = [r["methods"][name] for r in results if r["method"] == method and "methods" in r]
        parts = []
        for key in ("mae_a", "mae_b", "spearman_a", "spearman_b"):
            values = [run[key] for run in runs if run[key] is not None]
            parts.append(f"{statistics.fmean(values):.3f}" if values else "–")
        return f"{parts[0]} / {parts[1]}, {parts[2]} / {parts[3]}"

    head = " | ".join(f"trained with {m}: MAE A / B, Spearman A / B" for m in trained)
    lines = [f"| scored method | needs | {head} |", "|---|---|" + "--:|" * len(trained)]
    lines += [f"| {n} | {get_mix(n).needs} | {' | '.join(cell(n, m) for m in trained)} |" for n in MIXES]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Config]:
    """Command-line options; the Config fields are options too."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/finegrained"), help="folder of runs.jsonl")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    for name, value in asdict(Config()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = p.parse_args(argv)
    cfg = Config(**{name: getattr(args, name) for name in asdict(Config())})
    return args, cfg


def main(argv: Sequence[str] | None = None) -> int:
    """Run every missing (method, seed), then print the table of all runs with this configuration."""
    args, cfg = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = [r for r in done if r["config"] == asdict(cfg)]
    train_data = dataset(range(cfg.train_images), cfg.size)
    test_data = dataset(range(HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + cfg.test_images), cfg.size)
    load_before = os.getloadavg()[0]
    for seed in args.seeds:
        for method in args.methods:
            if any(r["method"] == method and r["seed"] == seed for r in done):
                continue
            result = run(method, seed, cfg, train_data, test_data)
            done.append(result)
            with log.open("a") as f:
                f.write(json.dumps(result) + "\n")
            print(f"{method} seed {seed}: accuracy {result['accuracy']:.1%} in {result['minutes']:.1f} min", flush=True)
    print(
        f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"{cfg}\n"
    )
    print(summary(done))
    print(f"\nEvery mixing method's held-out label fidelity (seeds averaged):\n\n{methods_summary(done)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
