"""Issue 15 over the real server on loopback: hosts, origins, body and upload limits, temp space, memory, logs.

Two apps serve here: the session's `app_url` (bound to loopback, default settings) and `spaces`, this
module's app with the settings a Space gets (bound to all interfaces as far as the guard knows, SPACE_HOST
set), though its socket listens on 127.0.0.1 only. Both run in this process, so the tests read their state
and resident memory. Every loop is bounded; no test asserts on wall-clock time.
"""

import dataclasses
import gc
import logging
import os
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from snapmix_demo.app import EXAMPLES, api, build_demo, launch_kwargs
from snapmix_demo.app.serving import fairness, server
from snapmix_demo.app.serving.logs import SafeFormatter
from snapmix_demo.app.serving.settings import ServerSettings
from tests import _queue as q
from tests.conftest import _free_port, rss_mb, settled_rss_mb

CAT, COFFEE = EXAMPLES[2]
SPACE_ENV = {
    "GRADIO_SERVER_NAME": "0.0.0.0",
    "SYSTEM": "spaces",
    "SPACE_HOST": "owner-snapmix.hf.space,snapmix.example.org",
}


@pytest.fixture(scope="module")
def spaces():
    settings = dataclasses.replace(ServerSettings.from_env(SPACE_ENV), sweep_every_s=0.5, stream_grace_s=2.0)
    kwargs = launch_kwargs(settings)
    demo = build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **kwargs)
    fn = next(i for i, f in demo.fns.items() if f.api_name == "snapmix")
    state = kwargs["app_kwargs"]["middleware"][0].kwargs["state"]
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", port=port, demo=demo, state=state, fn=fn)
    demo.close()


@pytest.fixture
def http():
    with httpx.Client(timeout=60) as c:
        yield c


