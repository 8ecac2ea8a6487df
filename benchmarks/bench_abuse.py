"""Issue 15's abuse figures, measured against `python app.py` of two checkouts side by side: before and after.

Each checkout's app runs as its own process on loopback (a fresh port, its own GRADIO_TEMP_DIR and TMPDIR,
SNAPMIX_OFFLINE=1), and this script probes it over HTTP the way the issue's probe did, reading the
server's resident memory and CPU time from /proc. Then each checkout's decoder opens big images in a
fresh process, for its time and peak memory. Every loop is bounded; only 127.0.0.1 is ever contacted.

Usage (the "before" checkout is the app at commit 4027fe7, as the issue found it):
    git worktree add --detach /tmp/snapmix-before 4027fe7
    nice -n 10 python benchmarks/bench_abuse.py --before /tmp/snapmix-before --after .
    git worktree remove /tmp/snapmix-before
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CAT, COFFEE = ROOT / "assets/examples/cat.jpg", ROOT / "assets/examples/coffee.jpg"
# after the two images; the last two (checkpoint, classes) are extra values to a checkout from before them, ignored
VALUES = ["resnet18", "default", 0, "random", "predicted", "predicted", 5.0, "", "", None, ""]


# ## One app, served from a checkout


@dataclass
class App:
    url: str
    pid: int
    temp: Path  # its GRADIO_TEMP_DIR
    tmp: Path  # its TMPDIR (the result folder lives there)
    log: Path  # its stdout and stderr
    fn: int  # fn_index of /snapmix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(checkout: Path, scratch: Path) -> Iterator[tuple[App, subprocess.Popen]]:
    """`python app.py` of `checkout` on a free loopback port; stopped with SIGTERM on exit."""
    port, temp, tmp, log = _free_port(), scratch / "gradio", scratch / "tmp", scratch / "server.log"
    tmp.mkdir(parents=True)
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(temp), "TMPDIR": str(tmp)}
    env |= {"SNAPMIX_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("GRADIO_SERVER_NAME", None)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=checkout, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):  # bounded: 150 s
            with contextlib.suppress(httpx.HTTPError):
                config = httpx.get(f"{url}config", timeout=2).json()
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        else:
            raise RuntimeError("the app did not start")
        fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "snapmix")
        yield App(url, proc.pid, temp, tmp, log, fn), proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ## The queue protocol, spoken by hand


def upload(http: httpx.Client, app: App, path: Path) -> dict:
    answer = http.post(f"{app.url}gradio_api/upload", files=[("files", (path.name, path.read_bytes()))])
    answer.raise_for_status()
    return {"path": answer.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def join(http: httpx.Client, app: App, data: list, session: str) -> httpx.Response:
    body = {"data": data, "fn_index": app.fn, "session_hash": session, "event_data": None, "trigger_id": None}
    return http.post(f"{app.url}gradio_api/queue/join", content=json.dumps(body), headers=_JSON)


_JSON = {"Content-Type": "application/json"}


def completed(http: httpx.Client, app: App, session: str) -> dict | None:
    with http.stream("GET", f"{app.url}gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and '"process_completed"' in line:
                return json.loads(line[5:])
    return None


def call(http: httpx.Client, app: App, data: list) -> tuple[int, dict | None]:
    """One request from a new session: (join status, completion message or None)."""
    session = uuid.uuid4().hex[:11]
    answer = join(http, app, data, session)
    return answer.status_code, completed(http, app, session) if answer.status_code == 200 else None


def settle(pid: int, quiet_s: float = 2.0, limit_s: float = 180.0) -> float:
    """Wait until the server's CPU time stops growing for `quiet_s`; returns the CPU seconds it used meanwhile."""
    start = last = cpu_s(pid)
    deadline, quiet_since = time.monotonic() + limit_s, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_s:
        time.sleep(0.25)
        now = cpu_s(pid)
        if now - last > 0.02:
            quiet_since = time.monotonic()
        last = now
    return last - start


# ## Probes: each returns {figure: value}


