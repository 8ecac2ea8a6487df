"""Overhead of SnapMix over one bare forward, measured side by side in one process.

(a) `snapmix_pair` end to end (two 224x224 PIL images -> CAMs -> mix, no rendering, analysis
    cache cleared before every call) / one batched `model(x)` of the same two images under
    `torch.inference_mode`, for tf_efficientnet_lite0, efficientnet_b0 and resnet50. The model is
    the pipeline's own (channels_last, as `load_backbone` builds it), so the ratio is against the
    faster forward; the same forward on a plain (NCHW) copy of the model is shown beside it. The
    cached case (a new seed only, no forward) is reported for information. Beside them, the same
    eager forward against the engine (snapmix_demo/engine.py, ONNX Runtime with torch's thread count):
    the engine's forward (exported `extract_features`, then pool and Linear in torch) and a fresh
    `snapmix_pair` with SNAPMIX_ENGINE=onnxruntime (target <= 0.70 x the eager forward for Lite0 and
    efficientnet_b0), and the largest differences engine vs eager (features, rho, SPMs, top-5).
(b) `snapmix_batch` on N=32 images at 224 px (resnet18, prob=1.0, a fixed generator seed per
    call) / one `torch.no_grad` forward of that batch.
(c) The mixing lab (`snapmix_demo/lab.py`): every method of `MIXES` on the pair of (a) over its cached
    analyses, in milliseconds beyond the shared forward (target <= 5 ms each): the method's own share of
    `compare_mixes` (its mix of the batch of two, the picture, the facts), and a whole cached `mix_pair`
    (decode, cache lookup, the method) beside it; then `compare_mixes` fresh (one forward per image) and
    cached. Backbones `--lab-backbones` (Lite0, and efficientnet_b0 whose SiLU head gives
    `snapmix_official` its own maps).
Cold starts (new processes) are `bench_start.py`'s, as ratios to torch's own import.

Random-init weights for (a) and (b), offline. The two sides of each ratio are interleaved round by
round (the order alternating), after a warm-up; the table reports median times, the median of the
per-round ratios and their spread (IQR and min-max). On a machine shared with other jobs, use
`--threads 1 --clock cpu`: each side is then timed by its thread's CPU time, which other processes
do not inflate; `--clock process` counts the CPU time of every thread of this process (torch's and
ONNX Runtime's pools), for any thread count.

Usage:
    python benchmarks/bench_core.py [--pair-rounds 15] [--batch-rounds 7] [--warmup 3] [--threads N]
                                    [--clock wall|cpu|process] [--record FILE.jsonl]
                                    [--lab-rounds 15] [--lab-backbones NAME ...] [--lab-only]
"""

import os
import sys
from pathlib import Path

