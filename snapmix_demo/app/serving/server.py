"""How the app is served: queue and concurrency limits, upload limits, the guard, logs, and clean-up at exit."""

import atexit
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from snapmix_demo.app.serving import logs
from snapmix_demo.app.serving.guard import Guard
from snapmix_demo.app.serving.settings import ServerSettings
from snapmix_demo.app.serving.upkeep import GuardState
from snapmix_demo.app.style import CSS, PAGE_JS

__all__ = ["PIPELINE", "QUEUE", "QUEUE_MAX_SIZE", "RESULTS_DIR", "launch_kwargs", "serve"]

logger = logging.getLogger(__name__)

# Pipeline runs share one concurrency group. They are compute-bound: on 2 cores a clean load run gave the same
# throughput at limits 1 and 4 (benchmarks/bench_load.py), so one at a time keeps latency predictable. Uploads,
# downloads and the queue still overlap. Raise it on machines with more cores.
PIPELINE = {"concurrency_limit": int(os.environ.get("SNAPMIX_PIPELINE_CONCURRENCY", "1")), "concurrency_id": "pipeline"}
QUEUE_MAX_SIZE = 64
# api_open=False: the REST route /gradio_api/run/<name> would otherwise run a job beside the queue, past its limits.
QUEUE = {"max_size": QUEUE_MAX_SIZE, "api_open": False}
RESULTS_DIR = Path(tempfile.mkdtemp(prefix="snapmix-results-"))  # result files for download, rotated
atexit.register(shutil.rmtree, RESULTS_DIR, ignore_errors=True)


def launch_kwargs(settings: ServerSettings | None = None) -> dict:
    """Everything `launch()` needs besides host and port: look, limits, and the guard in front of Gradio.

    `settings` defaults to `ServerSettings.from_env()`; each call makes a fresh guard for one app.
    """
    settings = ServerSettings.from_env() if settings is None else settings
    guard = GuardState(settings)
    return {
        "theme": gr.themes.Soft(),
        "css": CSS,
        "js": PAGE_JS,
        "footer_links": ["api"],
        "max_file_size": settings.max_file,
        "allowed_paths": [str(RESULTS_DIR)],  # only the app's own result files, wherever the temp dir points now
        "state_session_capacity": settings.session_capacity,
        "enable_monitoring": False,  # /monitoring would show every function's traffic to anyone
        "ssr_mode": False,  # Python serves the page itself, so the guard sees each client's own request
        "app_kwargs": {"middleware": [Middleware(Guard, state=guard)], "lifespan": guard.lifespan},
    }


def _summary(s: ServerSettings) -> str:
    hosts = ", ".join(s.allowed_hosts) + ("" if s.loopback_only else ", any IP address")
    return (
        f"hosts {hosts}; queue share {s.queue_per_session} per session and event, {s.queue_per_ip} per address; "
        f"bodies {s.max_body >> 10} KB, {s.upload_files} files per upload; "
        f"checkpoint uploads {f'up to {s.checkpoint_max >> 20} MB' if s.checkpoint_max else 'off'}; "
        f"temp cap {s.temp_cap >> 20} MB; "
        f"{s.session_capacity} sessions kept"
    )


def _own_gradio_temp() -> None:
    """Remove Gradio's cache folder at exit when `app.py` made it for this process (`SNAPMIX_OWN_GRADIO_TEMP`)."""
    own = os.environ.get("SNAPMIX_OWN_GRADIO_TEMP")
    if own and own == os.environ.get("GRADIO_TEMP_DIR"):
        atexit.register(shutil.rmtree, own, ignore_errors=True)


def serve(demo: gr.Blocks) -> None:
    """Launch `demo` for real (`python app.py`, Spaces): logs in one format, a quiet clean stop on SIGTERM or Ctrl-C.

    Gradio's own start and stop lines are left out: its share-link hint (this app is never shared that way) and
    "Keyboard interruption", which a service manager's SIGTERM would otherwise print.
    """
    logs.configure()
    _own_gradio_temp()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = ServerSettings.from_env()
    logger.info("serving with %s", _summary(settings))
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    logs.route_uvicorn_logs()  # uvicorn set up its own handlers while starting
    logger.info("running on %s", demo.local_url)
    while not stop.wait(0.5):
        pass
    logger.info("stopping")
    demo.close(verbose=False)
