"""The server's small parts on their own: settings from the environment, body counting, client addresses, logs."""

import logging

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from snapmix_demo.app.serving import logs
from snapmix_demo.app.serving.bodies import PartCounter
from snapmix_demo.app.serving.fairness import client_ip
from snapmix_demo.app.serving.guard import Guard, _boundary, _host_name, _session_event
from snapmix_demo.app.serving.logs import SafeFormatter, Throttle, excerpt
from snapmix_demo.app.serving.settings import LOOPBACK_NAMES, ServerSettings
from snapmix_demo.app.serving.upkeep import GuardState
from snapmix_demo.imageio import MAX_BYTES

# ## Settings


def test_defaults_serve_loopback_only():
    s = ServerSettings.from_env({})
    assert s.bind == "127.0.0.1" and s.loopback_only
    assert s.allowed_hosts == LOOPBACK_NAMES and s.allowed_origins == () and s.proxy_hops == 0
    assert (s.max_body, s.upload_files) == (64 * 1024, 2)
    assert s.checkpoint_max == 250 * 2**20 and s.max_file == 250 * 2**20, "checkpoint uploads are on by default"
    assert s.max_upload_body == 250 * 2**20 + 64 * 1024, "one checkpoint, or two images, per upload request"


def test_with_checkpoint_uploads_off_uploads_are_capped_for_images():
    s = ServerSettings.from_env({"SNAPMIX_CHECKPOINT_UPLOADS": "off"})
    assert (s.checkpoint_max, s.max_file, s.max_upload_body) == (0, MAX_BYTES, 2 * MAX_BYTES + 64 * 1024)
    assert ServerSettings.from_env({"SNAPMIX_CHECKPOINT_UPLOADS": "on"}).checkpoint_max > 0


def test_on_spaces_the_space_hosts_are_allowed_and_one_proxy_is_trusted():
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "SYSTEM": "spaces", "SPACE_HOST": "Owner-App.hf.space, app.example.org"}
    s = ServerSettings.from_env(env)
    assert not s.loopback_only and s.proxy_hops == 1
    assert s.allowed_hosts == (*LOOPBACK_NAMES, "owner-app.hf.space", "app.example.org")


def test_on_spaces_without_space_host_any_hf_space_name_is_allowed():
    assert "*.hf.space" in ServerSettings.from_env({"SYSTEM": "spaces"}).allowed_hosts


def test_every_limit_has_a_variable():
    env = {
        "SNAPMIX_ALLOWED_HOSTS": "demo.lan",
        "SNAPMIX_ALLOWED_ORIGINS": "https://blog.example",
        "SNAPMIX_MAX_BODY_KB": "32",
        "SNAPMIX_QUEUE_PER_SESSION": "2",
        "SNAPMIX_QUEUE_PER_IP": "5",
        "SNAPMIX_PROXY_HOPS": "2",
        "SNAPMIX_SESSION_CAPACITY": "10",
        "SNAPMIX_TEMP_CAP_MB": "100",
        "SNAPMIX_TEMP_MAX_AGE_S": "60",
    }
    s = ServerSettings.from_env(env)
    assert "demo.lan" in s.allowed_hosts and s.allowed_origins == ("https://blog.example",)
    assert (s.max_body, s.queue_per_session, s.queue_per_ip, s.proxy_hops) == (32 * 1024, 2, 5, 2)
    assert (s.session_capacity, s.temp_cap, s.temp_max_age_s) == (10, 100 * 2**20, 60)


# ## Guard helpers


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:7860", "localhost"),
        ("Owner-App.HF.space.", "owner-app.hf.space"),
        ("[::1]:7860", "::1"),
        ("[::1]", "::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("evil.example:notaport", "evil.example:notaport"),
        ("", ""),
    ],
)
def test_host_name_drops_port_case_and_root_dot(header, name):
    assert _host_name(header) == name


def test_boundary_is_read_from_the_content_type():
    assert _boundary('multipart/form-data; boundary="----abc"') == b"----abc"
    assert _boundary("Multipart/Form-Data;charset=utf-8;boundary=x1") == b"x1"
    assert _boundary("application/json") is None and _boundary("multipart/form-data") is None


