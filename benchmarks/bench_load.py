"""Load benchmark of the `/snapmix` HTTP endpoint, beside two references measured in the same run.

The app is served in this process on loopback, exactly as the tests serve it. Closed-loop
clients (threads in this process, each with its own `gradio_client.Client`) send N requests
back to back at concurrency 1, 4 and 8, with the app's default backbone (`pipeline.DEFAULT_BACKBONE`,
tf_efficientnet_lite0) on its default weights, a distinct seed per request, and two workloads:

- cached: one image pair throughout, so the CAMs are cached after the first call and each
  request only draws new boxes (no forward);
- uncached: a distinct image pair per request (the example pair re-encoded with a per-request
  marker block), so every request runs one batched forward of two images;
- uncached on the engine: the same with SNAPMIX_ENGINE=onnxruntime (snapmix_demo/engine.py; every
  other run is pinned to SNAPMIX_ENGINE=torch), its export and session prepared before the runs.

References, measured in the same run:
- compute limit: median of one bare batched forward of the two 224x224 images through the same
  model under `torch.inference_mode`;
- framework floor: a second Gradio app in this process with the endpoint's shape (two gr.File,
  the same textbox/number inputs, a gr.JSON output, the same queue and concurrency settings)
  whose function returns a precomputed result: no model, no decoding. Same client calls.

Every configuration runs once per round, interleaved, over several rounds (the VM is noisy):
throughput is the median over rounds, latency percentiles pool the rounds. Each run also
reports this process's CPU time per request and the CPU used by anything else on the machine
meanwhile, which tells a polluted run from a slow one.

Targets (issue 6): app throughput at concurrency 8 >= 0.8 x the floor's; app p50 at
concurrency 1 <= floor p50 + 1.5 x one forward. Issue 25: uncached throughput at 8 clients on the
engine >= 1.3 x the same on eager PyTorch. Then the resident memory over 200 sequential
requests (half of them new images), every 20 requests.

`--torch-threads` and `--pipeline-limit` try settings the app does not use (experiments).

Usage:
    python benchmarks/bench_load.py [--per-client 15] [--rounds 3] [--concurrency 1 4 8] [--rss-requests 200]
                                    [--runs floor cached uncached uncached_engine] [--record FILE.jsonl]
"""

import os
import sys
import tempfile
from pathlib import Path

