"""A practitioner's own checkpoint: the layouts training code writes, its class names, and what it fits.

Accepted: a plain `state_dict`; `{"state_dict": ...}` (Lightning); `{"model": ...}`; keys
prefixed by `module.` (DDP), `model.` (a Lightning module's attribute) or `_orig_mod.`
(`torch.compile`), in any nesting. Everything loads with `weights_only=True`; results name the
file by its base name and sha256 prefix, never by its path.
"""

import functools
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from snapmix_demo.backbones import BACKBONES, BackboneSpec, build_model, spec_of
from snapmix_demo.errors import UserError, excerpt
from snapmix_demo.weights.checkpoints import remap_densenet_keys
from snapmix_demo.weights.download import sha256

__all__ = [
    "CHECKPOINT_MAX_BYTES",
    "UserCheckpoint",
    "checkpoint_digest",
    "checkpoint_head_size",
    "class_list",
    "class_names",
    "head_size",
    "read_untrusted_checkpoint",
    "similar_backbones",
]

CHECKPOINT_MAX_BYTES = int(float(os.environ.get("SNAPMIX_CHECKPOINT_MAX_MB", "250")) * 1024 * 1024)
CLASSES_MAX_BYTES = 1024 * 1024  # a class list of 1 MB holds ~50,000 names
CLASS_NAME_MAX_CHARS = 200
_WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")
_NESTED_STATE = ("state_dict", "model")


_digests: dict[tuple[str, int, int], str] = {}  # (real path, size, mtime) -> sha256: hash each upload once


def checkpoint_digest(path: str | os.PathLike) -> str:
    """sha256 of a checkpoint file, remembered while the file is unchanged (it keys the model cache)."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise UserError(f"checkpoint `{excerpt(Path(path).name)}` could not be read") from e
    key = (os.path.realpath(path), info.st_size, info.st_mtime_ns)
    if key not in _digests:
        if len(_digests) >= 256:
            _digests.clear()
        _digests[key] = sha256(Path(path))
    return _digests[key]


@dataclass(frozen=True)
class UserCheckpoint:
    """A checkpoint read from disk: its tensors under the model's own names, and who it is."""

    state: dict[str, torch.Tensor]
    name: str  # base name only
    sha256: str

    @property
    def label(self) -> str:
        """How results name it: base name and sha256 prefix."""
        return f"{self.name}, sha256 {self.sha256[:8]}"


