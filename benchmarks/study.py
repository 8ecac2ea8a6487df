"""The regime where the SnapMix paper says mixing matters: few images per class, long training, many seeds.

Task: the "parts" task of `snapmix_demo.training.shapes` (four classes that differ only in a small star of 5-8
points, about 1 % of the pixels; the star's mask is the ground truth), with `--per-class` training
images per class (30, as CUB has), a new training set per seed, the same for every method of that seed.
The ImageNet `tf_efficientnet_lite0` (packaged weights, a new seeded head) is fine-tuned for `--epochs`
epochs with each mixing method of the lab (`snapmix_demo.mixes.MIXES`, through `mix_batch`) or none: the
same data order, optimiser, schedule and seed for every method; mixing starts after `--mix-start`
unmixed epochs, for every method alike (the CAMs of a fresh head mean nothing).

Per run it records the learning curve (train loss, accuracy on the clean training images, accuracy on
a held-out subset, and the label error of the mixed batches against the part's true share,
`mixes.object_shares`, every `--eval-every` epochs) and the final held-out accuracy on `--test-images`
images never used in training, with each image's right/wrong as hex bits (for paired sampling errors).

Each finished run is one JSON line appended to `<out>/runs.jsonl` and skipped when run again, so the
study is resumable; `--shard i/k` splits the runs among k processes writing to the same record.
`benchmarks/study_report.py` turns the record into the tables and plots. CI runs a tiny configuration
(tests/test_study.py). The committed study (benchmarks/README.md has the exact command):
    nice -n 10 python benchmarks/study.py --threads 1 --shard 0/2 &
    nice -n 10 python benchmarks/study.py --threads 1 --shard 1/2 &
"""

import os
import sys
from pathlib import Path

os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))  # finegrained.py's pieces

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from finegrained import BACKBONE, batches, dataset, fit_step
from torch import Tensor, nn

from snapmix_demo.mixes import MIXES, mix_batch, object_shares
from snapmix_demo.snapmix import BatchMix, unmixed
from snapmix_demo.training.shapes import HELDOUT_SEED_BASE, PART_CLASSES
from snapmix_demo.training.train import initial_model

CORE = ("none", "cutmix", "snapmix", "mixup")  # made first, seed by seed; then the rest of the lab, method by method
METHODS = CORE + tuple(m for m in MIXES if m not in CORE)
PARAMS = {"cutmix": {"beta": 3.0}}  # as finegrained.py and the official SnapMix code run CutMix; others: paper defaults
TRAIN_SEED_STRIDE = 100_000  # seed s draws its training images from image seeds s * stride upwards
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "study"


@dataclass(frozen=True)
class Config:
    """Everything a run depends on besides its method and seed."""

    epochs: int = 40
    per_class: int = 30
    batch_size: int = 24
    size: int = 96
    test_images: int = 2000
    curve_images: int = 300  # the held-out subset the learning curves are scored on
    eval_every: int = 5  # epochs
    mix_start: int = 5  # unmixed epochs before any method mixes
    lr: float = 1e-3
    weight_decay: float = 0.05
    prob: float = 1.0


# ## Data


def training_set(seed: int, cfg: Config) -> dict[str, Tensor]:
    """`per_class` images of each class: the first ones found from image seed `seed * TRAIN_SEED_STRIDE` up."""
    classes, start, data = len(PART_CLASSES), seed * TRAIN_SEED_STRIDE, None
    while True:
        chunk = dataset(range(start, start + 2 * cfg.per_class * classes), cfg.size)
        data = chunk if data is None else {k: torch.cat([data[k], chunk[k]]) for k in data}
        start += len(chunk["y"])
        counts, chosen = [0] * classes, []
        for i, label in enumerate(data["y"].tolist()):
            if counts[label] < cfg.per_class:
                counts[label] += 1
                chosen.append(i)
        if len(chosen) == cfg.per_class * classes:
            return {k: v[torch.tensor(chosen)] for k, v in data.items()}


def test_set(cfg: Config) -> dict[str, Tensor]:
    """The held-out images: seeds never used in training, the same for every run."""
    return dataset(range(HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + cfg.test_images), cfg.size)


# ## One run


def label_error(batch: BatchMix, masks: Tensor) -> float:
    """Mean |weight - true share| over both labels of a mixed batch, the truth being the part masks under the mix."""
    share_a, share_b = object_shares(batch, masks)
    return float(torch.nanmean(((batch.rho_a - share_a).abs() + (batch.rho_b - share_b).abs()) / 2))


@torch.no_grad()
def correct(model: nn.Module, data: dict[str, Tensor], images: int | None = None, batch: int = 100) -> Tensor:
    """Whether each of the first `images` images is classified right (bool); the model's mode is restored."""
    was_training, n = model.training, len(data["y"]) if images is None else images
    model.eval()
    logits = torch.cat([model(data["x"][i : min(i + batch, n)]) for i in range(0, n, batch)])
    model.train(was_training)
    return logits.argmax(dim=1) == data["y"][:n]


def mixed(method: str, x: Tensor, y: Tensor, model: nn.Module, cfg: Config, generator: torch.Generator) -> BatchMix:
    """The batch as `method` mixes it (`none`: as it is)."""
    if method == "none":
        return unmixed(x, y)
    return mix_batch(x, y, model, method=method, prob=cfg.prob, generator=generator, **PARAMS.get(method, {}))


