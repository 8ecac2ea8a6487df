"""The evaluations' command line: `python -m snapmix_demo.training.evaluate`.

Without `--methods`: SnapMix's evidence on held-out shapes (`fidelity.evaluate`: accuracy, the CAM pointing
game, label fidelity of SnapMix against two area rules). With `--methods all` (or names): every mixing method
of the registry against the truth (`method_fidelity.evaluate_methods`). Tables and plots: `reports`.

Run: `python -m snapmix_demo.training.evaluate --images 400 --pairs 1000 --plot docs/fidelity.png`, or
`python -m snapmix_demo.training.evaluate --methods all --plot docs/mixes_fidelity.png`.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from snapmix_demo.backbones import BACKBONES
from snapmix_demo.errors import InputError
from snapmix_demo.mixes import MIXES, get_mix
from snapmix_demo.training.fidelity import Evaluation, evaluate_model
from snapmix_demo.training.method_fidelity import METHOD_WEIGHTS, MethodEvaluation, evaluate_methods
from snapmix_demo.training.reports import json_safe, markdown, methods_markdown, methods_plot, record, scatter
from snapmix_demo.weights import available_weights, cached_backbone

__all__ = ["main", "method_names"]


def method_names(values: Sequence[str]) -> list[str]:
    """The registry names `--methods` asks for: `all`, or names that `get_mix` knows (a miss raises InputError)."""
    if not values:
        raise InputError("methods", f"give at least one method, or `all`; choose from: {', '.join(sorted(MIXES))}")
    if "all" in values:
        return list(MIXES)
    return [get_mix(v).name for v in dict.fromkeys(values)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.training.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", nargs="+", default=None, help="default: every backbone with bundled shapes weights")
    p.add_argument("--images", type=int, default=400, help="held-out images (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=1000, help="random pairs and boxes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="*", help="score these mixing methods (or `all`) instead of the SnapMix table")
    p.add_argument("--weights", nargs="+", choices=METHOD_WEIGHTS, default=list(METHOD_WEIGHTS), help="with --methods")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice; 1 on a shared machine)")
    p.add_argument("--plot", type=Path, help="write the figure (the scatter of the first backbone, or every method)")
    p.add_argument("--record", type=Path, help="append the run as a JSON line to this file (benchmarks/results/)")
    return p


def _snapmix_table(args: argparse.Namespace, names: list[str]) -> list[Evaluation]:
    """The SnapMix / own box's area / CutMix evaluation of every backbone; the first one's scatter if asked."""
    results = []
    for name in names:
        bb = cached_backbone(name, weights="shapes")
        evaluation, rows = evaluate_model(bb.model, bb.spec, images=args.images, pairs=args.pairs, seed=args.seed)
        results.append(evaluation)
        if args.plot and len(results) == 1:
            scatter(rows, evaluation, args.plot)
    print(markdown(results))
    return results


def _methods_table(args: argparse.Namespace, names: list[str], methods: list[str]) -> list[MethodEvaluation]:
    """Every method on every (backbone, weights); their figure if asked."""
    results = []
    for name in names:
        for kind in args.weights:
            results += evaluate_methods(name, kind, methods, images=args.images, pairs=args.pairs, seed=args.seed)
    if args.plot:
        methods_plot(results, args.plot)
    print(methods_markdown(results))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the bundled backbones as a Markdown table and JSON; optionally plot and record it."""
    p = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    try:
        methods = None if args.methods is None else method_names(args.methods)
    except InputError as e:
        print(f"{p.prog}: error: --methods: {e.problem}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)  # the pair loop's small ops: more threads only wait on a busy machine
    names = args.backbone or [n for n in sorted(BACKBONES) if "shapes" in available_weights(n)]
    if not names:
        p.error("no bundled shapes weights: train some with `python -m snapmix_demo.training.train`")
    start, cpu_start = time.perf_counter(), time.process_time()
    results = _snapmix_table(args, names) if methods is None else _methods_table(args, names, methods)
    if args.record:
        record(args.record, argv, results, time.perf_counter() - start, time.process_time() - cpu_start)
    print(json.dumps([json_safe(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
