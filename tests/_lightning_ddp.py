"""Run by tests/test_lightning.py: TinyNet with SnapMixCallback under Lightning's DDP, 2 CPU processes (gloo).

Lightning's launcher starts this script again for rank 1. Every step of every rank is recorded in `--out`;
a checkpoint is written at the end of each epoch into `--checkpoints`; `--resume` continues from one.

    python tests/_lightning_ddp.py --out DIR --checkpoints DIR [--resume CKPT] [--epochs 2]
"""

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `tests` and `snapmix_demo`

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from snapmix_demo.backbones import get_spec
from snapmix_demo.training.lightning import SnapMixCallback
from tests._lightning_app import BETA, MIX_SEED, BNSnapshot, Classifier, Recorder, shapes_loader, tiny_net

IMAGES, SIZE, BATCH = 16, 32, 4  # 8 images per rank: 2 steps per epoch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--checkpoints", type=Path, required=True)
    p.add_argument("--resume", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(1)  # two processes on two cores
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    snapshot = BNSnapshot()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=args.epochs,
        callbacks=[
            snapshot,
            SnapMixCallback(beta=BETA, prob=1.0, seed=MIX_SEED, sync_dist=True),
            Recorder(snapshot, args.out),
            ModelCheckpoint(dirpath=args.checkpoints, save_top_k=-1, every_n_epochs=1),
        ],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    loader = shapes_loader(IMAGES, SIZE, BATCH, get_spec("tf_efficientnet_lite0"))
    trainer.fit(Classifier(tiny_net()), loader, ckpt_path=args.resume)


if __name__ == "__main__":
    main()