def train(method: str, seed: int, cfg: Config, data: dict[str, Tensor], test: dict[str, Tensor]):
    """Fine-tune one model; returns it with its learning curve (one point every `eval_every` epochs)."""
    model = initial_model(BACKBONE, "imagenet", len(PART_CLASSES), seed=seed)
    per_epoch = len(data["y"]) // cfg.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * per_epoch, pct_start=0.15
    )
    generator, order = torch.Generator().manual_seed(seed), batches(seed, len(data["y"]), cfg.batch_size)
    curve, losses, errors = [], [], []
    for epoch in range(1, cfg.epochs + 1):
        for _ in range(per_epoch):
            idx = next(order)
            x, y = data["x"][idx], data["y"][idx]
            batch = mixed(method if epoch > cfg.mix_start else "none", x, y, model, cfg, generator)
            if batch.perm is not None:
                errors.append(label_error(batch, data["masks"][idx]))
            losses.append(fit_step(model, optimizer, schedule, batch, y).item())
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            curve.append(
                {
                    "epoch": epoch,
                    "train_loss": statistics.fmean(losses),
                    "train_acc": float(correct(model, data).float().mean()),
                    "heldout_acc": float(correct(model, test, cfg.curve_images).float().mean()),
                    "label_mae": statistics.fmean(errors) if errors else None,
                }
            )
            losses, errors = [], []
            point = curve[-1]
            print(
                f"  {method} seed {seed} epoch {epoch}/{cfg.epochs}: loss {point['train_loss']:.3f}, train "
                f"{point['train_acc']:.1%}, held-out {point['heldout_acc']:.1%}",
                flush=True,
            )
    return model, curve


def run(method: str, seed: int, cfg: Config, data: dict[str, Tensor], test: dict[str, Tensor]) -> dict:
    """One (method, seed) run: train, score on the whole held-out set, report. Dropout's RNG is forked and seeded."""
    tick, cpu = time.perf_counter(), time.process_time()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, curve = train(method, seed, cfg, data, test)
    right = correct(model, test).numpy()
    mixed_points = [p["label_mae"] for p in curve if p["label_mae"] is not None]
    return {
        "method": method,
        "seed": seed,
        "accuracy": float(right.mean()),
        "train_acc": curve[-1]["train_acc"],
        "label_mae": statistics.fmean(mixed_points) if mixed_points else None,
        "curve": curve,
        "correct": np.packbits(right).tobytes().hex(),
        "minutes": (time.perf_counter() - tick) / 60,
        "cpu_minutes": (time.process_time() - cpu) / 60,
        "threads": torch.get_num_threads(),
        "config": asdict(cfg),
    }


# ## The study


def jobs(methods: Sequence[str], seeds: Sequence[int], shard: tuple[int, int]) -> list[tuple[int, str]]:
    """(seed, method) pairs in the order they are made, every k-th one for shard i/k: the CORE methods seed by
    seed (paired comparisons complete early), then each other method on every seed (whole methods first)."""
    core = [(s, m) for s in seeds for m in methods if m in CORE]
    rest = [(s, m) for m in methods if m not in CORE for s in seeds]
    i, k = shard
    return [job for n, job in enumerate(core + rest) if n % k == i]


def load(log: Path, cfg: Config | None = None) -> list[dict]:
    """The runs recorded in `log` (with this configuration, if one is given)."""
    runs = [json.loads(line) for line in log.read_text().splitlines() if line] if log.exists() else []
    return [r for r in runs if cfg is None or r["config"] == asdict(cfg)]


def append(log: Path, record: dict) -> None:
    """One JSON line, in one write: processes appending to the same record never interleave."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Config]:
    """Command-line options; the Config fields are options too."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of runs.jsonl")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--shard", default="0/1", help="i/k: this process makes every k-th run, from the i-th")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    for name, value in asdict(Config()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = p.parse_args(argv)
    args.shard = tuple(int(v) for v in args.shard.split("/"))
    return args, Config(**{name: getattr(args, name) for name in asdict(Config())})


def main(argv: Sequence[str] | None = None) -> int:
    """Make every missing (seed, method) run of this shard, appending each to `<out>/runs.jsonl`."""
    args, cfg = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    todo = [(s, m) for s, m in jobs(args.methods, args.seeds, args.shard) if not _done(load(log, cfg), m, s)]
    print(f"{len(todo)} runs to make; {cfg}", flush=True)
    test, data, data_seed = test_set(cfg), None, None
    for n, (seed, method) in enumerate(todo, 1):
        if _done(load(log, cfg), method, seed):  # another process may have made it meanwhile
            continue
        if data_seed != seed:
            data, data_seed = training_set(seed, cfg), seed
        record = run(method, seed, cfg, data, test)
        append(log, record)
        print(
            f"[{n}/{len(todo)}] {method} seed {seed}: held-out {record['accuracy']:.1%}, train "
            f"{record['train_acc']:.1%}, {record['cpu_minutes']:.1f} CPU-min, {record['minutes']:.1f} min",
            flush=True,
        )
    return 0


def _done(runs: list[dict], method: str, seed: int) -> bool:
    return any(r["method"] == method and r["seed"] == seed for r in runs)


if __name__ == "__main__":
    sys.exit(main())
