"""Train a registered backbone on the procedural shapes with the project's own `snapmix_batch`.

Writes a half-precision checkpoint to `assets/weights/` and its manifest entry (classes,
input size, sha256, the exact command, held-out accuracy), which `load_backbone(...,
weights="shapes")` verifies and loads. The networks are fully convolutional: most steps
run at a low resolution for speed, then a short final phase at the app's input size.

Run: `python -m snapmix_demo.train --backbone efficientnet_b0`.
"""

import argparse
import hashlib
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from snapmix_demo.backbones import build_model, get_spec
from snapmix_demo.evaluate import heldout_accuracy, normalise
from snapmix_demo.shapes import CLASSES, HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.snapmix import snapmix_batch, snapmix_loss
from snapmix_demo.weights import BUNDLED_DIR

__all__ = ["main", "train"]


def train(
    backbone: str,
    *,
    steps: int,
    final_steps: int,
    batch_size: int = 32,
    size: int = 128,
    lr: float = 2e-3,
    beta: float = 5.0,
    prob: float = 0.5,
    difficulty_steps: int = 0,
    mix_start: int = 0,
    seed: int = 0,
) -> torch.nn.Module:
    """Train `backbone` from scratch: `steps` at `size` px, then `final_steps` at the backbone's input size.

    From scratch, small objects on full clutter sit at chance for many hundreds of steps: global average pooling
    drowns a few object pixels in background statistics. A curriculum helps: the dataset's difficulty (object
    size range and clutter) ramps from 0 to 1 over the first `difficulty_steps`, and SnapMix starts at `mix_start`,
    once BatchNorm's running statistics (used by the eval-mode CAMs) and the CAMs themselves mean something.
    """
    spec = get_spec(backbone)
    model = build_model(backbone, num_classes=len(CLASSES)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps + final_steps, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(seed)
    first_seed = seed * 10_000_000
    if first_seed + (steps + final_steps) * batch_size >= HELDOUT_SEED_BASE:
        raise ValueError("training seeds would reach the held-out range; use a smaller `seed`")
    progress = tqdm(range(steps + final_steps), desc=f"train {backbone}", unit="step", mininterval=5)
    running = None
    for step in progress:
        side = size if step < steps else spec.input_size[0]
        seeds = range(first_seed + step * batch_size, first_seed + (step + 1) * batch_size)
        difficulty = min(1.0, step / difficulty_steps) if difficulty_steps else 1.0
        images, _, labels = make_arrays(seeds, side, difficulty=difficulty)
        x, y = normalise(images, spec), torch.from_numpy(labels)
        mix = snapmix_batch(x, y, model, beta=beta, prob=prob if step >= mix_start else 0.0, generator=generator)
        loss = snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        progress.set_postfix(loss=f"{running:.3f}", px=side, difficulty=f"{difficulty:.2f}")
    return model.eval()


def save_bundled(model: torch.nn.Module, backbone: str, *, command: str, accuracy: float, seconds: float) -> Path:
    """Write `model` in half precision under assets/weights and record it in the manifest."""
    BUNDLED_DIR.mkdir(parents=True, exist_ok=True)
    path = BUNDLED_DIR / f"{backbone}_shapes.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
    manifest_path = BUNDLED_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[backbone] = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "classes": list(CLASSES),
        "input_size": list(get_spec(backbone).input_size),
        "command": command,
        "heldout_accuracy": accuracy,
        "heldout_images": 400,
        "train_seconds": round(seconds),
        "storage": "float16 state_dict, computed in float32",
    }
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Train, measure held-out accuracy, write the checkpoint and manifest entry."""
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.train", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="efficientnet_b0", help="a key of BACKBONES (default: %(default)s)")
    p.add_argument("--steps", type=int, default=700, help="steps at --size px (default: %(default)s)")
    p.add_argument("--final-steps", type=int, default=60, help="steps at the input size (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--size", type=int, default=128, help="side of the low-resolution phase (default: %(default)s)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--prob", type=float, default=0.5, help="SnapMix probability per batch (default: %(default)s)")
    p.add_argument("--difficulty-steps", type=int, default=0, help="steps over which difficulty ramps from 0 to 1")
    p.add_argument("--mix-start", type=int, default=0, help="first step that may use SnapMix")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # dropout and any other layer-internal randomness
    start = time.perf_counter()
    model = train(
        args.backbone,
        steps=args.steps,
        final_steps=args.final_steps,
        batch_size=args.batch_size,
        size=args.size,
        lr=args.lr,
        prob=args.prob,
        difficulty_steps=args.difficulty_steps,
        mix_start=args.mix_start,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    accuracy = heldout_accuracy(model, get_spec(args.backbone))  # of the weights as stored
    command = shlex.join(["python", "-m", "snapmix_demo.train", *(sys.argv[1:] if argv is None else argv)])
    path = save_bundled(model, args.backbone, command=command, accuracy=accuracy, seconds=seconds)
    print(f"{args.backbone}: held-out accuracy {accuracy:.1%} after {seconds / 60:.1f} min -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
