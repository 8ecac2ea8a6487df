"""The module that carries the patched API, found inside DDP, DataParallel and torch.compile wrappers.

Core, pure torch: `snapmix_batch`'s CAM pass needs it on one device as on many; training code imports it from here.
"""

import sys

from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

__all__ = ["has_patched_api", "patched_module"]


def patched_module(model: nn.Module) -> nn.Module:
    """The module that carries `extract_features`/`get_fc`, unwrapped from DDP, DataParallel and torch.compile.

    Wrappers hide the patched API (the official SnapMix code hard-codes `.module`); the CAM pass calls the
    inner module directly, which also keeps it out of DDP's forward hooks and compiled graphs.
    """
    inner = model
    while not has_patched_api(inner):
        wrapped = _wrapped(inner)
        if wrapped is None:
            raise TypeError(
                f"`{type(model).__name__}` has no `extract_features`/`get_fc`: pass a backbone from "
                "`load_backbone`/`build_model` (or one patched with @patch_to), bare or wrapped in "
                "DistributedDataParallel, DataParallel or torch.compile"
            )
        inner = wrapped
    return inner


def has_patched_api(model: nn.Module) -> bool:
    """Whether `model`'s class carries the patched accessors (a wrapper may forward attributes, not its class)."""
    return all(callable(getattr(type(model), name, None)) for name in ("extract_features", "get_fc"))


def _wrapped(model: nn.Module) -> nn.Module | None:
    """The module inside a DDP/DataParallel or torch.compile wrapper, else None."""
    if isinstance(model, DistributedDataParallel | DataParallel):
        return model.module
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")  # loaded whenever an OptimizedModule exists
    if eval_frame is not None and isinstance(model, eval_frame.OptimizedModule):
        return model._orig_mod
    return None
