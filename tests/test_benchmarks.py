"""Every benchmark still runs: its smallest configuration, end to end, in a fresh interpreter.

The figures themselves are not asserted (wall-clock time is never asserted here, and these runs are
too short to mean anything); what is checked is that a script the README quotes figures from has not
rotted as the code under it changed, and that it prints its table.
"""

import subprocess
import sys

import pytest

from tests._venv import ROOT

SMOKE_RUNS = {
    "bench_core": [
        *("--pair-rounds", "1", "--batch-rounds", "1", "--warmup", "0", "--batch-size", "2"),
        *("--backbones", "resnet18", "--cold-starts", "1", "--threads", "1", "--clock", "cpu"),
    ],
    "bench_load": [
        *("--per-client", "1", "--rounds", "1", "--concurrency", "1", "2"),
        *("--rss-requests", "2", "--forward-rounds", "1"),
    ],
    "bench_train": ["--rounds", "2", "--warmup", "0", "--batch-size", "2", "--backbones", "resnet18"],
    "finegrained": [
        *("--methods", "none", "snapmix", "--seeds", "0", "--steps", "2", "--batch-size", "4", "--size", "64"),
        *("--train-images", "8", "--test-images", "8", "--pairs", "4", "--mix-start", "0"),
    ],
}


@pytest.mark.parametrize("script", list(SMOKE_RUNS))
def test_benchmark_runs_and_prints_its_table(script, tmp_path):
    argv = [sys.executable, f"benchmarks/{script}.py", *SMOKE_RUNS[script]]
    if script == "finegrained":
        argv += ["--out", str(tmp_path / "runs")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "|---" in done.stdout, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
