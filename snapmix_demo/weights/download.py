"""Verified downloads of weight files: short timeouts, the sha256 prefix in the name checked, atomic, with progress.

torch.hub's own `download_url_to_file` verifies too, but its `urlopen` has no timeout: on a network
that drops packets it hangs a web request. Here the name lookup, the connect and every read have one.
"""

import hashlib
import http.client
import os
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from snapmix_demo.errors import UserError, excerpt

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "DownloadError",
    "Progress",
    "download",
    "expected_prefix",
    "recently_failed",
    "sha256",
]

DOWNLOAD_TIMEOUT_S = 3.0  # name lookup, connect and every read: an unreachable host fails fast, never hangs
MAX_DOWNLOAD_BYTES = 1 << 30  # a mirror that never stops sending cannot fill the disk
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


class DownloadError(UserError):
    """Weights could not be downloaded or failed verification; the message says why."""


_HASH_PREFIX = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's convention: <name>-<sha256 prefix>.<ext>
_failed: dict[str, float] = {}  # URL -> when it last failed
_dest_locks: dict[Path, threading.Lock] = {}  # one per weights file: a bounded set
_dest_locks_guard = threading.Lock()


def expected_prefix(filename: str) -> str:
    """The sha256 prefix that `filename` declares (torch.hub's `<name>-<prefix>.<ext>`)."""
    found = _HASH_PREFIX.search(filename)
    if not found:
        raise DownloadError(f"`{excerpt(filename)}` carries no sha256 prefix in its name, so it cannot be verified")
    return found.group(1)


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def recently_failed(url: str, within_s: float) -> bool:
    """Whether a download of `url` failed in the last `within_s` seconds."""
    return time.monotonic() - _failed.get(url, -within_s) < within_s


def _resolve_host(url: str) -> None:
    """Look the host up with a deadline: a broken name server must not hang a request."""
    host = urllib.parse.urlparse(url).hostname or ""
    pool = ThreadPoolExecutor(1)
    try:
        pool.submit(socket.getaddrinfo, host, None).result(timeout=DOWNLOAD_TIMEOUT_S)
    except FutureTimeout:
        raise OSError("the name server did not answer") from None
    finally:
        pool.shutdown(wait=False)


def _stream(url: str, out, progress: Progress | None) -> str:
    """Copy `url` into the open file `out`; the sha256 of what arrived."""
    _resolve_host(url)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        total = int(response.headers["Content-Length"]) if response.headers.get("Content-Length") else None
        done = 0
        while chunk := response.read(1 << 20):
            done += len(chunk)
            if done > MAX_DOWNLOAD_BYTES:
                raise OSError(f"the server sent more than {MAX_DOWNLOAD_BYTES >> 20} MB")
            digest.update(chunk)
            out.write(chunk)
            if progress:
                progress(done, total)
    if total is not None and done != total:
        raise OSError(f"the transfer stopped after {done} of {total} bytes")
    return digest.hexdigest()


def download(url: str, dest: Path, *, progress: Progress | None = None) -> Path:
    """Download `url` to `dest`, verified against the sha256 prefix in `dest`'s name; concurrent calls download once.

    Nothing but a verified file ever appears at `dest`: the transfer goes to a temporary file in the same
    folder, removed on any failure.

    Raises:
        DownloadError: offline, unreachable, truncated, or the content does not match its name's hash.
    """
    if os.environ.get("SNAPMIX_OFFLINE") == "1":
        raise DownloadError("downloads are switched off (SNAPMIX_OFFLINE=1)")
    prefix = expected_prefix(dest.name)
    with _dest_locks_guard:
        lock = _dest_locks.setdefault(dest, threading.Lock())
    with lock:
        if dest.is_file():  # another request finished it while this one waited
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False) as f:
            tmp = Path(f.name)
            try:
                digest = _stream(url, f, progress)
            except (OSError, http.client.HTTPException, ValueError) as e:
                tmp.unlink(missing_ok=True)
                _failed[url] = time.monotonic()
                raise DownloadError(_network_reason(e)) from e
        if not digest.startswith(prefix):
            tmp.unlink(missing_ok=True)
            raise DownloadError(f"the downloaded file's sha256 starts {digest[:8]}, not {prefix} as its name says")
        os.replace(tmp, dest)
    return dest


def _network_reason(e: Exception) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"the server answered HTTP {e.code}"
    if isinstance(e, urllib.error.URLError):
        return f"the server could not be reached ({excerpt(e.reason, 80)})"
    if isinstance(e, socket.gaierror):
        return "the server's name could not be looked up (no network?)"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"no answer within {DOWNLOAD_TIMEOUT_S:g} s"
    if isinstance(e, http.client.IncompleteRead):
        return "the transfer was cut short"
    return excerpt(e, 120)
