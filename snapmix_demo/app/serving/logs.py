"""Server logs: one format (time, level, logger), untrusted text made inert, floods of one kind cut to a trickle.

Anything a client sends (paths, headers, session ids) may hold newlines or terminal escapes that would
forge or garble lines, and may be megabytes long. `excerpt` makes such a value safe to log; the
formatter escapes control characters in every message as a second line of defence.
"""

import logging
import re
import threading
import time

__all__ = ["SafeFormatter", "Throttle", "configure", "excerpt", "route_uvicorn_logs"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_MESSAGE = 2000  # characters of one log message (tracebacks come on top, unchanged)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def excerpt(value: object, limit: int = 80) -> str:
    """`value` as a short, quoted, single-line excerpt fit for a log line (`repr` escapes what is not printable)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


class SafeFormatter(logging.Formatter):
    """A formatter that keeps each message on one line and at most `MAX_MESSAGE` characters long."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The record's line, its message escaped and cut."""
        message = _escape(record.message)
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + f"… ({len(message) - MAX_MESSAGE} more characters)"
        record.message = message
        return super().formatMessage(record)


def configure(level: int = logging.INFO) -> None:
    """One stderr handler on the root logger with `FORMAT` and the safe formatter; idempotent."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, SafeFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(SafeFormatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request Gradio makes to itself at start


def route_uvicorn_logs() -> None:
    """Send uvicorn's lines through the root handler; call after launch (uvicorn installs its own on start)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class Throttle:
    """At most one line per kind every `every_s` seconds; the next line says how many were held back."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0):
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, kind: str, level: int, message: str, *args: object) -> bool:
        """Log `message % args` unless a line of this `kind` went out less than `every_s` ago; True if logged."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -self.every_s) < self.every_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        suffix = f" ({held} more like this since the last such line)" if held else ""
        self.logger.log(level, message + suffix, *args)
        return True
