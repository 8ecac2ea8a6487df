"""torchvision on demand: imported only when needed, importable even where its compiled extension cannot load.

Two jobs, both done from an import hook so that nothing here imports torchvision itself:

- The only torchvision wheel for torch 2.13 on some machines is a CUDA build whose extension fails to
  load against the CPU torch; torchvision's meta registrations then fail with "operator
  torchvision::nms does not exist". Its models and transforms are pure Python, so declaring the two op
  schemas is enough to import them. That is said once, as a `TorchvisionExtensionWarning` naming both
  builds and what stays broken (`torchvision.ops.nms` and the other compiled operators).
- `patches.py` patches torchvision's classes when `torchvision.models` is first imported, by anyone,
  in any order (`after_import`), so `import snapmix_demo` stays as cheap as torch and geffnet.

This module imports only the standard library at import time, so `scripts/setup.sh` can load it from a
`.pth` start-up file on such machines and `import lightning` (which imports torchvision) works before
`import snapmix_demo` too.
"""

import importlib.machinery
import re
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

__all__ = [
    "TorchvisionExtensionWarning",
    "after_import",
    "ensure_torchvision_importable",
    "extension_error",
    "install_import_hook",
    "pth_line",
]

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_lock = threading.RLock()
_library = None  # keeps the schema library alive for the process
_callbacks: dict[str, list[Callable[[], None]]] = {}


class TorchvisionExtensionWarning(UserWarning):
    """torchvision imports without its compiled operators (its wheel was built for another torch)."""


def extension_error() -> str | None:
    """Why torchvision's compiled `_C` extension does not load against this torch, or None when it loads."""
    import torch

    spec = importlib.machinery.PathFinder.find_spec("torchvision")  # not importlib.util: it would ask our finder
    if spec is None or spec.origin is None:
        return None  # not installed: let the real import report it
    package = Path(spec.origin).parent
    for stem in ("_C", "_C_stable"):  # torchvision 0.29 renamed its ops extension to `_C_stable`
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            lib = package / f"{stem}{suffix}"
            if lib.exists():
                try:
                    torch.ops.load_library(str(lib))
                except (OSError, RuntimeError) as e:
                    root = e.__cause__ or e  # torch wraps the loader's own message ("libc10_cuda.so: ...")
                    return str(root).splitlines()[0] if str(root) else type(root).__name__
                return None
    return "the package has no compiled `_C` extension"


def _declared() -> bool:
    """Whether `torchvision::nms` exists (declared by torchvision's extension or by an earlier call here)."""
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 (the lookup raises when the operator does not exist)
    except (AttributeError, RuntimeError):
        return False
    return True


def ensure_torchvision_importable() -> None:
    """Declare torchvision's op schemas, once, only if its extension cannot load; warn when doing so."""
    global _library
    with _lock:
        if _library is not None or "torchvision" in sys.modules or _declared():
            return
        why = extension_error()
        if why is None:
            return
        import torch

        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)
    warnings.warn(
        f"torchvision {_build()} cannot load its compiled extension against torch "
        f"{torch.__version__} ({why}). Its models and transforms work (SnapMix needs nothing else), but its "
        "compiled operators do not: torchvision.ops.nms, roi_align, deform_conv2d and the image/video "
        "decoders raise when called. Install the torchvision build made for this torch to have them.",
        TorchvisionExtensionWarning,
        stacklevel=2,
    )


def _build() -> str:
    """Torchvision's version with its build tag (`0.28.0+cu130`), read from its files without importing it."""
    spec = importlib.machinery.PathFinder.find_spec("torchvision")
    version_file = Path(spec.origin).with_name("version.py") if spec and spec.origin else None
    if version_file and version_file.exists():
        found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", version_file.read_text())
        if found:
            return found.group(1)
    from importlib import metadata  # only here: the start-up hook keeps its own import cheap

    try:
        return metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return "(unknown version)"


def after_import(module: str, callback: Callable[[], None]) -> None:
    """Call `callback` once `module` (a torchvision submodule) is imported: now if it already is, else then."""
    with _lock:
        if module not in sys.modules:
            install_import_hook()
            _callbacks.setdefault(module, []).append(callback)
            return
    callback()


def install_import_hook() -> None:
    """Make every later `import torchvision` declare the schemas it needs and run `after_import` callbacks."""
    with _lock:
        if not any(isinstance(finder, _TorchvisionFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _TorchvisionFinder())


class _TorchvisionFinder:
    """A meta path finder (by protocol: importlib.abc costs 28 ms at start-up) that finds nothing itself.

    It runs the shim before `torchvision` loads, and callbacks after a watched module has run.
    """

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname == "torchvision":
            ensure_torchvision_importable()
            return None
        if fullname not in _callbacks:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenCallBack(spec.loader, fullname)
        return spec


class _ThenCallBack:
    """The module's own loader, then the callbacks registered for it."""

    def __init__(self, loader, name: str):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        with _lock:
            callbacks = _callbacks.pop(self._name, [])
        for callback in callbacks:
            callback()

    def __getattr__(self, name: str):
        return getattr(self._loader, name)  # get_source, get_filename, ... for inspect and linecache


def pth_line() -> str:
    """The one line of a `.pth` start-up file that loads this file by path and installs the import hook.

    Loaded under its package name but without running the package (which imports torch), it costs about
    10 ms per interpreter start; `scripts/setup.sh` writes it only where torchvision needs it.
    """
    return (
        "import importlib.util as _u, sys as _s; "
        f"_p = _u.spec_from_file_location('snapmix_demo._torchvision', {str(Path(__file__).resolve())!r}); "
        "_m = _u.module_from_spec(_p); _s.modules[_p.name] = _m; _p.loader.exec_module(_m); _m.install_import_hook()"
    )