def _raw(port: int, head: str) -> str:
    """Send only a request head over a socket; returns the status line (the body is never sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n\r\n")
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


# ## Host header and routes


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost:{port}", 200),
        ("127.0.0.1:{port}", 200),
        ("[::1]:{port}", 200),
        ("rebind.evil.example", 400),
        ("localhost.evil.example:{port}", 400),
        ("10.1.2.3:{port}", 400),
        ("owner-snapmix.hf.space", 400),
    ],
)
def test_bound_to_loopback_only_loopback_hosts_are_served(app_url, http, host, status):
    port = app_url.rsplit(":", 1)[1].strip("/")
    answer = http.get(app_url, headers={"Host": host.format(port=port)})
    assert answer.status_code == status, f"Host {host}: {answer.status_code} {answer.text[:80]}"


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("owner-snapmix.hf.space", 200),  # the Space's own name (SPACE_HOST)
        ("Snapmix.Example.org.", 200),  # its custom domain, in any case, with the root dot
        ("10.1.2.3:7860", 200),  # an IP literal: no DNS name, so no rebinding (health checks, LAN use)
        ("localhost:7860", 200),
        ("other.hf.space", 400),
        ("rebind.evil.example", 400),
    ],
)
def test_bound_to_all_interfaces_the_allow_list_applies(spaces, http, host, status):
    answer = http.get(spaces.url, headers={"Host": host})
    assert answer.status_code == status, f"Host {host}: {answer.status_code} {answer.text[:80]}"


def test_a_forwarded_host_must_be_allowed_too(spaces, http):
    assert http.get(spaces.url, headers={"X-Forwarded-Host": "owner-snapmix.hf.space"}).status_code == 200
    assert http.get(spaces.url, headers={"X-Forwarded-Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "status"),
    [("monitoring", 403), ("monitoring/summary", 403), ("monitoring/anykey", 403), ("gradio_api/dev/reload", 404)],
)
def test_monitoring_and_dev_reload_are_off(spaces, http, path, status):
    assert http.get(f"{spaces.url}{path}").status_code == status


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_config_shows_no_server_path_but_the_cached_examples(spaces, http):
    config = http.get(f"{spaces.url}config").json()
    cache = spaces.demo.server_app.uploaded_file_dir
    paths = [s for s in _strings(config) if s.startswith("/") and s != "/gradio_api"]
    assert paths, "the examples' cached files are listed"
    assert all(p.startswith(cache) and Path(p).parent.parent == Path(cache) for p in paths), paths
    text = str(config)
    for secret in (os.getcwd(), str(server.RESULTS_DIR), "site-packages", str(Path.home())):
        assert secret not in text, f"{secret} shows in /config"


# ## Who may post


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "https://owner-snapmix.hf.space.evil.example"])
def test_cross_origin_uploads_and_joins_are_refused(spaces, http, origin, tmp_path):
    picture = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(picture)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        q.upload(http, spaces.url, picture, Origin=origin)
    assert refused.value.response.status_code == 403
    answer = q.join(http, spaces.url, spaces.fn, [None, None, *q.VALUES], q.new_session(), Origin=origin)
    assert answer.status_code == 403


def test_same_origin_and_originless_uploads_are_accepted(spaces, http, tmp_path):
    picture = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(picture)
    q.upload(http, spaces.url, picture)  # gradio_client, curl: no Origin header
    q.upload(http, spaces.url, picture, Origin=f"http://127.0.0.1:{spaces.port}")
    q.upload(http, spaces.url, picture, Origin="https://owner-snapmix.hf.space", Host="owner-snapmix.hf.space")


# ## What a request may carry


def test_an_upload_carries_at_most_the_two_files_a_run_needs(spaces, http, tmp_path):
    files = []
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"\x89PNG" + bytes(1000))
        files.append(("files", (f"{i}.png", (tmp_path / f"{i}.png").read_bytes())))
    assert len(http.post(f"{spaces.url}gradio_api/upload", files=files[:2]).json()) == 2
    refused = http.post(f"{spaces.url}gradio_api/upload", files=files)
    assert refused.status_code == 413 and "at most 2 files" in refused.text, refused.text


def test_a_streamed_upload_is_counted_as_it_arrives(spaces, http):
    boundary = "b0undary"
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.png"\r\n\r\n'.encode()

    def body():  # chunked: no Content-Length to check up front
        for _ in range(50):
            yield part + bytes(100) + b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    answer = http.post(f"{spaces.url}gradio_api/upload", content=body(), headers=headers)
    assert answer.status_code == 413, answer.text


@pytest.mark.parametrize(("route", "length"), [("gradio_api/queue/join", 10**9), ("gradio_api/upload", 10**10)])
def test_a_body_over_its_limit_is_refused_before_it_is_read(spaces, route, length):
    kind = "application/json" if "join" in route else "multipart/form-data; boundary=x"
    head = f"POST /{route} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: {kind}\nContent-Length: {length}"
    assert _raw(spaces.port, head) == "HTTP/1.1 413 Request Entity Too Large"


def test_json_bodies_over_64_kb_are_refused(spaces, http):
    data = [None, None, *q.values(weights="x" * 70_000)]
    answer = q.join(http, spaces.url, spaces.fn, data, q.new_session())
    assert answer.status_code == 413 and answer.json() == {"detail": "Request body too large."}


# ## Memory


REJECTED, REJECTED_MB = 600, 40  # a rejected request, each from a new session
BIG_TEXT, BIG_TEXT_MB = 40, 25  # a unique 1 MB string in a text field, each


def test_memory_stays_bounded_whoever_calls(spaces, http):
    def rejected(session: str, weights: str = "random") -> int:
        data = [None, None, *q.values(weights=weights)]
        answer = q.join(http, spaces.url, spaces.fn, data, session)
        if answer.status_code == 200:
            done, _ = q.outcome(http, spaces.url, session)
            assert done is not None and not done["success"], done  # "Please provide Image A"
        return answer.status_code

    for _ in range(30):  # warm-up: the session store fills to its capacity first
        rejected(q.new_session())
    start = settled_rss_mb()
    assert all(rejected(q.new_session()) == 200 for _ in range(REJECTED))
    after_rejected = settled_rss_mb()
    codes = {rejected(q.new_session(), f"{i}" + "w" * 2**20) for i in range(BIG_TEXT)}
    after_big = settled_rss_mb()
    print(
        f"RSS MB: {start:.0f}, after {REJECTED} rejected {after_rejected:.0f}, after {BIG_TEXT} x 1 MB {after_big:.0f}"
    )
    assert after_rejected - start < REJECTED_MB
    assert codes == {413} and after_big - after_rejected < BIG_TEXT_MB
    assert len(spaces.demo.server_app.state_holder.session_data) <= spaces.state.settings.session_capacity


# ## Fair queueing


@pytest.fixture
def gate(spaces, monkeypatch):
    """Every /snapmix run waits at a gate until the test opens it; `order` lists the runs' seeds as they start."""
    opened, order, run_pair = threading.Event(), [], api.run_pair

    def held(*args, **named):
        order.append(named["seed"])
        opened.wait(timeout=120)
        return run_pair(*args, **named)

    monkeypatch.setattr(api, "run_pair", held)
    yield SimpleNamespace(open=opened.set, order=order)
    opened.set()
    _wait_until(lambda: len(spaces.demo._queue) == 0 and not any(spaces.demo._queue.active_jobs), "queue drained")


