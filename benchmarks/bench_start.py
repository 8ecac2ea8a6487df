"""Start-up cost, as ratios to torch's own import, measured side by side in one run.

Three kinds of new process, offline, interleaved round by round so that a stall of the machine
hits every kind alike:

- floor: `python -c "import torch"`, what any PyTorch program pays before doing anything;
- pair: a new process to the first default `snapmix_pair(cat, coffee)` result (tf_efficientnet_lite0,
  its packaged ImageNet weights);
- app: `python app.py` to the first HTTP 200 of its page on loopback.

Reported: each kind's median wall time, and the medians of the per-round ratios pair / floor and
app / floor with their min-max. Target (issue 19): pair / floor <= 1.3.

    python benchmarks/bench_start.py                 # 7 rounds
    python benchmarks/bench_start.py --rounds 11 --record benchmarks/results/bench_start.jsonl
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "import torch"
PAIR = """
from snapmix_demo import snapmix_pair
res = snapmix_pair("assets/examples/cat.jpg", "assets/examples/coffee.jpg")
assert res.weights_kind == "imagenet", res.weights
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="rounds of (floor, pair, app), order rotating")
    p.add_argument("--no-app", action="store_true", help="skip the app's start (floor and pair only)")
    p.add_argument("--record", type=Path, help="append this run's figures as one JSON line to this file")
    return p.parse_args()


def _env() -> dict[str, str]:
    return {**os.environ, "SNAPMIX_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}


def python_seconds(code: str) -> float:
    """Wall seconds of a new interpreter running `code` to its exit."""
    tick = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - tick


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_seconds(timeout: float = 120.0) -> float:
    """Wall seconds from `python app.py` to the first HTTP 200 of its page."""
    port = _free_port()
    env = {**_env(), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    tick = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while time.perf_counter() - tick < timeout:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - tick
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"the app did not answer within {timeout:.0f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(rounds: int, with_app: bool) -> dict[str, list[float]]:
    """Seconds per kind and round; the order of the kinds rotates from round to round."""
    kinds = {"floor": lambda: python_seconds(FLOOR), "pair": lambda: python_seconds(PAIR)}
    if with_app:
        kinds["app"] = app_seconds
    names = list(kinds)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out[name].append(kinds[name]())
    return out


def summary(seconds: dict[str, list[float]]) -> dict[str, object]:
    """Medians of each kind and of the per-round ratios to the floor."""
    floor = seconds["floor"]
    fig: dict[str, object] = {f"{k}_s": round(statistics.median(v), 3) for k, v in seconds.items()}
    for kind in (k for k in seconds if k != "floor"):
        ratios = [t / f for t, f in zip(seconds[kind], floor, strict=True)]
        fig[f"{kind}_over_floor"] = round(statistics.median(ratios), 3)
        fig[f"{kind}_over_floor_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    return fig


def table(fig: dict[str, object], rounds: int) -> str:
    """Markdown table of the summary."""
    rows = [
        "| process | rounds | median wall s | ratio to `import torch` (median) | min–max | target |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    rows.append(f"| `python -c 'import torch'` (floor) | {rounds} | {fig['floor_s']:.2f} | 1 | – | – |")
    rows.append(
        f"| first default `snapmix_pair` | {rounds} | {fig['pair_s']:.2f} | {fig['pair_over_floor']:.2f} | "
        f"{fig['pair_over_floor_range'][0]:.2f}–{fig['pair_over_floor_range'][1]:.2f} | ≤ 1.3 |"
    )
    if "app_s" in fig:
        rows.append(
            f"| `python app.py` to first HTTP 200 | {rounds} | {fig['app_s']:.2f} | {fig['app_over_floor']:.2f} | "
            f"{fig['app_over_floor_range'][0]:.2f}–{fig['app_over_floor_range'][1]:.2f} | info |"
        )
    return "\n".join(rows)


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        return platform.platform()


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    seconds = measure(args.rounds, with_app=not args.no_app)
    fig = summary(seconds)
    record = {
        "bench": "bench_start",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_os_name()}",
        "torch": torch.__version__,
        "rounds": args.rounds,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        **fig,
    }
    print(f"torch {torch.__version__}; load average {record['load_before']} before, {record['load_after']} after\n")
    print(table(fig, args.rounds))
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        with args.record.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