def memory(http: httpx.Client, app: App, rejected: int, texts: int, big_mb: int) -> dict[str, str]:
    """Resident memory kept after rejected calls from new sessions, big text fields, one huge field."""
    missing = [None, None, *VALUES]  # no images: the app refuses the job (gr.Error)
    for _ in range(20):
        call(http, app, missing)
    settle(app.pid)
    out, start = {}, rss_mb(app.pid)
    for _ in range(rejected):
        call(http, app, missing)
    settle(app.pid)
    out[f"{rejected} rejected calls, each from a new session: RSS growth"] = f"{rss_mb(app.pid) - start:+.0f} MB"
    start = rss_mb(app.pid)
    codes = [call(http, app, [None, None, *VALUES[:3], f"{i}" + "w" * 2**20, *VALUES[4:]])[0] for i in range(texts)]
    settle(app.pid)
    status = "refused (413)" if set(codes) == {413} else "accepted"
    out[f"{texts} calls with a unique 1 MB `weights` string: RSS kept"] = f"{rss_mb(app.pid) - start:+.0f} MB, {status}"
    start = rss_mb(app.pid)
    code, _ = call(http, app, [None, None, *VALUES[:7], "1," * (big_mb * 2**19), *VALUES[8:]])
    settle(app.pid)
    out[f"one call with a {big_mb} MB `box_a`: RSS kept"] = f"{rss_mb(app.pid) - start:+.0f} MB ({code})"
    return out


def flood(http: httpx.Client, app: App, joins: int) -> dict[str, str]:
    """One session joins `joins` jobs in a burst; then another client asks once, normally.

    The flood reuses one uploaded pair but asks each job for another class of image A, so every job runs
    a resnet50 forward, as a job on new images would (cached CAMs would make the flood nearly free).
    """
    files = [upload(http, app, CAT), upload(http, app, COFFEE)]
    heavy = ["resnet50", *VALUES[1:]]
    call(http, app, [*files, *heavy])  # warm: model built
    settle(app.pid)
    session, cpu0, t0 = uuid.uuid4().hex[:11], cpu_s(app.pid), time.monotonic()
    jobs = [[*files, *heavy[:4], str(i), *heavy[5:]] for i in range(joins)]  # target_a: class i
    codes = [join(http, app, job, session).status_code for job in jobs]
    burst_s, first, started = time.monotonic() - t0, None, time.monotonic()
    for _ in range(600):  # the other client retries a refused request every 0.2 s, for 2 minutes at most
        code, done = call(http, app, [*files, *heavy[:2], 7, *heavy[3:]])
        first = code if first is None else first
        if code == 200:
            break
        time.sleep(0.2)
    waited = time.monotonic() - started
    settle(app.pid)
    ok = "ok" if done and done.get("success") else "failed"
    return {
        f"{joins} joins from one session in a burst: accepted / refused": (
            f"{codes.count(200)} / {len(codes) - codes.count(200)} (in {burst_s:.2f} s)"
        ),
        "another client's request: first answer; done after": f"{first}; {waited:.1f} s ({ok})",
        "server CPU from the flood on (nobody streamed the flood's results)": f"{cpu_s(app.pid) - cpu0:.1f} s",
    }


def _multipart(files: int) -> tuple[bytes, str]:
    parts = [
        b'--b0\r\nContent-Disposition: form-data; name="files"; filename="f%d.png"\r\n\r\n%s\r\n' % (i, bytes(100))
        for i in range(files)
    ]
    return b"".join(parts) + b"--b0--\r\n", "multipart/form-data; boundary=b0"


def uploads(http: httpx.Client, app: App) -> dict[str, str]:
    """Many files in one request; uploads from another origin."""
    body, kind = _multipart(1000)
    many = http.post(f"{app.url}gradio_api/upload", content=body, headers={"Content-Type": kind})
    stored = len(many.json()) if many.status_code == 200 else 0
    out = {"one upload request of 1000 files: files stored": f"{stored} ({many.status_code})"}
    for origin in ("http://evil.example", "null"):
        body, kind = _multipart(1)
        answer = http.post(
            f"{app.url}gradio_api/upload", content=body, headers={"Content-Type": kind, "Origin": origin}
        )
        out[f"upload with `Origin: {origin}`"] = str(answer.status_code)
    return out


