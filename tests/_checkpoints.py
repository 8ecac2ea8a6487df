"""Real checkpoint files as practitioners' training code writes them, in every layout the project accepts."""

import os
from pathlib import Path

import torch

from snapmix_demo.backbones import build_model

CLASSES = ("sparrow", "finch", "wren", "robin", "heron")

LAYOUTS = {
    "plain": lambda sd: sd,
    "lightning": lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "epoch": 3, "global_step": 120},
    "model-key": lambda sd: {"model": sd, "optimizer": {"lr": 0.001}},
    "ddp": lambda sd: {f"module.{k}": v for k, v in sd.items()},
    "compiled": lambda sd: {f"_orig_mod.{k}": v for k, v in sd.items()},
    "lightning-compiled": lambda sd: {"state_dict": {f"model._orig_mod.{k}": v for k, v in sd.items()}},
}


def trained_state(backbone: str, classes: int = len(CLASSES), seed: int = 5) -> dict[str, torch.Tensor]:
    """A state dict for `backbone` with a `classes`-way head, unlike any seeded init (to tell loads apart)."""
    gen = torch.Generator().manual_seed(seed)
    state = build_model(backbone, num_classes=classes).state_dict()
    out = {k: torch.randn(v.shape, generator=gen) * 0.1 if v.is_floating_point() else v for k, v in state.items()}
    return out | {k: torch.rand(v.shape, generator=gen) + 0.5 for k, v in state.items() if k.endswith("running_var")}


def write_checkpoint(folder: Path, backbone: str, layout: str, state: dict | None = None) -> Path:
    """Save `backbone`'s checkpoint in `layout` under `folder`; returns its path."""
    path = folder / f"{backbone}-{layout}.ckpt"
    torch.save(LAYOUTS[layout](state if state is not None else trained_state(backbone)), path)
    return path


def write_classes(folder: Path, names=CLASSES) -> Path:
    path = folder / "classes.txt"
    path.write_text("\n".join(names) + "\n\n", encoding="utf-8")  # a trailing blank line is ignored
    return path


class WritesMarker:
    """Unpickling this would run `os.system` and write a marker file: weights_only loading must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
