"""Start-up cost, as ratios to torch's own import, measured side by side in one run.

Kinds of new process, offline, interleaved round by round (the order rotating) so that a stall of
the machine hits every kind alike:

- floor: `python -c "import torch"`, what any PyTorch program pays before doing anything;
- pair: a new process to the first default `snapmix_pair(cat, coffee)` result (tf_efficientnet_lite0 on
  its packaged ImageNet weights), once per engine setting: SNAPMIX_ENGINE=auto with an empty export
  cache (the default: the first analysis runs eagerly), and with `--engines all` also torch, auto with a
  warm cache and onnxruntime with a warm cache (the export loaded before the first analysis);
- app: `python app.py` to the first HTTP 200 of its page on loopback (it computes the first page's
  example result at start-up).

Reported: each kind's median wall time and CPU time (the child's, all threads), and the medians of the
per-round ratios to the floor with their min-max. Target (issue 19): the default pair <= 1.3 x the floor.

    python benchmarks/bench_start.py                                   # 7 rounds, default engine setting
    python benchmarks/bench_start.py --rounds 7 --engines all --record benchmarks/results/bench_start.jsonl
"""

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "import torch"
PAIR = """
from snapmix_demo import snapmix_pair
res = snapmix_pair("assets/examples/cat.jpg", "assets/examples/coffee.jpg")
assert res.weights_kind == "imagenet", res.weights
print(res.engine)
"""
# (SNAPMIX_ENGINE, export cache): the default first; torch never reads the cache.
PAIR_SETTINGS = (("auto", "empty"), ("torch", "empty"), ("auto", "warm"), ("onnxruntime", "warm"))
Run = tuple[float, float, str]  # wall s, child CPU s, what ran the first analysis


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="rounds of every kind, order rotating")
    p.add_argument("--engines", choices=("default", "all"), default="default", help="pair settings to run")
    p.add_argument("--no-app", action="store_true", help="skip the app's start")
    p.add_argument("--record", type=Path, help="append this run's figures as one JSON line to this file")
    return p.parse_args()


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SNAPMIX_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def python_run(code: str, env: dict[str, str]) -> Run:
    """A new interpreter running `code` to its exit: wall s, CPU s, and its last line of output."""
    cpu, tick = _child_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return wall, _child_cpu() - cpu, (done.stdout.strip().splitlines() or [""])[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def app_run(timeout: float = 180.0) -> Run:
    """`python app.py` to the first HTTP 200 of its page: wall s, CPU s up to its stop, "app"."""
    port = _free_port()
    env = _env(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    cpu, tick = _child_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not _answers(f"http://127.0.0.1:{port}/"):
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode(errors="replace")[-2000:])
            if time.perf_counter() - tick > timeout:
                raise TimeoutError(f"the app did not answer within {timeout:.0f} s")
            time.sleep(0.02)
        wall = time.perf_counter() - tick
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return wall, _child_cpu() - cpu, "app"


def kinds(args: argparse.Namespace, scratch: Path) -> dict[str, Callable[[], Run]]:
    """Name -> one measurement of that kind of process."""
    out: dict[str, Callable[[], Run]] = {"floor": lambda: python_run(FLOOR, _env())}
    warm = scratch / "warm"
    settings = PAIR_SETTINGS if args.engines == "all" else PAIR_SETTINGS[:1]
    if any(cache == "warm" for _, cache in settings):  # a Space's build step: `weights fetch --export`
        argv = [sys.executable, "-m", "snapmix_demo.weights", "fetch", "--export", "tf_efficientnet_lite0"]
        subprocess.run(argv, cwd=ROOT, env=_env(TORCH_HOME=str(warm)), check=True, capture_output=True)
    for engine, cache in settings:
        counter = iter(range(10**6))  # an empty cache per run: nothing a previous run exported

        def pair(engine=engine, cache=cache, counter=counter) -> Run:
            home = warm if cache == "warm" else scratch / f"empty-{engine}-{next(counter)}"
            return python_run(PAIR, _env(SNAPMIX_ENGINE=engine, TORCH_HOME=str(home)))

        out[f"pair {engine}, {cache} export cache"] = pair
    if not args.no_app:
        out["app"] = app_run
    return out


def measure(measures: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Runs per kind; the order of the kinds rotates from round to round."""
    names = list(measures)
    out: dict[str, list[Run]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out[name].append(measures[name]())
    return out


def summary(runs: dict[str, list[Run]]) -> list[dict[str, object]]:
    """Per kind: median wall and CPU s, and the median and range of its per-round ratio to the floor."""
    floor = [wall for wall, _, _ in runs["floor"]]
    rows = []
    for name, kind_runs in runs.items():
        ratios = [wall / f for (wall, _, _), f in zip(kind_runs, floor, strict=True)]
        rows.append(
            {
                "kind": name,
                "wall_s": round(statistics.median(r[0] for r in kind_runs), 3),
                "cpu_s": round(statistics.median(r[1] for r in kind_runs), 3),
                "first_analysis": "/".join(sorted({r[2] for r in kind_runs})) if name.startswith("pair") else "",
                "over_floor": round(statistics.median(ratios), 3),
                "over_floor_range": [round(min(ratios), 3), round(max(ratios), 3)],
            }
        )
    return rows


def table(rows: list[dict[str, object]], rounds: int) -> str:
    """Markdown table of the summary."""
    lines = [
        "| process | first analysis on | rounds | median wall s | median CPU s | ratio to `import torch` | min–max "
        "| target |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for i, row in enumerate(rows):
        low, high = row["over_floor_range"]
        target = "≤ 1.3" if i == 1 else "–"  # the default pair setting comes right after the floor
        lines.append(
            f"| {row['kind']} | {row['first_analysis'] or '–'} | {rounds} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} "
            f"| {row['over_floor']:.2f} | {low:.2f}–{high:.2f} | {target} |"
        )
    return "\n".join(lines)


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        return platform.platform()


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="snapmix-start-") as scratch:
        rows = summary(measure(kinds(args, Path(scratch)), args.rounds))
    record = {
        "bench": "bench_start",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_os_name()}",
        "torch": torch.__version__,
        "argv": sys.argv[1:],
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "rows": rows,
    }
    print(f"torch {torch.__version__}, {record['machine']}; load average {load_before:.2f} before, ", end="")
    print(f"{record['load_after']:.2f} after\n")
    print(table(rows, args.rounds))
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        with args.record.open("a") as f:
            f.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
