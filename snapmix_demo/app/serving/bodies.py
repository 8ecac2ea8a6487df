"""Request bodies at the ASGI level: read a small one whole, or watch a big one stream past, within limits.

The guard reads JSON bodies itself (at most `limit` bytes) so that an oversized one is refused before
anything parses it, and replays them to Gradio. Uploads stream through, while their bytes and
multipart parts are counted.
"""

from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive

__all__ = ["BodyTooLargeError", "PartCounter", "declared_length", "read_body", "replay"]


class BodyTooLargeError(Exception):
    """The body is over its limit (declared or streamed)."""


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length header as a number; None if absent or not a plain number."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, raising `BodyTooLargeError` as soon as it passes `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A `receive` that yields `body` once, then defers to the real one (which reports disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class PartCounter:
    """Counts multipart delimiters as the body streams past, chunk by chunk, without holding it.

    Each part starts with `--boundary` and the body ends with `--boundary--`: a body of n parts holds
    n + 1 delimiters. A delimiter split across two chunks is still found (each chunk's last bytes are
    kept for the next), and none is counted twice.
    """

    def __init__(self, boundary: bytes):
        self.delimiter = b"--" + boundary
        self.delimiters = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> int:
        """Count the delimiters that `chunk` completes; returns the total so far."""
        data = self._tail + chunk
        self.delimiters += data.count(self.delimiter)
        self._tail = data[-(len(self.delimiter) - 1) :] if len(self.delimiter) > 1 else b""
        return self.delimiters