def _wait_until(condition, what: str, tries: int = 300) -> None:
    for _ in range(tries):  # bounded: 30 s at most
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached: {what}")


def _job(files: list[dict], seed: int) -> list:
    return [*files, *q.values(seed=seed)]


@pytest.fixture
def images(spaces, http) -> list[dict]:
    return [q.upload(http, spaces.url, CAT), q.upload(http, spaces.url, COFFEE)]


def test_one_session_cannot_fill_the_queue(spaces, http, gate, images):
    share = spaces.state.settings.queue_per_session
    flood, ip = q.new_session(), {"X-Forwarded-For": "203.0.113.7"}
    codes = [q.join(http, spaces.url, spaces.fn, _job(images, 1000 + i), flood, **ip).status_code for i in range(70)]
    assert codes[:share] == [200] * share and set(codes[share:]) == {429}, codes
    other = q.new_session()
    assert q.join(http, spaces.url, spaces.fn, _job(images, 7), other, **{"X-Forwarded-For": "198.51.100.9"}).is_success
    gate.open()
    done, seen = q.outcome(http, spaces.url, other)
    assert done is not None and done["success"], done
    ranks = [m["rank"] for m in seen if m.get("msg") == "estimation" and m.get("rank") is not None]
    assert ranks and max(ranks) <= share, f"queued behind at most the flood's share: ranks {ranks}"
    assert gate.order.index(7) <= share, gate.order


def test_a_session_share_counts_each_event_apart(spaces, http, gate, images):
    """The page keeps several events in flight (a run, its banner check, a redraw); only a repeated one is capped."""
    share, session = spaces.state.settings.queue_per_session, q.new_session()
    codes = [q.join(http, spaces.url, spaces.fn, _job(images, 3000 + i), session).status_code for i in range(share + 1)]
    assert codes == [200] * share + [429], codes
    compare = next(i for i, f in spaces.demo.fns.items() if f.api_name == "compare")
    job = [*images, *q.VALUES[:9], "snapmix,cutmix", *q.VALUES[9:]]
    assert q.join(http, spaces.url, compare, job, session).is_success, "another event of the same session"
    gate.open()
    _wait_until(lambda: not fairness.held_jobs(spaces.demo._queue, 0)[0], "the session's jobs finished")


def test_one_address_cannot_fill_the_queue_with_new_sessions(spaces, http, gate, images):
    share = spaces.state.settings.queue_per_ip
    ip = {"X-Forwarded-For": "203.0.113.8"}
    codes = [
        q.join(http, spaces.url, spaces.fn, _job(images, 2000 + i), q.new_session(), **ip).status_code
        for i in range(30)
    ]
    assert codes.count(200) == share and set(codes[share:]) == {429}, codes
    refused = q.join(http, spaces.url, spaces.fn, _job(images, 1), q.new_session(), **ip)
    assert "Your address already has" in refused.json()["detail"]


def test_jobs_nobody_waits_for_are_dropped(spaces, http, gate, images):
    queue = spaces.demo._queue
    assert q.join(http, spaces.url, spaces.fn, _job(images, 500), q.new_session()).is_success  # runs, held
    _wait_until(lambda: gate.order == [500], "the first job is running")
    ghost = q.new_session()
    for seed in (501, 502, 503):  # joined, but no result stream is ever opened for them
        assert q.join(http, spaces.url, spaces.fn, _job(images, seed), ghost).is_success
    _wait_until(lambda: fairness.held_jobs(queue, 0)[0][ghost, spaces.fn] == 0, "unattended jobs dropped")
    assert ghost not in queue.pending_event_ids_session
    gate.open()
    _wait_until(lambda: not any(queue.active_jobs), "the held job finished")
    assert gate.order == [500], "dropped jobs never ran"


