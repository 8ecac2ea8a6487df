"""Our own (trusted, verified) weight files read safely, and checkpoint keys fitted to a model: explicit maps.

A user's (untrusted) checkpoint is read by `user.read_untrusted_checkpoint`, with size and layout checks.
"""

import pickle
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from snapmix_demo.errors import UserError, excerpt
from snapmix_demo.weights.download import expected_prefix, sha256

__all__ = [
    "KEY_MAPS",
    "fit_problems",
    "load_trusted_state",
    "map_efficientnet_pytorch_keys",
    "remap_densenet_keys",
    "verify_name_hash",
]


def load_trusted_state(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of one of our weight files (packaged, hub cache, bundled), read with `weights_only=True`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise UserError(f"checkpoint `{path.name}` could not be loaded safely ({type(e).__name__}); delete it") from e
    return state.get("state_dict", state) if isinstance(state, dict) else state


def fit_problems(state: dict[str, torch.Tensor], model: nn.Module, limit: int = 3) -> list[str]:
    """What keeps `state` from loading into `model`: the first few missing, unexpected and mis-shaped keys."""
    target = model.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if keys:
            more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
            problems.append(f"{what}: {', '.join(keys[:limit])}{more}")
    return problems


_EFFNET_PT_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_EFFNET_PT_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_EFFNET_PT_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def _effnet_pt_name(key: str, blocks: Sequence[str], expanded: set[int]) -> str:
    """Geffnet's name for one EfficientNet-PyTorch key, e.g. `_blocks.3._bn0.bias` -> `blocks.2.0.bn1.bias`."""
    parts = key.split(".")
    if parts[0] == "_blocks" and len(parts) > 3 and parts[1].isdigit() and int(parts[1]) < len(blocks):
        index = int(parts[1])
        layer = (_EFFNET_PT_INVERTED if index in expanded else _EFFNET_PT_SEPARABLE).get(parts[2])
        if layer:
            return ".".join([blocks[index], layer, *parts[3:]])
    elif parts[0] in _EFFNET_PT_TOP:
        return ".".join([_EFFNET_PT_TOP[parts[0]], *parts[1:]])
    raise UserError(f"checkpoint key `{excerpt(key, 80)}` has no counterpart in the model")


def map_efficientnet_pytorch_keys(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch state dict (`_blocks.N._depthwise_conv`) to a geffnet model's names.

    The N-th flat block is the N-th block of geffnet's stages, in order; a block with an `_expand_conv` is an
    inverted residual, one without is depthwise-separable. The result must give every model key exactly one
    tensor of the right shape, or this raises with the first few problems: never a blind zip.
    """
    blocks = [f"blocks.{s}.{i}" for s, stage in enumerate(model.blocks) for i in range(len(stage))]
    expanded = {int(k.split(".")[1]) for k in state if k.startswith("_blocks.") and "._expand_conv." in k}
    mapped = {_effnet_pt_name(key, blocks, expanded): tensor for key, tensor in state.items()}
    problems = fit_problems(mapped, model)
    if len(mapped) != len(state):
        problems.append(f"{len(state) - len(mapped)} keys mapped onto names already taken")
    if problems:
        raise UserError(
            f"the EfficientNet-PyTorch checkpoint does not fit {type(model).__name__}: {'; '.join(problems)}"
        )
    return mapped


KEY_MAPS = {"efficientnet-pytorch": map_efficientnet_pytorch_keys}


def remap_densenet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old torchvision DenseNet checkpoints name `norm.1` what the module now calls `norm1`."""
    return {_LEGACY_DENSENET_KEY.sub(r"\1\2.", k): v for k, v in state.items()}


_LEGACY_DENSENET_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")
_verified: set[Path] = set()


def verify_name_hash(path: Path) -> None:
    """Check a weights file against the sha256 prefix in its name, once per process."""
    if path in _verified:
        return
    prefix = expected_prefix(path.name)
    if not sha256(path).startswith(prefix):
        raise UserError(f"weights file `{path.name}` does not match the sha256 prefix in its name; reinstall it")
    _verified.add(path)
