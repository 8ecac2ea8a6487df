"""What SnapMix costs in training: one training step with `snapmix_batch` / the same step without it.

A step is forward, backward and an SGD update (momentum 0.9) of a model in train mode, on one fixed
batch of N images at 224 px (random init, 1000 classes, offline), in channels_last as `load_backbone`
builds models (`--memory-format contiguous` for NCHW). With SnapMix the step first runs
`snapmix_batch` (prob 1.0, a fixed generator seed per call): one no-grad eval-mode forward for the CAMs,
the SPMs, the boxes and the paste, then trains on the mixed batch with `snapmix_loss`. The physical limit is
one step plus one no-grad forward, about 4/3 of a step; a third side times that no-grad forward alone, so
the table also shows the limit as measured here. Target: <= 1.40.

The sides are interleaved round by round (the order alternating), after a warm-up; the table reports
median times, the median of the per-round ratios and their spread (IQR and min-max), as bench_core.py does.
On a machine shared with other jobs, use `--threads 1 --clock cpu` (each side timed by its thread's CPU time).

`--methods all` (or names) times a step with every method of `MIXES` (`mix_batch`, prob 1.0) beside the same
plain step, each beside its limit: a step for the methods that read no map (target <= 1.10), a step plus the
no-grad forward of their CAMs for the CAM-guided ones (target <= 1.40, SnapMix's). `--record` appends the
figures to a JSON-lines file (benchmarks/results/bench_train.jsonl).

Usage:
    python benchmarks/bench_train.py [--rounds 7] [--batch-size 16] [--threads N] [--clock wall|cpu]
                                     [--memory-format channels_last|contiguous] [--methods all|NAME ...]
                                     [--record FILE.jsonl]
"""

import os
import sys
from pathlib import Path

