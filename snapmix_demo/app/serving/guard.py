"""The ASGI middleware in front of Gradio: what a public server refuses before Gradio sees the request.

- Host (and X-Forwarded-Host) must be allowed: loopback names when bound to loopback, plus IP
  literals and the allow-list (the Space's own host) when bound to all interfaces. This stops
  DNS rebinding: a page on another name that resolves to this server.
- State-changing requests (POST, ...) from another origin are refused, uploads included.
- Request bodies have limits: `max_body` for JSON, checked before any parsing; uploads carry at most
  `upload_files` files of the size cap and only while Gradio's temp folder has room.
- Each session holds at most a few jobs of any one event, and each address a few more in all.
- Routes a public app should not serve (`/gradio_api/dev/reload`) answer 404.
- Result streams whose session is unknown end quietly instead of logging a traceback each.

It is installed through `launch(app_kwargs={"middleware": ...})`, so it runs inside Gradio's own
CORS and compression middleware and before its routes.
"""

import contextlib
import ipaddress
import json
import logging
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from snapmix_demo.app.serving import fairness
from snapmix_demo.app.serving.bodies import BodyTooLargeError, PartCounter, declared_length, read_body, replay
from snapmix_demo.app.serving.logs import excerpt
from snapmix_demo.app.serving.settings import ServerSettings, is_loopback
from snapmix_demo.app.serving.upkeep import GuardState
from snapmix_demo.imageio import MAX_BYTES

__all__ = ["Guard"]

logger = logging.getLogger(__name__)

API = "/gradio_api"
UPLOAD = f"{API}/upload"
JOINS = (f"{API}/queue/join", f"{API}/call/")  # POSTs that put a job in the queue
CLOSED = (f"{API}/dev/reload",)  # reload mode only: 200 idle streams cost a tenth of a core
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _refuse(status: int, message: str, plain: bool = False) -> Response:
    return PlainTextResponse(message, status) if plain else JSONResponse({"detail": message}, status)


