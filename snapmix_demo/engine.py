"""The engine that runs the analyses' backbone forward: ONNX Runtime where installed, eager PyTorch otherwise.

Why: on a 2-core CPU almost all of a fresh pair's time is the backbone's forward, and eager PyTorch
spends much of it in unfused BatchNorm, convolutions that miss oneDNN and TF-style padding; ONNX
Runtime runs the same graph 1.5-1.8x faster (benchmarks/bench_core.py). Only the patched
`extract_features` is exported (generic across backbones thanks to `@patch_to`); the pipeline keeps
the Linear, the CAMs and the logits in torch, computed from the same features, so the CAM identity
(spatial mean of the CAM = logit) holds by construction. Training never comes here.

`SNAPMIX_ENGINE` chooses: `auto` (default) runs a model's first analysis eagerly, then loads or builds
its export in a background thread and runs later analyses on ONNX Runtime once it is ready (a one-shot
CLI run never pays for an export); `onnxruntime` loads or builds the export before the first analysis;
`torch` never exports. Exports are cached beside the weights in `$TORCH_HOME/hub/checkpoints/snapmix_onnx/`,
one file per (backbone, sha256 of the weights, input size, opset, torch and onnxruntime versions), each
with a JSON sidecar holding the file's sha256: a corrupt or stale file is rebuilt, never trusted. A failed
export or session logs one line and the model stays on eager PyTorch.
"""

import contextlib
import copy
import hashlib
import importlib.util
import io
import json
import logging
import os
import tempfile
import threading
import time
import warnings
import weakref
from pathlib import Path

import torch
from torch import nn

from snapmix_demo.weights import Backbone

__all__ = [
    "ENGINE_CHOICES",
    "EXPORT_OPSET",
    "engine_choice",
    "ensure_export",
    "export_dir",
    "extract_features",
    "onnxruntime_available",
    "prepare",
]

logger = logging.getLogger(__name__)

ENGINE_CHOICES = ("auto", "torch", "onnxruntime")
EXPORT_OPSET = 17
EXPORT_FORMAT = 1  # bump when the export's inputs, outputs or options change: old files then miss the cache
EXPORT_CACHE_FILES = 16  # exports kept on disk (users' checkpoints add theirs), least recently used dropped
EAGER_ANALYSES_FIRST = 1  # under `auto`, analyses of a model that run eagerly before its export is prepared


def engine_choice() -> str:
    """`SNAPMIX_ENGINE` validated: "auto" (unset or empty), "torch" or "onnxruntime"."""
    value = os.environ.get("SNAPMIX_ENGINE", "").strip().lower() or "auto"
    if value not in ENGINE_CHOICES:
        raise ValueError(
            f"SNAPMIX_ENGINE=`{value[:40]}` is not an engine; set it to one of: {', '.join(ENGINE_CHOICES)} "
            "(or unset it for auto)"
        )
    return value


def onnxruntime_available() -> bool:
    """Whether the `[fast]` extra's onnxruntime is installed (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def export_dir() -> Path:
    """Where exports are cached: beside the weights, `$TORCH_HOME/hub/checkpoints/snapmix_onnx`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / "snapmix_onnx"


# ## The pipeline's entry point


class _Runner:
    """One model's ONNX Runtime session, prepared once (in a background thread), or the fact that it failed."""

    def __init__(self) -> None:
        self.session = None
        self.started = False
        self.done = threading.Event()
        self.analyses = 0
        self.lock = threading.Lock()


_runners: "weakref.WeakKeyDictionary[nn.Module, _Runner]" = weakref.WeakKeyDictionary()  # gone with the model
_runners_lock = threading.Lock()


def _runner(model: nn.Module) -> _Runner:
    with _runners_lock:
        if (runner := _runners.get(model)) is None:
            runner = _runners[model] = _Runner()
        return runner