_SCRATCH = Path(tempfile.mkdtemp(prefix="snapmix-bench-load-"))
(_SCRATCH / "tmp").mkdir()
os.environ["SNAPMIX_OFFLINE"] = "1"  # before any snapmix_demo import: never touch the network
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["GRADIO_TEMP_DIR"] = str(_SCRATCH / "gradio")
os.environ["TMPDIR"] = str(_SCRATCH / "tmp")
tempfile.tempdir = str(_SCRATCH / "tmp")  # gradio_client's temp folders and the app's result files land here
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/bench_load.py` from anywhere

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from snapmix_demo import analysis, app, engine  # noqa: E402
from snapmix_demo.app.serving import server  # noqa: E402
from snapmix_demo.pipeline import DEFAULT_BACKBONE, snapmix_pair  # noqa: E402
from snapmix_demo.snapmix import normalise  # noqa: E402
from snapmix_demo.weights import cached_backbone, model_cache_info  # noqa: E402

CAT, COFFEE = app.examples.PHOTO_PAIRS[0]
BACKBONE = DEFAULT_BACKBONE
# name -> (server, workload, SNAPMIX_ENGINE while it runs)
RUNS = {
    "floor": ("floor", "cached", "torch"),
    "cached": ("app", "cached", "torch"),
    "uncached": ("app", "uncached", "torch"),
    "uncached_engine": ("app", "uncached", "onnxruntime"),
}


# ## Inputs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-client", type=int, default=15, help="timed requests per client and round")
    parser.add_argument("--rounds", type=int, default=3, help="sweeps over every configuration, interleaved")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rss-requests", type=int, default=200)
    parser.add_argument("--forward-rounds", type=int, default=30)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="what to load")
    experiment = "experiment, not the app's setting: "
    parser.add_argument("--torch-threads", type=int, help=experiment + "torch.set_num_threads(N) in this process")
    parser.add_argument("--pipeline-limit", type=int, help=experiment + "concurrency limit of the pipeline group")
    parser.add_argument("--record", type=Path, help="append this run's figures to FILE as one JSON line")
    return parser.parse_args()


class MarkedPairs:
    """The example pair re-encoded as JPEG, pair k with a distinct 8x8 marker block: pixel content unique to k."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.bases = [Image.open(p).convert("RGB") for p in (CAT, COFFEE)]

    def make(self, k: int) -> tuple[str, str]:
        """Files of pair `k` (k=0 is the cached workload's pair)."""
        return tuple(self._encode(base, k, side) for side, base in zip("ab", self.bases, strict=True))

    def _encode(self, base: Image.Image, k: int, side: str) -> str:
        img = base.copy()
        img.paste((k % 256, (k // 256) % 256, 97 if side == "a" else 161), (0, 0, 8, 8))
        path = self.folder / f"{side}{k:05d}.jpg"
        img.save(path, "JPEG", quality=90)
        return str(path)


# ## Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(demo: gr.Blocks) -> str:
    """Launch `demo` on loopback in this process; its URL."""
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_kwargs())
    return f"http://127.0.0.1:{port}/"


def floor_demo(answer: dict) -> gr.Blocks:
    """The endpoint's shape and queue settings, answering a precomputed result: the framework's own cost."""
    with gr.Blocks() as demo, gr.Group(visible=False):
        inputs = [
            gr.File(label="image_a"),
            gr.File(label="image_b"),
            gr.Textbox(BACKBONE, label="backbone"),
            gr.Textbox("default", label="mode"),
            gr.Number(0, label="seed", precision=0),
            gr.Textbox("auto", label="weights"),
            gr.Textbox("predicted", label="target_a"),
            gr.Textbox("predicted", label="target_b"),
            gr.Number(5.0, label="beta"),
            gr.Textbox("", label="box_a"),
            gr.Textbox("", label="box_b"),
            gr.File(label="checkpoint"),
            gr.Textbox("", label="classes"),
        ]
        output = gr.JSON(label="result")
        trigger = gr.Button("api")

        def snapmix(
            image_a,
            image_b,
            backbone,
            mode,
            seed,
            weights,
            target_a,
            target_b,
            beta,
            box_a,
            box_b,
            checkpoint=None,
            classes=None,
        ) -> dict:
            return answer  # the app's parameter names and optional ones: the same client calls

        trigger.click(snapmix, inputs, output, api_name="snapmix", **server.PIPELINE)
    return demo.queue(max_size=server.QUEUE_MAX_SIZE)


# ## Closed-loop load


@dataclass
class Run:
    """One configuration's measurements."""

    target: str
    workload: str
    clients: int
    engine: str = "torch"
    latencies: list[float] = field(default_factory=list)
    handler_ms: list[float] = field(default_factory=list)
    model_ms: list[float] = field(default_factory=list)
    forwards: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # req/s of each round
    cpu: float = 0.0  # CPU seconds of this whole process (server and clients) over the timed windows
    others: float = 0.0  # CPU seconds of everything else on the machine (other processes, steal) meanwhile
    wall: float = 0.0

    @property
    def throughput(self) -> float:
        """Median over rounds."""
        return statistics.median(self.rates)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1e3


def request(client: Client, files: tuple[str, str], seed: int) -> tuple[float, dict]:
    """One `/snapmix` call with the app's defaults; (seconds, result)."""
    start = time.perf_counter()
    res = client.predict(image_a=handle_file(files[0]), image_b=handle_file(files[1]), seed=seed, api_name="/snapmix")
    return time.perf_counter() - start, res


def load(url: str, run: Run, plans: list[list[tuple[tuple[str, str], int]]]) -> Run:
    """One round: each plan (files, seed per request) on its own client, all released together.

    The first request of each plan is a warm-up, outside the timed window.
    """
    clients = [Client(url, verbose=False) for _ in plans]
    barrier = threading.Barrier(len(plans) + 1)
    lock = threading.Lock()

    def work(client: Client, plan: list) -> None:
        try:
            request(client, *plan[0])
        except BaseException:
            barrier.abort()  # release the others: the error surfaces through `f.result()`
            raise
        barrier.wait()
        for files, seed in plan[1:]:
            seconds, res = request(client, files, seed)
            with lock:
                run.latencies.append(seconds)
                run.handler_ms.append(res["timings_ms"]["total"])
                run.model_ms.append(res["timings_ms"]["model"])
                run.forwards.append(res["forward_passes"])

    with ThreadPoolExecutor(len(plans)) as pool:
        futures = [pool.submit(work, c, p) for c, p in zip(clients, plans, strict=True)]
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        done, start, cpu, busy = len(run.latencies), time.perf_counter(), cpu_seconds(), machine_busy_seconds()
        for f in futures:
            f.result()
        wall, own = time.perf_counter() - start, cpu_seconds() - cpu
    run.rates.append((len(run.latencies) - done) / wall)
    run.cpu, run.wall = run.cpu + own, run.wall + wall
    run.others += machine_busy_seconds() - busy - own
    return run


def plans_for(workload: str, clients: int, per_client: int, pairs: list, seed0: int) -> list[list]:
    """Per client: a warm-up then `per_client` requests; distinct seeds, and for 'uncached' distinct pairs."""
    plans = []
    for c in range(clients):
        plan = []
        for j in range(per_client + 1):
            n = c * (per_client + 1) + j
            plan.append((pairs[0] if workload == "cached" else pairs.pop(), seed0 + n))
        plans.append(plan)
    return plans


# ## References and memory


def bare_forward_ms(rounds: int) -> tuple[float, str]:
    """Median ms of one batched forward of the two 224x224 images through the app's default model."""
    bb = cached_backbone(BACKBONE, weights="auto")
    h, w = bb.spec.input_size
    images = [
        torch.from_numpy(np.asarray(Image.open(p).convert("RGB").resize((w, h), Image.BILINEAR)).copy())
        for p in (CAT, COFFEE)
    ]
    x = normalise(torch.stack([img.permute(2, 0, 1) for img in images]), bb.spec)
    times = []
    with torch.inference_mode():
        for i in range(rounds + 5):
            start = time.perf_counter()
            bb.model(x)
            if i >= 5:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), bb.weights.source


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine (all processes, and time stolen by the hypervisor)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """Resident memory of this process (server and clients), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_curve(url: str, requests: int, pairs: list) -> list[tuple[int, float, int]]:
    """(requests done, RSS MB, cached analyses) every 20 sequential requests; odd requests reuse the even one's pair."""
    client = Client(url, verbose=False)
    points = [(0, rss_mb(), len(analysis._analyses))]
    files = pairs[0]
    for i in range(requests):
        files = pairs.pop() if i % 2 == 0 else files
        request(client, files, 10_000 + i)
        if (i + 1) % 20 == 0:
            points.append((i + 1, rss_mb(), len(analysis._analyses)))
    return points


# ## Report


COLUMNS = (
    "server | workload | engine | clients | requests | req/s | p50 ms | p95 ms | CPU ms/req | handler p50 ms "
    "| model p50 ms"
)
NOTES = (
    "req/s: median over rounds; latencies pooled over rounds; CPU ms/req: this whole process (server and its\n"
    "in-process clients) per request; handler/model: the app's own `timings_ms` (total, model); fwd/req: forwards\n"
    "run per request; other load: CPU used by everything else on the machine meanwhile, % of all cores."
)


def table(runs: list[Run]) -> str:
    """Markdown table; CPU ms/req counts the whole process (server and in-process clients)."""
    rows = [f"| {COLUMNS} | fwd/req | other load |", "|---|---|---|" + "---:|" * 10]
    for r in runs:
        app = r.target == "app"
        handler = f"{statistics.median(r.handler_ms):.0f}" if app else "-"
        model = f"{statistics.median(r.model_ms):.0f}" if app else "-"
        forwards = f"{statistics.mean(r.forwards):.2f}" if app else "-"
        rows.append(
            f"| {r.target} | {r.workload} | {r.engine if app else '-'} | {r.clients} | {len(r.latencies)} | "
            f"{r.throughput:.2f} | "
            f"{r.pct(50):.0f} | {r.pct(95):.0f} | {r.cpu / len(r.latencies) * 1e3:.0f} | {handler} | {model} | "
            f"{forwards} | {r.others / (r.wall * os.cpu_count()):.0%} |"
        )
    return "\n".join(rows)


def verdicts(runs: list[Run], forward_ms: float) -> list[str]:
    """The issue's two targets, for each workload."""
    by = {(r.target, r.workload, r.clients): r for r in runs if r.engine == "torch"}
    lines = engine_verdicts(runs)
    for workload in ("cached", "uncached"):
        floor8, app8 = by.get(("floor", "cached", 8)), by.get(("app", workload, 8))
        if floor8 and app8:
            ratio = app8.throughput / floor8.throughput
            met = "MET" if ratio >= 0.8 else "MISSED"
            lines.append(
                f"- {workload}: throughput at 8 clients {app8.throughput:.2f} req/s = {ratio:.2f} x floor "
                f"{floor8.throughput:.2f} (target >= 0.80): **{met}**"
            )
        floor1, app1 = by.get(("floor", "cached", 1)), by.get(("app", workload, 1))
        if floor1 and app1:
            bound = floor1.pct(50) + 1.5 * forward_ms
            met = "MET" if app1.pct(50) <= bound else "MISSED"
            lines.append(
                f"- {workload}: p50 at 1 client {app1.pct(50):.0f} ms vs floor p50 {floor1.pct(50):.0f} + 1.5 x "
                f"{forward_ms:.0f} = {bound:.0f} ms: **{met}**"
            )
    return lines


def engine_verdicts(runs: list[Run]) -> list[str]:
    """Issue 25's target: uncached throughput at the most clients, on the engine over eager PyTorch."""
    uncached = {(r.engine, r.clients): r for r in runs if r.workload == "uncached"}
    most = max((c for _, c in uncached), default=0)
    fast, eager = uncached.get(("onnxruntime", most)), uncached.get(("torch", most))
    if not (fast and eager):
        return []
    ratio = fast.throughput / eager.throughput
    return [
        f"- uncached at {most} clients: engine {fast.throughput:.2f} req/s = {ratio:.2f} x eager "
        f"{eager.throughput:.2f} (target >= 1.30): **{'MET' if ratio >= 1.3 else 'MISSED'}**"
    ]


def prepare_engine() -> str:
    """The default model's export and session, ready before any engine run (its building is not timed)."""
    bb = cached_backbone(BACKBONE, weights="auto")
    tick = time.perf_counter()
    ready = engine.prepare(bb, wait=True)
    return f"engine: {'ready' if ready else 'FAILED (see the log)'} after {time.perf_counter() - tick:.1f} s"


def record(path: Path, text: str, runs: list[Run], forward_ms: float) -> None:
    """Append this run's figures to `path` as one JSON line (benchmarks/results/ keeps what the docs quote)."""
    facts = {"bench": "bench_load", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "header": text}
    facts |= {"argv": sys.argv[1:], "forward_ms": round(forward_ms, 2)}
    facts["runs"] = [
        {
            "server": r.target,
            "workload": r.workload,
            "engine": r.engine,
            "clients": r.clients,
            "requests": len(r.latencies),
            "req_s": round(r.throughput, 3),
            "p50_ms": round(r.pct(50)),
            "p95_ms": round(r.pct(95)),
            "cpu_ms_req": round(r.cpu / len(r.latencies) * 1e3),
            "other_load": round(r.others / (r.wall * os.cpu_count()), 3),
        }
        for r in runs
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(facts) + "\n")


def header(weights: str, files: tuple[str, str], args: argparse.Namespace) -> str:
    threads, sizes = torch.get_num_threads(), [os.path.getsize(p) // 1024 for p in files]
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (
        f"# bench_load: {BACKBONE}, weights: {weights}\n"
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average {' '.join(load)} at start, "
        f"torch {torch.__version__} ({threads} threads), gradio {gr.__version__}, "
        f"pipeline concurrency limit {server.PIPELINE['concurrency_limit']}\n"
        f"uploads: {sizes[0]} + {sizes[1]} KB; {args.rounds} rounds of {args.per_client} timed requests per client, "
        "each round after one warm-up request per client\n"
    )


def apply_experiments(args: argparse.Namespace) -> None:
    """Settings under test (not the app's defaults), applied before the servers are built."""
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.pipeline_limit:
        server.PIPELINE["concurrency_limit"] = args.pipeline_limit  # read by build_demo() and floor_demo()


def measure_load(args: argparse.Namespace, urls: dict[str, str], cached_pair: tuple, pairs: list) -> list[Run]:
    """Floor, app cached and app uncached at each concurrency, interleaved, for each round."""
    runs: dict[tuple, Run] = {}
    seed0 = 0
    for round_ in range(args.rounds):
        for clients in args.concurrency:
            for target, workload, choice in (RUNS[name] for name in args.runs):
                os.environ["SNAPMIX_ENGINE"] = choice  # read by the pipeline per call
                source = pairs if workload == "uncached" else [cached_pair]
                plans = plans_for(workload, clients, args.per_client, source, seed0)
                seed0 += clients * (args.per_client + 1)
                run = runs.setdefault((target, workload, clients, choice), Run(target, workload, clients, choice))
                load(urls[target], run, plans)
                name = f"{target} {workload} ({choice})"
                print(f"  round {round_ + 1}: {name} x{clients}: {run.rates[-1]:.2f} req/s", flush=True)
    return list(runs.values())


def report_rss(url: str, requests: int, pairs: list) -> None:
    bound = analysis.ANALYSIS_CACHE_SIZE
    print(f"RSS over {requests} sequential app requests (half with new images; analysis cache bound {bound}):\n")
    print("| requests | RSS MB | cached analyses |\n|---:|---:|---:|")
    for done, mb, cached in rss_curve(url, requests, pairs):
        print(f"| {done} | {mb:.0f} | {cached} |")
    info = model_cache_info()
    print(f"\nmodel cache: {len(info['keys'])} of {info['maxsize']} models, {info['builds']} builds")


def main() -> None:
    args = parse_args()
    apply_experiments(args)
    marked = MarkedPairs(_SCRATCH / "inputs")
    uncached_runs = sum(RUNS[name][1] == "uncached" for name in args.runs)
    per_run = args.rounds * sum(c * (args.per_client + 1) for c in args.concurrency)
    needed = uncached_runs * per_run + args.rss_requests // 2 + 1
    pairs = [marked.make(k) for k in range(needed, 0, -1)]  # popped from the end: 1, 2, ...
    cached_pair = marked.make(0)
    os.environ["SNAPMIX_ENGINE"] = "torch"  # each run sets its engine; "auto" would switch engines mid-run
    answer = snapmix_pair(*cached_pair, backbone=BACKBONE).to_dict()
    before, weights = bare_forward_ms(args.forward_rounds)
    urls = {"app": serve(app.build_demo()), "floor": serve(floor_demo(answer))}
    text = header(weights, cached_pair, args)
    if "uncached_engine" in args.runs:
        text += prepare_engine() + "\n"
    print(text)
    runs = measure_load(args, urls, cached_pair, pairs)
    after, _ = bare_forward_ms(args.forward_rounds)
    forward_ms = min(before, after)  # the lower one: the stricter latency target
    print(f"\ncompute limit: one bare batched forward of 2 x 224x224 ({BACKBONE}), median of {args.forward_rounds}:")
    print(f"{before:.1f} ms before the load runs, {after:.1f} ms after; the targets use {forward_ms:.1f} ms\n")
    print(table(runs) + "\n\n" + NOTES + "\n")
    print("\n".join(verdicts(runs, forward_ms)) + "\n")
    if args.record:
        record(args.record, text, runs, forward_ms)
    if args.rss_requests:
        os.environ["SNAPMIX_ENGINE"] = "torch"
        report_rss(urls["app"], args.rss_requests, pairs)


if __name__ == "__main__":
    main()
