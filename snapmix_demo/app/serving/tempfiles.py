"""Gradio's temp folder with a size cap: uploads are admitted while there is room, old files are swept on a timer.

Gradio's own `delete_cache` only deletes files it tracked, by age. Uploads cut short leave untracked
`tmp*` files behind, and nothing bounds the total: this sweeps the whole folder by age and keeps
a running total, so the guard can refuse an upload that would pass the cap.
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from snapmix_demo.app.serving.logs import Throttle

__all__ = ["TempStore", "forget_missing"]

logger = logging.getLogger(__name__)
_throttle = Throttle(logger, every_s=60)


class TempStore:
    """The bytes in `folder`, as of the last sweep plus what was admitted since."""

    def __init__(self, folder: str | os.PathLike, cap: int, max_age_s: float):
        self.folder = Path(folder)
        self.cap = cap
        self.max_age_s = max_age_s
        self.used = 0
        self._lock = threading.Lock()

    def admit(self, size: int) -> bool:
        """Reserve `size` bytes for an upload; False (nothing reserved) if that would pass the cap."""
        with self._lock:
            if self.used + size > self.cap:
                return False
            self.used += size
            return True

    def sweep(self, keep: Iterable[str] = ()) -> tuple[int, int]:
        """Delete files (but those in `keep`) and empty folders older than `max_age_s`; recount.

        Returns (files deleted, bytes left).
        """
        deadline, keep = time.time() - self.max_age_s, set(keep)
        deleted, total = 0, 0
        for root, dirs, files in os.walk(self.folder, topdown=False):
            for name in files:
                path = os.path.join(root, name)
                size = _sweep_file(path, None if path in keep else deadline)
                deleted, total = deleted + (size is None), total + (size or 0)
            for name in dirs:
                _sweep_folder(os.path.join(root, name), deadline)
        with self._lock:
            self.used = total
        if deleted:
            _throttle.log("swept", logging.INFO, "temp folder: deleted %d old files, %d MB left", deleted, total >> 20)
        return deleted, total


def _sweep_file(path: str, deadline: float | None) -> int | None:
    """Delete `path` if last modified before `deadline` (None: never); its size if kept, None if deleted."""
    with contextlib.suppress(OSError):  # vanished meanwhile, or not ours to touch: counts as empty
        stat = os.lstat(path)
        if deadline is not None and stat.st_mtime < deadline:
            os.remove(path)
            return None
        return stat.st_size
    return 0


def _sweep_folder(path: str, deadline: float) -> None:
    """Remove `path` if empty and untouched since `deadline` (a fresh one may be about to receive an upload)."""
    with contextlib.suppress(OSError):  # vanished, or not empty
        if os.lstat(path).st_mtime < deadline:
            os.rmdir(path)


def forget_missing(tracked: Iterable[set[str]]) -> None:
    """Drop paths that no longer exist from Gradio's sets of files it created (they only ever grow otherwise)."""
    for paths in tracked:
        for path in list(paths):
            if not os.path.exists(path):
                paths.discard(path)
