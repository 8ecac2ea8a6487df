"""SnapMix in a plain PyTorch DistributedDataParallel loop, one process per device.

    torchrun --standalone --nproc-per-node 2 examples/ddp_torchrun.py --steps 20

CPU processes talk over gloo, GPUs (one per process) over NCCL. What matters (`snapmix_demo.training.distributed`):
- `snapmix_batch` gets the DDP-wrapped model as it is: it finds `extract_features`/`get_fc` inside
  the wrapper (`patched_module`) and runs the CAM pass on the inner module, without gradients and in
  eval mode, so DDP's gradient sync and BatchNorm's running statistics see only the training forward;
- `sync_buffers` first gives every rank rank 0's BatchNorm statistics (DDP's forward would, but only
  after the CAM pass), so all ranks weigh labels with the statistics a checkpoint saves;
- each rank draws from `mix_generator(seed, rank, step)`: ranks mix differently, and a run resumed at
  step k repeats the mixes of step k;
- each rank trains on its own shard of the step's images (here: generated shapes, seeds per rank).
At the end every rank prints a checksum of its weights: DDP keeps them identical.
"""

import argparse
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from snapmix_demo.backbones import build_model, get_spec
from snapmix_demo.snapmix import normalise, snapmix_batch, snapmix_loss
from snapmix_demo.training.distributed import mix_generator, sync_buffers
from snapmix_demo.training.shapes import PART_CLASSES, make_arrays


def shard(step: int, rank: int, world: int, batch_size: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's images and labels of one step: a slice of the step's fine-grained shapes."""
    first = (step * world + rank) * batch_size
    images, _, labels = make_arrays(range(first, first + batch_size), size, task="parts")
    return normalise(images, get_spec("tf_efficientnet_lite0")), torch.from_numpy(labels)


def checksum(model: torch.nn.Module) -> str:
    """sha256 prefix of every parameter's bytes, in order."""
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def main() -> None:
    """Train `--steps` steps of SnapMix under DDP and print each rank's mixes and final weights checksum."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="resnet18", help="a key of BACKBONES (random init)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=16, help="images per process and step")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0, help="seed of the mixes")
    args = p.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    model = build_model(args.backbone, num_classes=len(PART_CLASSES)).to(device).train()  # same init on every rank
    ddp = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)

    for step in range(args.steps):
        x, y = (t.to(device) for t in shard(step, rank, world, args.batch_size, args.size))
        sync_buffers(ddp)  # a collective: every rank, every step
        generator = mix_generator(args.seed, rank, step, device=device)
        mix = snapmix_batch(x, y, ddp, beta=5.0, prob=1.0, generator=generator)  # the wrapper, as it is
        loss = snapmix_loss(ddp(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        print(
            f"rank {rank} step {step}: loss {loss.item():.3f}, boxes {mix.box_a} <- {mix.box_b}, "
            f"rho_a {mix.rho_a.mean():.3f}, rho_b {mix.rho_b.mean():.3f}, fallback {mix.fallback_a.float().mean():.2f}",
            flush=True,
        )
    print(f"rank {rank}: weights sha256 {checksum(model)}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