os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/bench_core.py` from anywhere

import argparse
import copy
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from snapmix_demo import MIXES, compare_mixes, engine, mix_pair, snapmix_pair
from snapmix_demo.analysis import clear_caches
from snapmix_demo.lab import pair as lab
from snapmix_demo.snapmix import normalise, snapmix_batch
from snapmix_demo.weights import Backbone, cached_backbone

PAIR_BACKBONES = ("tf_efficientnet_lite0", "efficientnet_b0", "resnet50")
BATCH_BACKBONE = "resnet18"
SIZE = 224
TARGET = 1.10
ENGINE_TARGET = {"tf_efficientnet_lite0": 0.70, "efficientnet_b0": 0.70}  # fresh pair on the engine / eager forward
LAB_BACKBONES = ("tf_efficientnet_lite0", "efficientnet_b0")
LAB_TARGET_MS = 5.0  # each method's pair over cached CAMs, beyond the shared forward


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
    p.add_argument(
        "--clock",
        choices=("wall", "cpu", "process"),
        default="wall",
        help="cpu: this thread's CPU time (needs --threads 1); process: CPU time of all threads of this process",
    )
    p.add_argument("--no-engine", action="store_true", help="skip the engine rows (no onnxruntime needed)")
    p.add_argument("--record", type=Path, help="append this run's figures to FILE as one JSON line")
    p.add_argument("--lab-rounds", type=int, default=15, help="measured rounds for (c), per method and backbone")
    p.add_argument("--lab-backbones", nargs="+", default=list(LAB_BACKBONES), help="backbones for (c)")
    p.add_argument("--lab-only", action="store_true", help="run (c) alone")
    args = p.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu measures one thread: use it with --threads 1")
    return args


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "cpu": time.thread_time,
    "process": time.process_time,
}


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
        use_engine("torch")
        clear_caches()
        tick = time.perf_counter()
        res = snapmix_pair(*images, backbone=name, weights="random", seed=next(seeds))
        assert res.forward_passes == 1 and res.engine == "torch", "the analysis cache was not cleared"
        breakdown.append({**res.timings, "outside": (time.perf_counter() - tick) * 1e3 - res.timings["total"]})

    def cached() -> None:
        use_engine("torch")
        res = snapmix_pair(*images, backbone=name, weights="random", seed=next(seeds))
        assert res.forward_passes == 0, "the cached case ran the model"

    def bare() -> None:
        with torch.inference_mode():
            bb.model(x)

    def bare_nchw() -> None:
        with torch.inference_mode():
            plain(x)

    return [fresh, bare, cached, bare_nchw]


def bench_pair(name: str, args: argparse.Namespace) -> tuple[list[Row], dict[str, float], Callable]:
    """Rows of (a) for one backbone, the median of snapmix_pair's own timings (ms) of the fresh calls, the forward."""
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
    return rows, medians, bare_fn


# ## The engine (snapmix_demo/engine.py) beside the same eager forward


def use_engine(name: str) -> None:
    """The pipeline's calls from now on run on `name` (SNAPMIX_ENGINE is read per call)."""
    os.environ["SNAPMIX_ENGINE"] = name


def engine_sides(name: str, images: tuple[Image.Image, Image.Image], breakdown: list[dict]) -> list[Callable]:
    """(fresh snapmix_pair on the engine, the engine's forward: features on ONNX Runtime, pool and Linear in torch)."""
    bb = cached_backbone(name, weights="random")
    x, fc = normalised(images, bb), bb.model.get_fc()
    seeds = iter(range(1 << 30, 1 << 31))

    def fresh_engine() -> None:
        use_engine("onnxruntime")
        clear_caches()
        tick = time.perf_counter()
        res = snapmix_pair(*images, backbone=name, weights="random", seed=next(seeds))
        assert res.forward_passes == 1 and res.engine == "onnxruntime", (res.forward_passes, res.engine)
        breakdown.append({**res.timings, "outside": (time.perf_counter() - tick) * 1e3 - res.timings["total"]})

    def engine_forward() -> None:
        use_engine("onnxruntime")
        with torch.inference_mode():
            feats, ran = engine.extract_features(bb, x)
            fc(feats.mean(dim=(2, 3)))
        assert ran == "onnxruntime", ran

    return [fresh_engine, engine_forward]


def prepare_engine(name: str) -> dict[str, object]:
    """Build (or find cached) `name`'s export and its session before timing; how long that took."""
    bb = cached_backbone(name, weights="random")
    tick = time.perf_counter()
    _, path, built = engine.ensure_export(bb.model, name, bb.spec.input_size)
    seconds = time.perf_counter() - tick
    if not engine.prepare(bb, wait=True):
        raise RuntimeError(f"no ONNX Runtime session for {name}: see the log above")
    return {"model": name, "export": "built" if built else "cached", "seconds": round(seconds, 2), "file": path.name}


def differences(name: str, images: tuple[Image.Image, Image.Image]) -> dict[str, object]:
    """Largest differences engine vs eager: features (relative), rho, SPMs and top-5 probabilities of one pair."""
    bb = cached_backbone(name, weights="random")
    x = normalised(images, bb)
    use_engine("onnxruntime")
    with torch.inference_mode():
        fast, _ = engine.extract_features(bb, x)
        eager = bb.model.extract_features(x)
    results = {}
    for side in ("torch", "onnxruntime"):
        use_engine(side)
        clear_caches()
        results[side] = snapmix_pair(*images, backbone=name, weights="random", seed=0)
    a, b = results["torch"], results["onnxruntime"]
    pairs = [zip(getattr(a, f"topk_{s}"), getattr(b, f"topk_{s}"), strict=True) for s in "ab"]
    top = [abs(p - q) for pair in pairs for (_, p), (_, q) in pair]
    return {
        "model": name,
        "features_rel": float((fast - eager).abs().max() / eager.abs().max()),
        "rho": max(abs(a.rho_a - b.rho_a), abs(a.rho_b - b.rho_b)),
        "spm": max(float(np.abs(getattr(a, f"spm_{s}") - getattr(b, f"spm_{s}")).max()) for s in "ab"),
        "top5_p": max(top),
        "same_classes": (a.class_a, a.class_b) == (b.class_a, b.class_b),
    }


def bench_engine(
    name: str, args: argparse.Namespace, bare_fn: Callable
) -> tuple[list[Row], dict[str, float], dict[str, object], dict[str, object]]:
    """Engine rows of (a) for one backbone, its pair's stage medians, how its export was had, the differences."""
    images = random_images(args.seed)
    export = prepare_engine(name)
    breakdown: list[dict] = []
    fresh_fn, forward_fn = engine_sides(name, images, breakdown)
    fresh, bare = interleave([fresh_fn, bare_fn], args.pair_rounds, args.warmup, args.clock)
    measured = breakdown[-args.pair_rounds :]
    forward, bare_f = interleave([forward_fn, bare_fn], args.pair_rounds, args.warmup, args.clock)
    shape = f"2×3×{SIZE}×{SIZE}"
    rows = [
        Row("engine forward / eager forward", name, shape, forward, bare_f, target=None),
        Row("snapmix_pair (fresh, engine) / eager forward", name, shape, fresh, bare, target=ENGINE_TARGET.get(name)),
    ]
    medians = {k: statistics.median(d[k] for d in measured) for k in measured[0]}
    return rows, medians, export, differences(name, images)


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


# ## (c) The mixing lab: every method on one pair over cached CAMs


def bench_lab(name: str, args: argparse.Namespace) -> list[dict[str, object]]:
    """Per method: its share of `compare_mixes` and a whole cached `mix_pair` (ms); then the comparison's own rows."""
    images = random_images(args.seed)
    use_engine("torch")
    clear_caches()
    kwargs = {"backbone": name, "weights": "random"}
    compare_mixes(*images, **kwargs)  # builds the model; the analyses are cached from here on
    pair = lab._prepare(*images, name, "default", None, None, 0, 5.0, None, None, "random", None, None, None)
    assert pair.forward_passes == 0, "the lab's pair was not cached"
    grid = pair.analyses[0].grid
    clock = CLOCKS[args.clock]
    rows = []
    for method, spec in MIXES.items():
        params = lab._params(spec, {}, grid)
        own = interleave([lambda s=spec, p=params: lab._result(pair, s, p, 0)], args.lab_rounds, args.warmup,
                         args.clock)[0]  # fmt: skip
        whole = [timed(lambda m=method: mix_pair(*images, method=m, **kwargs), clock) for _ in range(args.lab_rounds)]
        rows.append({"model": name, "method": method, "needs": spec.needs, "rounds": args.lab_rounds,
                     "method_ms": round(statistics.median(own) * 1e3, 2),
                     "method_ms_iqr": [round(q * 1e3, 2) for q in _quartiles(own)],
                     "mix_pair_cached_ms": round(statistics.median(whole) * 1e3, 2),
                     "target_ms": LAB_TARGET_MS})  # fmt: skip
    fresh, cached = [], []
    for r in range(max(3, args.lab_rounds // 3)):
        clear_caches()
        fresh.append(timed(lambda r=r: compare_mixes(*images, seed=r, **kwargs), clock))
        cached.append(timed(lambda r=r: compare_mixes(*images, seed=r + 1, **kwargs), clock))
    rows.append({"model": name, "method": "compare_mixes (fresh: one forward per image)",
                 "rounds": len(fresh), "mix_pair_cached_ms": round(statistics.median(fresh) * 1e3, 2)})  # fmt: skip
    rows.append({"model": name, "method": "compare_mixes (cached: all methods)",
                 "rounds": len(cached), "mix_pair_cached_ms": round(statistics.median(cached) * 1e3, 2)})  # fmt: skip
    return rows


def _quartiles(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return q1, q3


def lab_table(rows: list[dict[str, object]]) -> str:
    """Markdown table of (c)."""
    lines = [
        "| model | method | needs | rounds | the method in `compare_mixes` (ms) | IQR (ms) | whole `mix_pair`, "
        "cached (ms) | target | ok |",
        "|---|---|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for r in rows:
        if "method_ms" not in r:
            lines.append(
                f"| {r['model']} | {r['method']} | | {r['rounds']} | | | {r['mix_pair_cached_ms']:.1f} | info | – |"
            )
            continue
        ok = "yes" if r["method_ms"] <= r["target_ms"] else "**no**"
        q1, q3 = r["method_ms_iqr"]
        lines.append(
            f"| {r['model']} | {r['method']} | {r['needs']} | {r['rounds']} | {r['method_ms']:.2f} | {q1:.2f}–{q3:.2f} "
            f"| {r['mix_pair_cached_ms']:.2f} | ≤ {r['target_ms']:g} | {ok} |"
        )
    return "\n".join(lines)


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


def engine_tables(exports: list[dict], diffs: list[dict]) -> str:
    """Markdown tables: how each export was had, and the largest differences engine vs eager."""
    lines = ["| model | export | seconds | file |", "|---|---|--:|---|"]
    lines += [f"| {e['model']} | {e['export']} | {e['seconds']:.2f} | {e['file']} |" for e in exports]
    lines += ["", "| model | features (max rel.) | rho | SPM | top-5 p | same classes |", "|---|--:|--:|--:|--:|:-:|"]
    lines += [
        f"| {d['model']} | {d['features_rel']:.1e} | {d['rho']:.1e} | {d['spm']:.1e} | {d['top5_p']:.1e} "
        f"| {'yes' if d['same_classes'] else '**no**'} |"
        for d in diffs
    ]
    return "\n".join(lines)


def record(path: Path, facts: dict[str, object]) -> None:
    """Append this run's figures to `path` as one JSON line (benchmarks/results/ keeps what the docs quote)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(facts, ensure_ascii=False) + "\n")


def row_facts(row: Row) -> dict[str, object]:
    """A row's medians and ratio spread, for the record."""
    r = row.ratios
    q1, _, q3 = statistics.quantiles(r, n=4) if len(r) > 1 else (r[0], r[0], r[0])
    return {
        "case": row.case,
        "model": row.model,
        "rounds": len(r),
        "median_ms": round(statistics.median(row.times) * 1e3, 2),
        "forward_ms": round(statistics.median(row.base) * 1e3, 2),
        "ratio": round(statistics.median(r), 4),
        "ratio_iqr": [round(q1, 4), round(q3, 4)],
        "target": row.target,
    }


def main() -> None:
    """Run (a) and (b), print the tables, and record them with --record."""
    args = parse_args()
    load_before = os.getloadavg()[0]
    if args.threads:
        torch.set_num_threads(args.threads)
    use_engine("torch")  # each side sets its engine; "auto" would switch engines mid-run
    rows: list[Row] = []
    breakdowns: dict[str, dict[str, float]] = {}
    exports, diffs = [], []
    lab_rows = [r for name in args.lab_backbones for r in bench_lab(name, args)]
    if args.lab_only:
        head = header(load_before, args.clock)
        print(head + "\n\n" + lab_table(lab_rows))
        if args.record:
            facts = {"bench": "bench_core", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "header": head}
            record(args.record, facts | {"argv": sys.argv[1:], "lab": lab_rows})
        return
    for name in args.backbones:
        pair_rows, breakdowns[name], bare_fn = bench_pair(name, args)
        rows += pair_rows
        if not args.no_engine:
            engine_rows, breakdowns[f"{name} (engine)"], export, diff = bench_engine(name, args, bare_fn)
            rows, exports, diffs = rows + engine_rows, [*exports, export], [*diffs, diff]
    rows.append(bench_batch(args))
    head = header(load_before, args.clock)
    print(head + "\n\n" + table(rows) + "\n")
    print("snapmix_pair stages, fresh calls (median ms; `outside` = wall time not covered by `total`):\n")
    print(breakdown_table(breakdowns))
    if exports:
        print("\nengine: exports (before timing) and the largest differences engine vs eager, one random pair:\n")
        print(engine_tables(exports, diffs))
    print("\n(c) the mixing lab: each method on the pair over cached CAMs, beyond the shared forward:\n")
    print(lab_table(lab_rows))
    if args.record:
        facts = {"bench": "bench_core", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "header": head}
        facts |= {"argv": sys.argv[1:], "rows": [row_facts(r) for r in rows], "stages_ms": breakdowns}
        facts |= {"exports": exports, "differences": diffs, "lab": lab_rows}
        record(args.record, facts)


if __name__ == "__main__":
    main()
