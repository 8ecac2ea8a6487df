"""Every benchmark still runs: its smallest configuration, end to end, in a fresh interpreter.

The figures themselves are not asserted (wall-clock time is never asserted here, and these runs are
too short to mean anything); what is checked is that a script the README quotes figures from has not
rotted as the code under it changed, and that it prints its table.
"""

import ast
import json
import re
import subprocess
import sys

import pytest

from snapmix_demo import BACKBONES
from snapmix_demo.pipeline import DEFAULT_BACKBONE
from tests._venv import ROOT

SMOKE_RUNS = {
    "bench_abuse": [  # both sides probe this checkout: the smallest run of every server probe
        *("--before", ".", "--after", ".", "--skip-images", "--rejected", "2", "--texts", "2", "--big-mb", "1"),
        *("--joins", "2", "--calls", "1", "--bad-streams", "1"),
    ],
    "bench_core": [
        *("--pair-rounds", "1", "--batch-rounds", "1", "--warmup", "0", "--batch-size", "2"),
        *("--backbones", "resnet18", "--threads", "1", "--clock", "cpu", "--lab-rounds", "1"),
        *("--lab-backbones", "resnet18"),
    ],
    "bench_load": [
        *("--per-client", "1", "--rounds", "1", "--concurrency", "1", "2"),
        *("--rss-requests", "2", "--forward-rounds", "1"),
    ],
    "bench_start": ["--rounds", "1"],
    "bench_train": ["--rounds", "2", "--warmup", "0", "--batch-size", "2", "--backbones", "resnet18"],
    "bench_train:methods": [  # every method's step beside a plain one
        *("--rounds", "1", "--warmup", "0", "--batch-size", "2", "--backbones", "resnet18", "--methods", "all"),
    ],
    "finegrained": [
        *("--methods", "none", "snapmix", "--seeds", "0", "--steps", "2", "--batch-size", "4", "--size", "64"),
        *("--train-images", "8", "--test-images", "8", "--pairs", "4", "--mix-start", "0"),
    ],
}


@pytest.mark.parametrize("script", list(SMOKE_RUNS))
def test_benchmark_runs_and_prints_its_table(script, tmp_path):
    argv = [sys.executable, f"benchmarks/{script.split(':')[0]}.py", *SMOKE_RUNS[script]]
    if script == "finegrained":
        argv += ["--out", str(tmp_path / "runs")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "|---" in done.stdout, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


def test_bench_load_says_which_backbone_it_runs():
    source = (ROOT / "benchmarks" / "bench_load.py").read_text()
    assert "BACKBONE = DEFAULT_BACKBONE" in source, "the clients call /snapmix without a backbone: the app's default"
    doc = ast.get_docstring(ast.parse(source))
    named = [name for name in BACKBONES if re.search(rf"(?<![\w.]){name}(?!\w)", doc)]
    assert named == [DEFAULT_BACKBONE]


def test_the_start_up_table_in_the_docs_is_the_committed_record():
    """benchmarks/README.md's start-up table is `bench_start.table` of the last committed record, and the
    performance page's figures quote that record."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_start
    finally:
        sys.path.pop(0)
    lines = (ROOT / "benchmarks" / "results" / "bench_start.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    table = bench_start.table(last["rows"], int(last["argv"][last["argv"].index("--rounds") + 1]))
    assert table in (ROOT / "benchmarks" / "README.md").read_text(), table
    pair = next(r for r in last["rows"] if r["kind"] == "pair auto, empty export cache")
    page = (ROOT / "docs" / "performance.md").read_text()
    assert f"**{pair['over_floor']:.2f}×**" in page and f"{pair['wall_s']:.2f} s" in page, pair
