"""Training on several devices: the patched API through wrappers, per-rank random streams, synced statistics.

`snapmix_batch` needs the backbone's `extract_features`/`get_fc`, which DistributedDataParallel,
DataParallel and torch.compile hide behind a wrapper (the core's `unwrap.patched_module` finds them); each
rank must draw its own reproducible mixes (`mix_generator`); and under DDP the CAM pass must see the BatchNorm
statistics that DDP itself treats as the model's (`sync_buffers`). Pure torch: the Lightning callback and
a plain `torchrun` loop use the same functions.
"""

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["mix_generator", "sync_buffers"]


def sync_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics) now, as a DDP model does first thing in its forward.

    Between one step's forward and the next, each rank of a DDP model holds the statistics of its own last
    batch; only the next forward broadcasts rank 0's. A CAM pass in that gap would weigh labels with
    rank-local statistics, which a run resumed from rank 0's checkpoint cannot repeat. A collective: every
    rank must call it. No-op for anything but a DDP model that syncs its buffers.
    """
    if not (isinstance(model, DistributedDataParallel) and model.will_sync_module_buffers()):
        return
    src = dist.get_global_rank(model.process_group, 0)
    buffers = list(model.module.buffers())
    with torch.no_grad():
        for dtype in sorted({b.dtype for b in buffers}, key=str):  # one broadcast per dtype, same order on all ranks
            same = [b for b in buffers if b.dtype == dtype]
            flat = torch.cat([b.reshape(-1) for b in same])
            dist.broadcast(flat, src=src, group=model.process_group)
            for b, value in zip(same, flat.split([b.numel() for b in same]), strict=True):
                b.copy_(value.view_as(b))


def mix_generator(seed: int, rank: int, step: int, *, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator seeded from (seed, rank, step): ranks differ, and a resumed run that knows its step repeats.

    numpy's SeedSequence hashes the triple, so neighbouring seeds, ranks and steps give unrelated streams
    (no `seed + rank` collisions between runs).
    """
    state = np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state))
