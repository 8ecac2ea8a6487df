"""Make `import torchvision` work when its compiled extension cannot load.

The only torchvision wheel for torch 2.13 on some machines is a CUDA build whose
extension fails to load against the CPU torch; torchvision's meta registrations
then fail with "operator torchvision::nms does not exist". The models and
transforms are pure Python, so declaring the two op schemas is enough. On a normal
install the extension loads and nothing is declared.
"""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import torch

__all__ = ["ensure_torchvision_importable"]

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the schema library alive for the process


def _extension_loads() -> bool:
    """Whether torchvision's compiled `_C` extension loads against this torch."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True  # not installed: let the real import report it
    package = Path(spec.origin).parent
    for stem in ("_C", "_C_stable"):  # torchvision 0.29 renamed its ops extension to `_C_stable`
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            lib = package / f"{stem}{suffix}"
            if lib.exists():
                try:
                    torch.ops.load_library(str(lib))
                except (OSError, RuntimeError):
                    return False
                return True
    return False


def ensure_torchvision_importable() -> None:
    """Declare torchvision's op schemas once, only if its extension cannot load."""
    global _library
    if _library is not None or "torchvision" in sys.modules or _extension_loads():
        return
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)