# ## Temp files


def _loose_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()}


def test_api_calls_leave_no_temp_files_behind(spaces):
    folder = Path(spaces.demo.server_app.uploaded_file_dir)
    before = _loose_files(folder)
    client = Client(spaces.url, verbose=False)
    for seed in range(3):
        res = client.predict(handle_file(CAT), handle_file(COFFEE), "resnet18", "default", seed, api_name="/snapmix")
        assert 0 <= res["rho_a"] <= 1
    assert _loose_files(folder) == before


def test_uploads_are_refused_while_the_temp_folder_is_full(spaces, http, tmp_path, monkeypatch):
    temp = spaces.state.temp
    temp.sweep()
    monkeypatch.setattr(temp, "cap", temp.used + 1_000_000)
    picture = tmp_path / "big.png"
    picture.write_bytes(bytes(2_000_000))
    with pytest.raises(httpx.HTTPStatusError) as refused:
        q.upload(http, spaces.url, picture)
    assert refused.value.response.status_code == 507


def test_the_temp_folder_is_swept_on_a_timer(spaces):
    folder = Path(spaces.demo.server_app.uploaded_file_dir)
    old, fresh = folder / "abandoned" / "old.png", folder / "fresh.png"
    old.parent.mkdir(exist_ok=True)
    for path in (old, fresh):
        path.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    for _ in range(200):  # the sweeper runs every 0.5 s here
        if not old.exists():
            break
        time.sleep(0.1)
    assert not old.exists() and fresh.exists()
    examples = [p for block in spaces.demo.blocks.values() for p in getattr(block, "keep_in_cache", ())]
    assert examples and all(Path(p).exists() for p in examples), "cached examples are never swept"
    fresh.unlink()


# ## Logs


def test_bad_stream_requests_write_no_traceback_and_log_inert_excerpts(spaces, http, caplog):
    forged = "x\x1b[31m" + "e" * 5000 + "\n2026-01-01 00:00:00,000 ERROR forged: line"  # escapes, length, newline
    uvicorn_errors = []
    handler = logging.Handler()
    handler.emit = uvicorn_errors.append
    logging.getLogger("uvicorn.error").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="snapmix_demo"):
            for i in range(30):
                session = forged if i == 0 else f"unknown-{i}"
                stream = http.get(f"{spaces.url}gradio_api/queue/data", params={"session_hash": session})
                assert stream.status_code == 200 and '"session_not_found":true' in stream.text
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    assert not uvicorn_errors, [r.getMessage()[:200] for r in uvicorn_errors]
    lines = [r for r in caplog.records if r.name == "snapmix_demo.app.serving.guard"]
    assert 1 <= len(lines) <= 2, "one line, then at most one every ten seconds"
    line = SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(lines[0])
    print(line)
    assert "\n" not in line and "\x1b" not in line and "\\x1b" in line and len(line) < 400, line


# ## Big images

# imageio: ~8 bytes a pixel for RGBA (decoded image + its premultiplied copy), 320 MB at the 40 MP cap;
# the request (upload, model, outputs) adds a few tens of MB.
PEAK_MB = 400


def test_a_40_megapixel_png_stays_within_its_stated_peak(spaces, http, tmp_path):
    path = tmp_path / "big.png"
    big = Image.new("RGBA", (8000, 5000), (255, 255, 255, 0))
    big.paste((200, 30, 30, 255), (1000, 1000, 5000, 4000))
    big.save(path)  # RGBA: the costliest 8-bit PNG (averaging needs a premultiplied copy)
    del big
    files = [q.upload(http, spaces.url, path), q.upload(http, spaces.url, COFFEE)]
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident size
    base = rss_mb()
    session = q.new_session()
    assert q.join(http, spaces.url, spaces.fn, [*files, *q.VALUES], session).status_code == 200
    done, _ = q.outcome(http, spaces.url, session)
    peak = rss_mb("VmHWM") - base
    print(f"peak RSS over the request: +{peak:.0f} MB")
    assert done is not None and done["success"], done
    assert peak < PEAK_MB, f"a 40 MP RGBA PNG added {peak:.0f} MB at its peak (stated: under {PEAK_MB})"
