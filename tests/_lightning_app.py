"""What the Lightning tests train: a tiny patched CNN, a LightningModule using SnapMixCallback, and recorders.

Shared by tests/test_lightning.py (in-process, one device) and tests/_lightning_ddp.py (a script that
Lightning's DDP launcher starts once per rank). Each training step is recorded with what is needed to
recompute its mix independently: the rank's shard, the backbone's weights before the step, the mix, the
BatchNorm buffers around the CAM pass, and the weights after the optimiser step.
"""

from pathlib import Path

import lightning as L
import torch
from fastcore.basics import patch_to
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snapmix_demo.snapmix import normalise, snapmix_loss
from snapmix_demo.training.shapes import PART_CLASSES, make_arrays

MIX_SEED = 7
BETA = 5.0


class TinyNet(nn.Module):
    """Two conv-BN-ReLU layers, global average pooling, one Linear: CAM-exact, a few thousand weights."""

    def __init__(self, classes: int = len(PART_CLASSES)):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


@patch_to(TinyNet)
def extract_features(self, x: torch.Tensor) -> torch.Tensor:
    """Pre-pool map (B, 16, H/2, W/2)."""
    return self.body(x)


@patch_to(TinyNet)
def get_fc(self) -> nn.Linear:
    """The final Linear."""
    return self.head


def tiny_net() -> TinyNet:
    """A TinyNet initialised from seed 0 without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TinyNet()


class Classifier(L.LightningModule):
    """Trains `backbone` on the mixes that SnapMixCallback leaves in `self.snapmix`, with `snapmix_loss`."""

    def __init__(self, backbone: nn.Module, lr: float = 0.05):
        super().__init__()
        self.backbone = backbone
        self.lr = lr

    def training_step(self, batch, batch_idx):
        _, y = batch
        mix = self.snapmix
        return snapmix_loss(self.backbone(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def shapes_loader(images: int, size: int, batch_size: int, spec) -> DataLoader:
    """The first `images` fine-grained shapes, in order (Lightning shards them per rank under DDP)."""
    pixels, _, labels = make_arrays(range(images), size, task="parts")
    dataset = TensorDataset(normalise(pixels, spec), torch.from_numpy(labels))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def bn_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every BatchNorm running statistic (mean, var, batch count)."""
    return {k: v.clone() for k, v in model.named_buffers() if "running" in k or "num_batches" in k}


class BNSnapshot(L.Callback):
    """Copies the backbone's BatchNorm buffers at the start of each step: list it before SnapMixCallback."""

    buffers: dict[str, torch.Tensor] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.buffers = bn_buffers(pl_module.backbone)


class Recorder(L.Callback):
    """Records each step, listed after SnapMixCallback; with `out`, saves it to `out/rank{r}-step{s}.pt` too."""

    def __init__(self, snapshot: BNSnapshot, out: Path | None = None):
        self.snapshot, self.out, self.records, self._record = snapshot, out, [], {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        x, y = batch
        mix = pl_module.snapmix
        self._record = {
            "rank": trainer.global_rank,
            "step": trainer.global_step,
            "x": x.clone(),
            "y": y.clone(),
            "state_before": {k: v.clone() for k, v in pl_module.backbone.state_dict().items()},
            "mix": {k: getattr(mix, k) for k in ("x", "y_b", "rho_a", "rho_b", "fallback_a", "box_a", "box_b", "perm")},
            "training_after_mix": pl_module.backbone.training,
            "bn_before_mix": self.snapshot.buffers,
            "bn_after_mix": bn_buffers(pl_module.backbone),
        }

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        record = self._record | {
            "bn_after_step": bn_buffers(pl_module.backbone),
            "params_after_step": {k: v.detach().clone() for k, v in pl_module.backbone.named_parameters()},
            "mix_cleared": pl_module.snapmix is None,
        }
        self.records.append(record)
        if self.out is not None:
            torch.save(record, self.out / f"rank{record['rank']}-step{record['step']}.pt")