def _loose(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.is_file()) if folder.exists() else 0


def temp_files(http: httpx.Client, app: App, calls: int) -> dict[str, str]:
    """Files left loose in Gradio's temp folder by API calls."""
    files = [upload(http, app, CAT), upload(http, app, COFFEE)]
    before = _loose(app.temp)
    for seed in range(calls):
        call(http, app, [*files, *VALUES[:2], 50 + seed, *VALUES[3:]])
    return {"loose temp files left per /snapmix call": f"{(_loose(app.temp) - before) / calls:g}"}


def logs(http: httpx.Client, app: App, requests: int) -> dict[str, str]:
    """Log lines written per bad stream request; whether the app's own lines carry time and level."""
    before = app.log.read_text().count("\n")
    for i in range(requests):
        with contextlib.suppress(httpx.RemoteProtocolError):  # Gradio 6.31 drops the connection mid-response
            http.get(f"{app.url}gradio_api/queue/data", params={"session_hash": f"bogus-{i}"})
    time.sleep(1)
    lines = app.log.read_text().count("\n") - before
    return {f"log lines per bad stream request ({requests} sent)": f"{lines / requests:g}"}


def routes(http: httpx.Client, app: App) -> dict[str, str]:
    """Gradio's exposed defaults: monitoring, dev reload, Host checking, paths in /config."""
    out = {"`/monitoring/summary`": str(http.get(f"{app.url}monitoring/summary").status_code)}
    with http.stream("GET", f"{app.url}gradio_api/dev/reload", timeout=5) as stream:
        out["`/gradio_api/dev/reload`"] = str(stream.status_code)
    out["`Host: rebind.evil.example`"] = str(http.get(app.url, headers={"Host": "rebind.evil.example"}).status_code)
    config = http.get(f"{app.url}config").text
    outside = {p for p in _paths(json.loads(config)) if not p.startswith(str(app.temp))}
    shown = "the cached examples only" if not outside else ", ".join(sorted(outside))
    out["server paths in `/config`"] = f"temp folder: {'yes' if str(app.temp) in config else 'no'}; {shown}"
    return out


def _paths(value) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item)
    elif isinstance(value, str) and value.startswith("/") and value != "/gradio_api":
        yield value


# ## Big images, decoded by each checkout's `load_image` in a fresh process


_DECODE = """
import inspect, json, sys, time
from snapmix_demo.imageio import load_image

def field(name):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(name + ":")) / 1024

data = open(sys.argv[1], "rb").read()
takes_size = "min_size" in inspect.signature(load_image).parameters  # as the pipeline calls it, if it can
base, start = field("VmRSS"), time.perf_counter()
try:
    (load_image(data, (224, 224)) if takes_size else load_image(data)).resize((224, 224))
    result = "ok"
except ValueError as e:
    result = "refused: " + str(e).split(";")[0]
print(json.dumps({"ms": (time.perf_counter() - start) * 1e3, "peak": field("VmHWM") - base, "result": result}))
"""