def _host_name(value: str) -> str:
    """The host part of a Host header or netloc, lowercased, without port or trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, _, port = value.rpartition(":")
    return (name if name and port.isdigit() else value).rstrip(".")


class Guard:
    """ASGI middleware: refuses what `GuardState.settings` does not allow, passes the rest to Gradio."""

    def __init__(self, app: ASGIApp, state: GuardState):
        self.app = app
        self.state = state
        self.settings = state.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check who asks and what they send, then answer the refusal or let Gradio answer."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._check_host(headers) or self._check_route(scope, headers)
        if refusal is not None and scope["type"] == "websocket":
            await WebSocketClose(code=1008)(scope, receive, send)  # policy violation
        elif refusal is not None:
            await refusal(scope, receive, send)
        elif scope["type"] == "websocket" or scope["method"] in SAFE_METHODS:
            await self._pass_safe(scope, receive, send)
        elif scope["path"] == UPLOAD:
            await self._upload(scope, receive, send, headers)
        else:
            await self._small_body(scope, receive, send)

    # ## Who may ask

    def _host_allowed(self, value: str) -> bool:
        host = _host_name(value)
        try:
            ipaddress.ip_address(host)
            return not self.settings.loopback_only or is_loopback(host)  # no DNS name: no rebinding
        except ValueError:
            pass
        for pattern in self.settings.allowed_hosts:
            if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return True
        return False

    def _check_host(self, headers: Headers) -> Response | None:
        checked = {"host": headers.get("host", "")}  # a missing Host header is refused too
        if "x-forwarded-host" in headers:
            checked["x-forwarded-host"] = headers["x-forwarded-host"]
        for name, value in checked.items():
            if not self._host_allowed(value):
                message = "refused %s %s: not an allowed host (SNAPMIX_ALLOWED_HOSTS)"
                self.state.throttle.log("host", logging.WARNING, message, name, excerpt(value))
                return _refuse(400, "Invalid host header.")
        return None

    def _same_origin(self, origin: str, headers: Headers) -> bool:
        if origin.lower() in self.settings.allowed_origins:
            return True
        netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
        return bool(netloc) and netloc in {headers.get("host", "").lower(), headers.get("x-forwarded-host", "").lower()}

    def _check_route(self, scope: Scope, headers: Headers) -> Response | None:
        if scope["path"].startswith(CLOSED):
            return _refuse(404, "Not Found")
        origin = headers.get("origin")
        unsafe = scope["type"] == "http" and scope["method"] not in SAFE_METHODS
        if unsafe and origin is not None and not self._same_origin(origin, headers):
            self.state.throttle.log("origin", logging.WARNING, "refused a request from origin %s", excerpt(origin))
            return _refuse(403, "Cross-origin requests are not allowed.", plain=scope["path"] == UPLOAD)
        return None

    # ## What they may send

    async def _pass_safe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a GET/HEAD/OPTIONS on, counting open result streams (jobs nobody waits for get dropped)."""
        key = _stream_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        streams = self.state.clients.streams
        streams[key] += 1
        try:
            await self._quiet_stream(scope, receive, send, key)
        finally:
            streams[key] -= 1
            if streams[key] <= 0:
                del streams[key]

    async def _quiet_stream(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        """Gradio raises after starting the response when a stream's session is unknown: end it quietly."""
        started = ended = False

        async def watch(message: Message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            ended = ended or (message["type"] == "http.response.body" and not message.get("more_body", False))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if not started:
                raise
            message = "the result stream of %s ended early: %s"
            self.state.throttle.log("stream", logging.INFO, message, excerpt(key), excerpt(error))
            if not ended:
                with contextlib.suppress(OSError):  # the client may be gone already
                    await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _small_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a non-upload body whole (at most `max_body` bytes), then hand it to Gradio."""
        length = declared_length(scope["headers"])
        try:
            if length is not None and length > self.settings.max_body:
                raise BodyTooLargeError
            body = await read_body(receive, self.settings.max_body)
        except BodyTooLargeError:
            self.state.throttle.log("body", logging.WARNING, "refused a body over %d bytes", self.settings.max_body)
            await _refuse(413, "Request body too large.")(scope, receive, send)
            return
        receive = replay(body, receive)
        if scope["path"].startswith(JOINS):
            await self._join(scope, receive, send, body)
        else:
            await self.app(scope, receive, send)

    async def _join(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Queue a job unless its client (session or address) already holds its share of the queue."""
        session, ip = _session_event(body), fairness.client_ip(scope, self.settings.proxy_hops)
        message = self._over_share(session, ip)
        if message is not None:
            self.state.throttle.log("share", logging.INFO, "refused a job from %s: %s", excerpt(ip), message)
            await _refuse(429, message)(scope, receive, send)
            return
        keys = [("session", session), ("ip", ip)]
        joining = self.state.clients.joining
        joining.update(keys)
        try:
            await self.app(scope, receive, send)
        finally:
            joining.subtract(keys)
            for key in keys:
                if joining[key] <= 0:
                    del joining[key]

    def _over_share(self, session: tuple[str, int] | None, ip: str) -> str | None:
        """Why a new job from this client would be one too many, or None while it is within its share."""
        if self.state.blocks is None:
            return None
        sessions, ips = fairness.held_jobs(self.state.blocks._queue, self.settings.proxy_hops)
        joining, per_session, per_ip = (
            self.state.clients.joining,
            self.settings.queue_per_session,
            self.settings.queue_per_ip,
        )
        if session is not None and sessions[session] + joining[("session", session)] >= per_session:
            return f"You already have {per_session} of these requests waiting; please wait for them to finish."
        if ips[ip] + joining[("ip", ip)] >= per_ip:
            return f"Your address already has {per_ip} requests waiting; please wait for them to finish."
        return None

    async def _upload(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """Stream an upload to Gradio while there is room, refusing it once it passes its size or file count."""
        limit, files = self.settings.max_upload_body, self.settings.upload_files
        length = declared_length(scope["headers"])
        boundary = _boundary(headers.get("content-type", ""))
        refusal = None
        if boundary is None:
            refusal = _refuse(400, "Uploads must be multipart/form-data.", plain=True)
        elif length is not None and length > limit:
            refusal = _refuse(413, _too_big(self.settings), plain=True)
        elif self.state.temp is not None and not self.state.temp.admit(length or limit):
            self.state.throttle.log("temp", logging.WARNING, "refused an upload: the temp folder is full")
            refusal = _refuse(507, "The server has no room for uploads right now; please try again later.", plain=True)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._stream_upload(scope, receive, send, PartCounter(boundary), limit, files)

    async def _stream_upload(
        self, scope: Scope, receive: Receive, send: Send, parts: PartCounter, limit: int, files: int
    ) -> None:
        received, refused, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit or parts.feed(message.get("body", b"")) > files + 1:
                    refused = True
                    return {"type": "http.disconnect"}  # Gradio stops reading; its partial files get swept
            return message

        async def unless_refused(message: Message) -> None:
            nonlocal started
            if not refused:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            self.state.throttle.log("upload", logging.WARNING, "refused an upload over %d files or bytes", files)
            await _refuse(413, _too_big(self.settings), plain=True)(scope, receive, send)


def _too_big(settings: ServerSettings) -> str:
    images = f"at most {settings.upload_files} files of {MAX_BYTES >> 20} MB each per request"
    if not settings.checkpoint_max:
        return f"Upload too large: {images}."
    return f"Upload too large: {images}, or one checkpoint of {settings.checkpoint_max >> 20} MB."


def _boundary(content_type: str) -> bytes | None:
    """The multipart boundary of a Content-Type header, or None if it is not multipart/form-data."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1")
    return None


def _session_event(body: bytes) -> tuple[str, int] | None:
    """The `session_hash` and `fn_index` of a queue join's JSON body, if it has both."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    session, event = data.get("session_hash"), data.get("fn_index")
    valid = isinstance(session, str) and isinstance(event, int) and not isinstance(event, bool)
    return (session, event) if valid else None


def _stream_key(scope: Scope) -> str | None:
    """The session (queue/data) or event id (call/<api>/<id>) a GET result stream is for; None otherwise."""
    path = scope["path"]
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    if path == f"{API}/queue/data":
        return QueryParams(scope["query_string"]).get("session_hash")
    if path.startswith(f"{API}/call/") and path.count("/") >= 4:
        return path.rstrip("/").rsplit("/", 1)[-1]
    return None