def read_untrusted_checkpoint(path: str | os.PathLike) -> UserCheckpoint:
    """Read a user's checkpoint file safely and unwrap its layout; errors name the file, never its folder.

    Raises:
        ValueError: missing, too large, unsafe or not a checkpoint of tensors.
    """
    path = Path(path)
    label = f"checkpoint `{excerpt(path.name)}`"
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"{label} could not be read") from e
    limit = f"{CHECKPOINT_MAX_BYTES / (1024 * 1024):g} MB (SNAPMIX_CHECKPOINT_MAX_MB)"
    if size > CHECKPOINT_MAX_BYTES:
        raise UserError(f"{label} is larger than {limit}")
    unsafe = (
        f"{label} could not be loaded safely: it is not a PyTorch checkpoint, or it holds objects other than "
        "tensors and plain values (only weights_only=True loading is allowed)"
    )
    try:
        unpacked = _unpacked_size(path)
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise UserError(unsafe) from e
    if unpacked > CHECKPOINT_MAX_BYTES:
        raise UserError(f"{label} unpacks to more than {limit}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # untrusted bytes: torch's unpickler also raises IndexError, struct.error, ...
        raise UserError(unsafe) from e
    state = _strip_wrappers(_unnest(loaded, label))
    return UserCheckpoint(remap_densenet_keys(state), path.name, checkpoint_digest(path))


def _unpacked_size(path: Path) -> int:
    """Bytes that `torch.load` would unpack: a zip archive's declared sizes, else the file's own size.

    `torch.save` stores its zip entries uncompressed, but `torch.load` inflates compressed ones: a few
    MB of deflated zeros would otherwise unpack into gigabytes of memory.
    """
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.load's own test for its zip format
            return os.fstat(f.fileno()).st_size
    with zipfile.ZipFile(path) as archive:
        return sum(entry.file_size for entry in archive.infolist())


def _unnest(loaded: object, label: str) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: itself, or under "state_dict" (Lightning) or "model"."""
    if isinstance(loaded, dict):
        for key in _NESTED_STATE:
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    tensors = isinstance(loaded, dict) and loaded and all(isinstance(v, torch.Tensor) for v in loaded.values())
    if not tensors or not all(isinstance(k, str) for k in loaded):
        raise UserError(f"{label} holds no state dict of tensors (nor one under 'state_dict' or 'model')")
    return loaded


def _strip_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the wrapper prefixes that every key shares (`module.`, `model.`, `_orig_mod.`), in any nesting."""
    while prefix := next((p for p in _WRAPPER_PREFIXES if all(k.startswith(p) for k in state)), None):
        state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def head_size(state: dict[str, torch.Tensor], spec: BackboneSpec) -> int:
    """Number of classes of `spec`'s classifier in `state` (rows of its Linear's weight)."""
    weight = state.get(f"{spec.fc_path}.weight")
    if weight is None or weight.ndim != 2:
        raise KeyError(f"{spec.fc_path}.weight")
    return weight.shape[0]


def checkpoint_head_size(path: str | os.PathLike, backbone: str | BackboneSpec) -> int:
    """`head_size` of a checkpoint file, loaded once per content: the app asks on every control change."""
    return _head_size_of(checkpoint_digest(path), os.fspath(path), spec_of(backbone))


@functools.lru_cache(maxsize=16)
def _head_size_of(digest: str, path: str, spec: BackboneSpec) -> int:
    return head_size(read_untrusted_checkpoint(path).state, spec)


Classes = Sequence[str] | str | os.PathLike | None  # names, a text file of names (one per line), or none


def class_list(classes: Classes) -> tuple[str, ...] | None:
    """The names a user gave: a list, or a UTF-8 text file with one name per line (blank lines skipped)."""
    if classes is None:
        return None
    names = _read_names(classes) if isinstance(classes, str | os.PathLike) else [str(c).strip() for c in classes]
    if too_long := next((n for n in names if len(n) > CLASS_NAME_MAX_CHARS), None):
        raise UserError(f"class name `{excerpt(too_long)}` is longer than {CLASS_NAME_MAX_CHARS} characters")
    return tuple(names)


def class_names(names: tuple[str, ...] | None, count: int) -> tuple[str, ...]:
    """`count` class names: the user's, checked against the classifier, else `class 0` ... `class N-1`.

    Raises:
        ValueError: the number of names is not the classifier's number of classes.
    """
    if names is None:
        return tuple(f"class {i}" for i in range(count))
    if len(names) != count:
        raise UserError(
            f"the class list has {len(names)} name{'s' * (len(names) != 1)}, but the checkpoint's classifier "
            f"predicts {count} classes; "
            "give one name per class, one per line"
        )
    return names


def _read_names(path: str | os.PathLike) -> list[str]:
    """Non-empty lines of a UTF-8 text file of class names."""
    try:
        if os.path.getsize(path) > CLASSES_MAX_BYTES:
            raise UserError(f"the class list is larger than {CLASSES_MAX_BYTES // 1024} KB")
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError("the class list could not be read: give a UTF-8 text file with one name per line") from e


@functools.cache
def _shapes(spec: BackboneSpec) -> dict[str, tuple[int, ...]]:
    """Key -> shape of `spec`'s state dict, built on the meta device (no memory, no weights)."""
    with torch.device("meta"):
        model = build_model(spec, num_classes=1)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _fits(state: dict[str, torch.Tensor], spec: BackboneSpec) -> bool:
    """Whether `state` has exactly `spec`'s keys and shapes, whatever its number of classes."""
    shapes = _shapes(spec)
    if state.keys() != shapes.keys():
        return False
    return all(k.startswith(f"{spec.fc_path}.") or tuple(v.shape) == shapes[k] for k, v in state.items())


def similar_backbones(state: dict[str, torch.Tensor], other_than: BackboneSpec) -> list[str]:
    """Names of the registered backbones (other than `other_than`) whose architecture `state` fits."""
    return [name for name, spec in sorted(BACKBONES.items()) if name != other_than.name and _fits(state, spec)]
