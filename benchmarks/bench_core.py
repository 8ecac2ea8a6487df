"""Overhead of SnapMix over one bare forward, measured side by side in one process.

(a) `snapmix_pair` end to end (two 224x224 PIL images -> CAMs -> mix, no rendering, analysis
    cache cleared before every call) / one batched `model(x)` of the same two images under
    `torch.inference_mode`, for tf_efficientnet_lite0, efficientnet_b0 and resnet50. The model is
    the pipeline's own (channels_last, as `load_backbone` builds it), so the ratio is against the
    faster forward; the same forward on a plain (NCHW) copy of the model is shown beside it. The
    cached case (a new seed only, no forward) is reported for information.
(b) `snapmix_batch` on N=32 images at 224 px (resnet18, prob=1.0, a fixed generator seed per
    call) / one `torch.no_grad` forward of that batch.
(c) Cold start: a new offline process, from launch to the first `snapmix_pair` result on the
    default backbone and its real (packaged) ImageNet weights: wall time, and the child's CPU time.

Random-init weights for (a) and (b), offline. The two sides of each ratio are interleaved round by
round (the order alternating), after a warm-up; the table reports median times, the median of the
per-round ratios and their spread (IQR and min-max). On a machine shared with other jobs, use
`--threads 1 --clock cpu`: each side is then timed by its thread's CPU time, which other processes
do not inflate.

Usage:
    python benchmarks/bench_core.py [--pair-rounds 15] [--batch-rounds 7] [--warmup 3] [--threads N]
                                    [--clock wall|cpu] [--cold-starts 5]
"""

import os
import sys
from pathlib import Path