os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/bench_train.py` from anywhere

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from bench_core import CLOCKS, interleave

from snapmix_demo.mixes import MIXES, mix_batch
from snapmix_demo.snapmix import eval_mode, snapmix_batch, snapmix_loss
from snapmix_demo.weights import load_backbone

BACKBONES = ("tf_efficientnet_lite0", "resnet50")
SIZE = 224
TARGET = 1.40
AREA_TARGET = 1.10  # a method that reads no map: its limit is the plain step itself


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="measured rounds per backbone")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured calls of each side first")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--memory-format", choices=("channels_last", "contiguous"), default="channels_last")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="cpu: thread CPU time (needs --threads 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--methods", nargs="+", default=None, help="`all`, or methods of MIXES: a step with each")
    p.add_argument("--record", type=Path, help="append this run's figures to FILE as one JSON line")
    args = p.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu measures one thread: use it with --threads 1")
    if args.methods == ["all"]:
        args.methods = list(MIXES)
    unknown = set(args.methods or ()) - set(MIXES)
    if unknown:
        p.error(f"unknown methods: {', '.join(sorted(unknown))}; choose from: {', '.join(MIXES)}")
    return args


def sides(name: str, args: argparse.Namespace) -> list[Callable[[], object]]:
    """(step with SnapMix, plain step, no-grad eval forward) on one fixed batch, for backbone `name`."""
    model = load_backbone(name, weights="random").requires_grad_(True).train()
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch_size, 3, SIZE, SIZE, generator=gen)
    y = torch.randint(1000, (args.batch_size,), generator=gen)
    memory_format = getattr(torch, args.memory_format)
    model, x = model.to(memory_format=memory_format), x.contiguous(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def update(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def snapmix_step() -> None:
        mix = snapmix_batch(x, y, model, prob=1.0, generator=torch.Generator().manual_seed(args.seed))
        assert mix.mixed, "the batch was not mixed"
        update(snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b))

    def plain_step() -> None:
        update(F.cross_entropy(model(x), y))

    def cam_forward() -> None:
        with eval_mode(model), torch.no_grad():
            model(x)

    def method_step(method: str) -> Callable[[], None]:
        def step() -> None:
            mix = mix_batch(x, y, model, method=method, prob=1.0, generator=torch.Generator().manual_seed(args.seed))
            assert mix.mixed, f"{method}: the batch was not mixed"
            update(snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b))

        return step

    if args.methods:
        return [plain_step, cam_forward, *(method_step(m) for m in args.methods)]
    return [snapmix_step, plain_step, cam_forward]


def method_rows(name: str, times: list[list[float]], args: argparse.Namespace) -> list[dict[str, object]]:
    """Each method's step over the plain step, beside its limit (+ the no-grad forward if it reads CAMs)."""
    plain, fwd, *steps = times
    rows = []
    for method, step in zip(args.methods, steps, strict=True):
        guided = MIXES[method].needs != "nothing"
        ratios = [s / p for s, p in zip(step, plain, strict=True)]
        limits = [(p + f) / p if guided else 1.0 for p, f in zip(plain, fwd, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        rows.append({
            "model": name, "method": method, "needs": MIXES[method].needs, "rounds": len(ratios),
            "step_ms": round(statistics.median(step) * 1e3, 1), "plain_ms": round(statistics.median(plain) * 1e3, 1),
            "forward_ms": round(statistics.median(fwd) * 1e3, 1), "ratio": round(statistics.median(ratios), 3),
            "ratio_iqr": [round(q1, 3), round(q3, 3)], "limit": round(statistics.median(limits), 3),
            "target": TARGET if guided else AREA_TARGET,
        })  # fmt: skip
    return rows


def methods_table(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    """Markdown table of every method's step ratio beside its limit."""
    lines = [
        "| model | method | reads | step (ms) | plain step (ms) | ratio (median) | ratio IQR | limit | target | ok |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for r in rows:
        reads = "nothing" if r["needs"] == "nothing" else "CAMs (+ a no-grad forward)"
        ok = "yes" if r["ratio"] <= r["target"] else "**no**"
        lines.append(
            f"| {r['model']} | {r['method']} | {reads} | {r['step_ms']:.0f} | {r['plain_ms']:.0f} "
            f"| **{r['ratio']:.3f}** | {r['ratio_iqr'][0]:.3f}–{r['ratio_iqr'][1]:.3f} | {r['limit']:.3f} "
            f"| ≤ {r['target']:.2f} | {ok} |"
        )
    return "\n".join(lines)


def row(name: str, times: list[list[float]], args: argparse.Namespace) -> str:
    """One Markdown table line: medians, the ratio's median and spread, the measured limit."""
    snap, plain, fwd = times
    ratios = [s / p for s, p in zip(snap, plain, strict=True)]
    limits = [(p + f) / p for p, f in zip(plain, fwd, strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    med = statistics.median(ratios)
    return (
        f"| {name} | {args.batch_size}×3×{SIZE}×{SIZE} | {len(ratios)} | {statistics.median(snap) * 1e3:.0f} "
        f"| {statistics.median(plain) * 1e3:.0f} | {statistics.median(fwd) * 1e3:.0f} | **{med:.3f}** "
        f"| {q1:.3f}–{q3:.3f} | {min(ratios):.3f}–{max(ratios):.3f} | {statistics.median(limits):.3f} "
        f"| ≤ {TARGET:.2f} | {'yes' if med <= TARGET else '**no**'} |"
    )


def main() -> None:
    """Time the three sides per backbone and print the table."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    lines = [
        "| model | batch | rounds | SnapMix step (ms) | plain step (ms) | no-grad forward (ms) | ratio (median) "
        "| ratio IQR | ratio min–max | limit: (step + forward) / step | target | ok |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    rows = []
    for name in args.backbones:
        times = interleave(sides(name, args), args.rounds, args.warmup, args.clock)
        if args.methods:
            rows += method_rows(name, times, args)
        else:
            lines.append(row(name, times, args))
    head = (
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.machine()}; batch {args.batch_size}, {args.memory_format}, "
        f"clock {args.clock}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(head + "\n")
    print(methods_table(rows, args) if args.methods else "\n".join(lines))
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        facts = {"bench": "bench_train", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "header": head}
        facts |= {"argv": sys.argv[1:], "rows": rows if args.methods else lines[2:]}
        with args.record.open("a", encoding="utf-8") as f:
            f.write(json.dumps(facts, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