def _big_images(folder: Path) -> dict[str, Path]:
    """The test images, written once: 40 MP in the modes an upload can take, and the 20 MP cap's cases."""
    import numpy as np

    def blocks(mode: str, size: tuple[int, int], colour) -> Image.Image:
        img = Image.new(mode, size, colour[0])
        img.paste(colour[1], (size[0] // 8, size[1] // 8, size[0] // 2, size[1] // 2))
        return img

    makers = {
        "40 MP RGB PNG": lambda: (blocks("RGB", (8000, 5000), [(20, 90, 200), (200, 30, 30)]), "PNG", {}),
        "40 MP RGBA PNG": lambda: (blocks("RGBA", (8000, 5000), [(0, 0, 0, 0), (200, 30, 30, 255)]), "PNG", {}),
        "40 MP palette PNG, transparent": lambda: (blocks("P", (8000, 5000), [0, 1]), "PNG", {"transparency": 0}),
        "40 MP 16-bit grey PNG": lambda: (Image.fromarray(np.full((5000, 8000), 30000, np.uint16)), "PNG", {}),
        "40 MP JPEG": lambda: (blocks("RGB", (8000, 5000), [(20, 90, 200), (200, 30, 30)]), "JPEG", {"quality": 90}),
        "40 MP float TIFF": lambda: (Image.fromarray(np.full((5000, 8000), 0.5, np.float32)), "TIFF", _DEFLATE),
        "20 MP float TIFF": lambda: (Image.fromarray(np.full((3333, 6000), 0.5, np.float32)), "TIFF", _DEFLATE),
        "40 MP RGBA WebP": lambda: (blocks("RGBA", (8000, 5000), [(0, 0, 0, 0), (200, 30, 30, 255)]), "WEBP", {}),
        "20 MP RGBA WebP": lambda: (blocks("RGBA", (6000, 3333), [(0, 0, 0, 0), (200, 30, 30, 255)]), "WEBP", {}),
    }
    paths = {}
    for name, make in makers.items():
        paths[name] = folder / (name.replace(" ", "_").replace(",", "") + ".img")
        if not paths[name].exists():
            img, fmt, params = make()
            img.save(paths[name], fmt, **params)
    return paths


_DEFLATE = {"compression": "tiff_deflate"}


def decoding(checkout: Path, images: dict[str, Path]) -> dict[str, str]:
    out = {}
    for name, path in images.items():
        env = {**os.environ, "PYTHONPATH": str(checkout), "SNAPMIX_OFFLINE": "1"}
        command = [sys.executable, "-c", _DECODE, str(path)]  # run in the checkout: its package comes first
        done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        got = json.loads(done.stdout.strip().splitlines()[-1])
        size = f"{path.stat().st_size / 1024:.0f} KB"
        key = f"{name} ({size}): decode to 224 px, time and peak"
        ok = got["result"] == "ok"
        out[key] = f"{got['ms']:.0f} ms, +{got['peak']:.0f} MB" if ok else f"{got['result']} (+{got['peak']:.0f} MB)"
    return out


# ## The run


def probe(checkout: Path, scratch: Path, args: argparse.Namespace) -> dict[str, str]:
    figures: dict[str, str] = {}
    with served(checkout, scratch) as (app, _), httpx.Client(timeout=120) as http:
        figures |= memory(http, app, args.rejected, args.texts, args.big_mb)
        figures |= flood(http, app, args.joins)
        figures |= uploads(http, app)
        figures |= temp_files(http, app, args.calls)
        figures |= logs(http, app, args.bad_streams)
        figures |= routes(http, app)
        figures["server RSS at the end"] = f"{rss_mb(app.pid):.0f} MB"
    left = len(list(app.tmp.glob("snapmix-results-*")))
    figures["result folders left after SIGTERM"] = str(left)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the app as the issue found it")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout with the fixes (default: this one)")
    parser.add_argument("--rejected", type=int, default=1000)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--big-mb", type=int, default=50)
    parser.add_argument("--joins", type=int, default=80)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--bad-streams", type=int, default=20)
    parser.add_argument("--skip-server", action="store_true", help="big images only")
    parser.add_argument("--skip-images", action="store_true", help="the served app only (no big images)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="snapmix-bench-abuse-"))
    results = {}
    for label, checkout in (("before", args.before), ("after", args.after)):
        if label == "after" and checkout.resolve() == args.before.resolve():  # one checkout (a smoke run): probe once
            results["after"] = results["before"]
            break
        print(f"probing {label}: {checkout.resolve()}", file=sys.stderr)
        results[label] = {} if args.skip_server else probe(checkout.resolve(), scratch / label, args)
        if not args.skip_images:
            results[label] |= decoding(checkout.resolve(), _big_images(scratch))
    print("| figure | before | after |\n|---|---|---|")
    for key in dict.fromkeys([*results["before"], *results["after"]]):
        print(f"| {key} | {results['before'].get(key, '–')} | {results['after'].get(key, '–')} |")


if __name__ == "__main__":
    main()
