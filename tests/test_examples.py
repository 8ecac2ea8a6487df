"""The runnable examples run: the plain-PyTorch DDP loop under torchrun, 2 CPU processes (gloo)."""

import re
import subprocess
import sys
from pathlib import Path

import torch

from snapmix_demo.backbones import build_model
from snapmix_demo.snapmix import snapmix_batch
from snapmix_demo.training.distributed import mix_generator

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"rank (\d) step (\d): loss [\d.]+, boxes (\(.*?\)) <- (\(.*?\))")


def test_ddp_torchrun_example_trains_two_ranks_in_sync():
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["examples/ddp_torchrun.py", "--steps", "2", "--size", "64", "--batch-size", "4"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    boxes = {(int(r), int(s)): (a, b) for r, s, a, b in LINE.findall(proc.stdout)}
    assert sorted(boxes) == [(0, 0), (0, 1), (1, 0), (1, 1)], proc.stdout
    model = build_model("resnet18", num_classes=4).train()
    x, y = torch.zeros(4, 3, 64, 64), torch.zeros(4, dtype=torch.long)
    for (rank, step), drawn in boxes.items():  # boxes depend only on the generator and the frame
        mix = snapmix_batch(x, y, model, generator=mix_generator(0, rank, step))
        assert drawn == (str(mix.box_a), str(mix.box_b)), f"rank {rank} step {step}: {drawn}"
    assert boxes[0, 0] != boxes[1, 0] and boxes[0, 1] != boxes[1, 1], "the ranks drew the same boxes"
    checksums = re.findall(r"rank \d: weights sha256 (\w+)", proc.stdout)
    assert len(checksums) == 2 and checksums[0] == checksums[1], f"weights differ across ranks: {checksums}"