def test_session_and_event_are_read_from_a_join_body_or_not_at_all():
    assert _session_event(b'{"session_hash": "abc", "fn_index": 3, "data": []}') == ("abc", 3)
    assert _session_event(b'{"session_hash": "abc", "data": []}') is None
    assert _session_event(b'{"session_hash": "abc", "fn_index": true}') is None
    assert _session_event(b'{"session_hash": 5, "fn_index": 3}') is None
    assert _session_event(b"[1, 2]") is None and _session_event(b"not json") is None


def _multipart(boundary: bytes, parts: int) -> bytes:
    body = b"".join(
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"\r\n\r\nxx\r\n' for _ in range(parts)
    )
    return body + b"--" + boundary + b"--\r\n"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
def test_part_counter_counts_delimiters_split_across_chunks(chunk):
    boundary = b"----WebKitFormBoundary7MA4YWxk"
    body = _multipart(boundary, 3)
    counter = PartCounter(boundary)
    for start in range(0, len(body), chunk):
        counter.feed(body[start : start + chunk])
    assert counter.delimiters == 4, "three parts and the closing delimiter"


def test_client_address_trusts_only_the_proxies_hops():
    scope = {"type": "http", "client": ("10.16.3.80", 5000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4")]}
    assert client_ip(scope, 0) == "10.16.3.80", "no trusted proxy: the peer"
    assert client_ip(scope, 1) == "1.2.3.4", "one proxy: the address it appended, not the client's own claim"
    assert client_ip(scope, 2) == "6.6.6.6"
    assert client_ip(scope, 3) == "10.16.3.80", "fewer entries than proxies: the peer"


# ## Logs


def test_excerpt_is_short_quoted_and_single_line():
    text = excerpt("a\nb\x1b[31m" + "x" * 500)
    assert text.startswith("'a\\nb\\x1b[31m") and text.endswith("…'") and len(text) < 100


def test_safe_formatter_writes_time_level_logger_and_one_line():
    record = logging.LogRecord(
        "snapmix_demo.x", logging.WARNING, __file__, 1, "got %s", ("a\nFORGED" + "y" * 5000,), None
    )
    line = SafeFormatter(logs.FORMAT).format(record)
    assert line.count("\n") == 0 and "a\\nFORGED" in line and len(line) < logs.MAX_MESSAGE + 200
    date, clock, level, name = line.split(" ")[:4]
    assert len(date) == 10 and len(clock) == 12 and (level, name) == ("WARNING", "snapmix_demo.x:")


def test_throttle_lets_one_line_through_then_counts_the_rest(caplog):
    throttle = Throttle(logging.getLogger("snapmix_demo.test"), every_s=3600)
    with caplog.at_level(logging.INFO, logger="snapmix_demo.test"):
        results = [throttle.log("kind", logging.INFO, "line %d", i) for i in range(5)]
        throttle.every_s = 0
        throttle.log("kind", logging.INFO, "later")
    assert results == [True, False, False, False, False]
    assert [r.getMessage() for r in caplog.records] == ["line 0", "later (4 more like this since the last such line)"]


def test_configure_is_idempotent_and_routes_uvicorn_through_it():
    root, names = logging.getLogger(), ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [(list(root.handlers), root.level)] + [
        (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names
    ]
    try:
        logs.configure()
        logs.configure()
        added = [h for h in root.handlers if h not in saved[0][0]]
        assert len(added) == 1 and isinstance(added[0].formatter, SafeFormatter)
        logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
        logs.route_uvicorn_logs()
        assert all(not logging.getLogger(n).handlers and logging.getLogger(n).propagate for n in names)
    finally:
        root.handlers[:], level = saved[0]
        root.setLevel(level)
        for name, (handlers, propagate) in zip(names, saved[1:], strict=True):
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate


def test_a_websocket_from_a_refused_host_is_closed():
    async def hello(ws):
        await ws.accept()
        await ws.send_text("hi")
        await ws.close()

    guarded = Guard(Starlette(routes=[WebSocketRoute("/ws", hello)]), GuardState(ServerSettings()))
    client = TestClient(guarded)
    with client.websocket_connect("/ws", headers={"host": "localhost"}) as ws:
        assert ws.receive_text() == "hi"
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws", headers={"host": "evil.test"}):
        pass
    assert closed.value.code == 1008