os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/bench_core.py` from anywhere

import argparse
import copy
import gc
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from snapmix_demo import snapmix_pair
from snapmix_demo.pipeline import clear_caches
from snapmix_demo.snapmix import normalise, snapmix_batch
from snapmix_demo.weights import Backbone, cached_backbone

PAIR_BACKBONES = ("tf_efficientnet_lite0", "efficientnet_b0", "resnet50")
BATCH_BACKBONE = "resnet18"
SIZE = 224
TARGET = 1.10


@dataclass
class Row:
    """One line of the table: a case, its baseline, and the per-round ratios."""

    case: str
    model: str
    shape: str
    times: list[float]
    base: list[float]
    target: float | None = TARGET

    @property
    def ratios(self) -> list[float]:
        """Per-round ratio of the case over its baseline."""
        return [t / b for t, b in zip(self.times, self.base, strict=True)]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pair-rounds", type=int, default=15, help="measured rounds for (a), per backbone")
    p.add_argument("--batch-rounds", type=int, default=7, help="measured rounds for (b)")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured calls of each side first")
    p.add_argument("--batch-size", type=int, default=32, help="N for (b)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of the images and of (b)'s generator")
    p.add_argument("--backbones", nargs="+", default=list(PAIR_BACKBONES), help="backbones for (a)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="cpu: thread CPU time (needs --threads 1)")
    p.add_argument("--cold-starts", type=int, default=5, help="new processes for (c); 0 skips it")
    args = p.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu measures one thread: use it with --threads 1")
    return args


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


def timed(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    """Seconds one call of `fn` takes on `clock`."""
    tick = clock()
    fn()
    return clock() - tick


def interleave(sides: list[Callable[[], object]], rounds: int, warmup: int, clock: str) -> list[list[float]]:
    """Times of each side over `rounds` rounds, the order reversed every other round, after a warm-up."""
    for _ in range(warmup):
        for fn in sides:
            fn()
    times: list[list[float]] = [[] for _ in sides]
    for r in range(rounds):
        gc.collect()
        order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            times[i].append(timed(sides[i], CLOCKS[clock]))
    return times


def random_images(seed: int) -> tuple[Image.Image, Image.Image]:
    """Two smooth-ish random 224x224 RGB images (noise on a colour gradient)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 160, SIZE, dtype=np.float32)
    images = []
    for _ in range(2):
        base = ramp[:, None, None] * rng.random(3, dtype=np.float32) + ramp[None, :, None] * rng.random(3)
        noisy = base + rng.normal(0, 30, (SIZE, SIZE, 3))
        images.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB"))
    return images[0], images[1]


def normalised(images: tuple[Image.Image, ...], bb: Backbone) -> torch.Tensor:
    """(B, 3, H, W) float tensor of `images`, normalised with the backbone's mean and std."""
    return normalise(np.stack([np.asarray(img) for img in images]), bb.spec)


def pair_sides(name: str, images: tuple[Image.Image, Image.Image], breakdown: list[dict]) -> list[Callable]:
    """(fresh snapmix_pair, bare forward, cached snapmix_pair, bare forward of a plain NCHW copy) for `name`."""
    bb = cached_backbone(name, weights="random")
    plain = copy.deepcopy(bb.model).to(memory_format=torch.contiguous_format)
    x = normalised(images, bb)
    seeds = iter(range(1, 1 << 30))

    def fresh() -> None:
        clear_caches()
        tick = time.perf_counter()
        res = snapmix_pair(*images, backbone=name, weights="random", seed=next(seeds))
        assert res.forward_passes == 1, "the analysis cache was not cleared"
        breakdown.append({**res.timings, "outside": (time.perf_counter() - tick) * 1e3 - res.timings["total"]})

    def cached() -> None:
        res = snapmix_pair(*images, backbone=name, weights="random", seed=next(seeds))
        assert res.forward_passes == 0, "the cached case ran the model"

    def bare() -> None:
        with torch.inference_mode():
            bb.model(x)

    def bare_nchw() -> None:
        with torch.inference_mode():
            plain(x)

    return [fresh, bare, cached, bare_nchw]


def bench_pair(name: str, args: argparse.Namespace) -> tuple[list[Row], dict[str, float]]:
    """Rows of (a) for one backbone, and the median of snapmix_pair's own timings (ms) of the fresh calls."""
    breakdown: list[dict] = []
    fresh_fn, bare_fn, cached_fn, nchw_fn = pair_sides(name, random_images(args.seed), breakdown)
    # Each ratio from its own pair of sides, alternating: a third model between them would evict the caches.
    fresh, bare = interleave([fresh_fn, bare_fn], args.pair_rounds, args.warmup, args.clock)
    measured = breakdown[-args.pair_rounds :]
    cached, bare_c = interleave([cached_fn, bare_fn], args.pair_rounds, args.warmup, args.clock)
    bare_nchw, bare_n = interleave([nchw_fn, bare_fn], args.pair_rounds, args.warmup, args.clock)
    medians = {k: statistics.median(d[k] for d in measured) for k in measured[0]}
    shape = f"2×3×{SIZE}×{SIZE}"
    rows = [
        Row("snapmix_pair (fresh) / forward", name, shape, fresh, bare),
        Row("snapmix_pair (cached) / forward", name, shape, cached, bare_c, target=None),
        Row("forward, NCHW model / channels_last model", name, shape, bare_nchw, bare_n, target=None),
    ]
    return rows, medians


def bench_batch(args: argparse.Namespace) -> Row:
    """Row of (b): snapmix_batch over one no-grad forward of the same batch."""
    bb = cached_backbone(BATCH_BACKBONE, weights="random")
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch_size, 3, SIZE, SIZE, generator=gen)
    y = torch.randint(len(bb.spec.classes), (args.batch_size,), generator=gen)

    def mix() -> None:
        out = snapmix_batch(x, y, bb.model, prob=1.0, generator=torch.Generator().manual_seed(args.seed))
        assert bool((out.rho_b > 0).any()), "the batch was not mixed"

    def bare() -> None:
        with torch.no_grad():
            bb.model(x)

    mixed, base = interleave([mix, bare], args.batch_rounds, args.warmup, args.clock)
    return Row("snapmix_batch / forward", BATCH_BACKBONE, f"{args.batch_size}×3×{SIZE}×{SIZE}", mixed, base)


COLD_START = """
import time
start = time.perf_counter()
from snapmix_demo import snapmix_pair
res = snapmix_pair("assets/examples/cat.jpg", "assets/examples/coffee.jpg")
assert res.weights_kind == "imagenet", res.weights
print(time.perf_counter() - start)
"""


def cold_starts(runs: int) -> list[tuple[float, float, float]]:
    """(wall s from launch to result, the same inside Python after start-up, child CPU s) for `runs` new processes."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "SNAPMIX_OFFLINE": "1"}
    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        tick = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COLD_START], cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - tick
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out.append((wall, float(done.stdout.strip().splitlines()[-1]), cpu))
    return out


def cold_table(runs: list[tuple[float, float, float]]) -> str:
    """Markdown line of the cold-start medians."""
    wall, inside, cpu = (statistics.median(col) for col in zip(*runs, strict=True))
    return (
        "| cold start (new process -> first result, tf_efficientnet_lite0 ImageNet) | runs | wall s | in Python s "
        "| CPU s | target |\n|---|--:|--:|--:|--:|--:|\n"
        f"| `python -c 'snapmix_pair(cat, coffee)'` | {len(runs)} | {wall:.2f} | {inside:.2f} | {cpu:.2f} | ≤ 3 s |"
    )


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{seconds * 1e3:.1f}"


def table(rows: list[Row]) -> str:
    """Markdown table of the rows."""
    lines = [
        "| case | model | input | rounds | median (ms) | forward median (ms) | ratio (median) | ratio IQR "
        "| ratio min–max | target | ok |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for row in rows:
        r = row.ratios
        q1, _, q3 = statistics.quantiles(r, n=4) if len(r) > 1 else (r[0], r[0], r[0])
        med = statistics.median(r)
        target = f"≤ {row.target:.2f}" if row.target else "info"
        ok = ("yes" if med <= row.target else "**no**") if row.target else "–"
        lines.append(
            f"| {row.case} | {row.model} | {row.shape} | {len(r)} | {ms(statistics.median(row.times))} "
            f"| {ms(statistics.median(row.base))} | {med:.3f} | {q1:.3f}–{q3:.3f} | {min(r):.3f}–{max(r):.3f} "
            f"| {target} | {ok} |"
        )
    return "\n".join(lines)


def breakdown_table(breakdowns: dict[str, dict[str, float]]) -> str:
    """Markdown table of snapmix_pair's own stage timings (medians, ms) per backbone."""
    keys = ["load_model", "decode", "model", "mix", "total", "outside"]
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "--:|" * len(keys)]
    for name, med in breakdowns.items():
        lines.append(f"| {name} | " + " | ".join(f"{med[k]:.2f}" for k in keys) + " |")
    return "\n".join(lines)


def header(load_before: float, clock: str) -> str:
    """Environment facts that the figures depend on, with the 1-minute load average before and after."""
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} "
        f"inter-op threads, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}; "
        f"weights=random, SNAPMIX_OFFLINE={os.environ['SNAPMIX_OFFLINE']}, clock {clock}; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


def main() -> None:
    """Run (a) and (b) and print the tables."""
    args = parse_args()
    load_before = os.getloadavg()[0]
    if args.threads:
        torch.set_num_threads(args.threads)
    rows: list[Row] = []
    breakdowns: dict[str, dict[str, float]] = {}
    for name in args.backbones:
        pair_rows, breakdowns[name] = bench_pair(name, args)
        rows += pair_rows
    rows.append(bench_batch(args))
    print(header(load_before, args.clock))
    print()
    print(table(rows))
    print()
    print("snapmix_pair stages, fresh calls (median ms; `outside` = wall time not covered by `total`):")
    print()
    print(breakdown_table(breakdowns))
    if args.cold_starts:
        print()
        print(cold_table(cold_starts(args.cold_starts)))


if __name__ == "__main__":
    main()