def extract_features(bb: Backbone, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    """`bb.model.extract_features(x)` on the engine `SNAPMIX_ENGINE` chooses; also the name of the one that ran."""
    choice = engine_choice()
    if choice == "torch" or tuple(x.shape[2:]) != tuple(bb.spec.input_size):
        return bb.model.extract_features(x), "torch"
    if choice == "onnxruntime" and not onnxruntime_available():
        raise ValueError(
            "SNAPMIX_ENGINE=onnxruntime but onnxruntime is not installed: `pip install 'snapmix-demo[fast]'` "
            "(or `pip install -r requirements.txt`), or set SNAPMIX_ENGINE=auto"
        )
    runner = _runner(bb.model)
    if choice == "onnxruntime":
        prepare(bb, wait=True)
    if (session := runner.session) is not None:
        try:
            return torch.from_numpy(session.run(None, {"x": x.numpy()})[0]), "onnxruntime"
        except Exception as e:  # a session that fails once is not tried again: eager from now on
            runner.session = None
            logger.warning("ONNX Runtime failed on %s (%s: %s): eager PyTorch from now on", bb.spec.name, _kind(e), e)
    feats = bb.model.extract_features(x)
    if choice == "auto" and onnxruntime_available():
        with runner.lock:
            runner.analyses += 1
            due = runner.analyses > EAGER_ANALYSES_FIRST
        if due:
            prepare(bb)
    return feats, "torch"


def prepare(bb: Backbone, *, wait: bool = False, timeout: float | None = None) -> bool:
    """Start loading or building `bb`'s export and session (once per model); with `wait`, whether it is ready."""
    runner = _runner(bb.model)
    with runner.lock:
        start, runner.started = not runner.started, True
    if start:
        args = (bb.model, bb.spec.name, tuple(bb.spec.input_size), runner)
        threading.Thread(target=_prepare, args=args, name=f"snapmix-export-{bb.spec.name}", daemon=True).start()
    if wait:
        runner.done.wait(timeout)
    return runner.session is not None


def _prepare(model: nn.Module, name: str, size: tuple[int, int], runner: _Runner) -> None:
    """The background half of `prepare`: export (or cached file) -> session; a failure logs one line."""
    try:
        data, _, _ = ensure_export(model, name, size)
        runner.session = _session(data)
    except Exception as e:
        logger.warning("no ONNX Runtime engine for %s (%s: %s): it runs on eager PyTorch", name, _kind(e), e)
    finally:
        runner.done.set()


def _kind(e: BaseException) -> str:
    return type(e).__name__


def _session(data: bytes):
    """An ONNX Runtime CPU session with torch's intra-op thread count (fair comparisons), not spinning idle."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its warnings about folded initialisers are noise here
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # a shared 2-core CPU: no busy wait
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


# ## Exports, cached on disk


def ensure_export(model: nn.Module, name: str, size: tuple[int, int]) -> tuple[bytes, Path, bool]:
    """The ONNX export of `model.extract_features` at `size`: (bytes, its cache file, whether it was built now)."""
    facts = _export_facts(model, name, size)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    path = export_dir() / f"{name}-{digest}.onnx"
    if (data := _read_verified(path, facts)) is not None:
        return data, path, False
    data = _export(model, size)
    try:
        _write_verified(path, facts, data)
    except OSError as e:  # a read-only cache still gets the engine, rebuilt next process
        logger.warning("could not cache the ONNX export of %s in %s (%s)", name, path.parent, e)
    return data, path, True


def _export_facts(model: nn.Module, name: str, size: tuple[int, int]) -> dict[str, object]:
    """Everything an export depends on; a cached file is reused only when its sidecar records the same."""
    import onnxruntime

    return {
        "backbone": name,
        "weights_sha256": state_sha256(model),
        "input_size": list(size),
        "opset": EXPORT_OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "format": EXPORT_FORMAT,
    }


def state_sha256(model: nn.Module) -> str:
    """sha256 of the model's tensors (names, dtypes, shapes, values): its weights, whatever their source."""
    h = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(-1).view(torch.uint8).numpy() if t.numel() else b"")
    return h.hexdigest()


class _Features(nn.Module):
    """The module whose forward is the patched `extract_features`: what the export traces."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) pre-pool features."""
        return self.model.extract_features(x)


_export_lock = threading.Lock()  # the TorchScript exporter keeps global state: one export at a time


def _export(model: nn.Module, size: tuple[int, int]) -> bytes:
    """Trace a private copy (exporting flips train/eval modes: the shared model is never touched)."""
    wrapper = _Features(copy.deepcopy(model)).eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with _export_lock, torch.no_grad(), warnings.catch_warnings():
        # the input size is fixed per backbone on purpose, and opset 17's TorchScript exporter is the measured one
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        torch.onnx.export(
            wrapper,
            (x,),
            buf,
            dynamo=False,
            opset_version=EXPORT_OPSET,
            input_names=["x"],
            output_names=["features"],
            dynamic_axes={"x": {0: "batch"}, "features": {0: "batch"}},
        )
    return buf.getvalue()


def _read_verified(path: Path, facts: dict[str, object]) -> bytes | None:
    """The cached export's bytes if its sidecar matches `facts` and the bytes match the sidecar's sha256."""
    sidecar = path.with_suffix(".json")
    try:
        recorded = json.loads(sidecar.read_text())
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("facts") != facts:
        logger.info("stale ONNX export %s: rebuilding it", path.name)
        return None
    if recorded.get("sha256") != hashlib.sha256(data).hexdigest():
        logger.warning("corrupt ONNX export %s (sha256 differs from its sidecar): rebuilding it", path.name)
        return None
    os.utime(path)  # recently used: kept by the bound
    return data


def _write_verified(path: Path, facts: dict[str, object], data: bytes) -> None:
    """Write the export, then its sidecar, each atomically; then drop the least recently used beyond the bound."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, data)
    record = {"facts": facts, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    _atomic_write(path.with_suffix(".json"), json.dumps(record, indent=1).encode())
    with contextlib.suppress(OSError):  # another process may prune the same folder at the same time
        _prune(path.parent)


def _prune(folder: Path) -> None:
    """Keep the EXPORT_CACHE_FILES most recently used exports; drop partial writes an hour old or more."""
    exports = sorted(folder.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in exports[EXPORT_CACHE_FILES:]:
        old.with_suffix(".json").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    for partial in [*folder.glob(".*.onnx.*"), *folder.glob(".*.json.*")]:  # left by a process killed mid-write
        if time.time() - partial.stat().st_mtime > 3600:
            partial.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # as torch.hub leaves the weights beside it (mkstemp makes 0600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
