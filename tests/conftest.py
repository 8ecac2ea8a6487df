"""Shared fixtures: an isolated offline environment, seeded inputs, a session cache of real backbones."""

import contextlib
import ctypes
import gc
import os
import shutil
import tempfile
from pathlib import Path

# Before anything imports torch or snapmix_demo: no downloads, an empty private torch hub,
# no Gradio analytics, scratch folders for the clients and browsers the tests start.
_SCRATCH = Path(tempfile.mkdtemp(prefix="snapmix-tests-"))
os.environ["SNAPMIX_OFFLINE"] = "1"
os.environ["TORCH_HOME"] = str(_SCRATCH / "torch")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("SNAPMIX_ENGINE", "torch")  # deterministic results; tests/test_engine.py runs ONNX Runtime
os.environ["GRADIO_TEMP_DIR"] = str(_SCRATCH / "gradio")
os.environ.setdefault("MPLBACKEND", "Agg")
(_SCRATCH / "tmp").mkdir()
tempfile.tempdir = str(_SCRATCH / "tmp")  # gradio_client and the app's result files land here too

import socket  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from snapmix_demo import analysis, pipeline  # noqa: E402
from snapmix_demo.weights import load_backbone  # noqa: E402


def pytest_unconfigure(config):
    """Remove the session's scratch folder (models, temp files, browser profile): CI machines keep /tmp."""
    if not os.environ.get("SNAPMIX_KEEP_TEST_SCRATCH"):
        shutil.rmtree(_SCRATCH, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite the tests/ui/baselines/*.png whose pixels moved, and their VERSIONS.json entries",
    )


@pytest.fixture(scope="session")
def scratch() -> Path:
    return _SCRATCH


@pytest.fixture(scope="session")
def built():
    """Session cache of real, randomly initialised backbones: name -> model."""
    models = {}

    def get(name: str):
        if name not in models:
            models[name] = load_backbone(name, weights="random")
        return models[name]

    return get


@pytest.fixture(scope="session")
def photo_pair() -> tuple[Image.Image, Image.Image]:
    """Two seeded, non-square RGB images with structure (not white noise)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:180, 0:260]
    a = np.stack([(xx * 255 / 259), (yy * 255 / 179), 128 + 0 * xx], -1)
    a[40:120, 60:160] = (230, 30, 30)
    b = rng.integers(0, 256, (210, 150, 3))
    b[50:150, 30:110] = (20, 200, 40)
    return Image.fromarray(a.astype(np.uint8)), Image.fromarray(b.astype(np.uint8))


@pytest.fixture(scope="session")
def result() -> pipeline.PairResult:
    """One SnapMix result of two seeded random images (resnet18, random weights, box A and targets given)."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (60, 90, 3), dtype=np.uint8) for _ in range(2))
    return pipeline.snapmix_pair(
        a, b, backbone="resnet18", weights="random", box_a=(10, 20, 110, 200), seed=1, target_a=1, target_b=2
    )


@pytest.fixture(autouse=True)
def _fresh_analysis_cache():
    analysis.clear_caches()


def settled_rss_mb() -> float:
    """Resident memory after a full collection and, under glibc, after `malloc_trim` hands free heap pages back.

    Untrimmed, a test worker's RSS swings by tens of MB with whatever its other threads freed last (CI saw
    1331 MB before a loop, 1318 after 45 requests, 1363 after 90); trimmed, one process over 180 requests
    stays within 571-586 MB. Growth that survives the trim is memory still referenced.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): plain RSS
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (VmRSS), or its peak (VmHWM), in MB: the tests serve the app in-process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """The real app, served over loopback for the whole session."""
    from snapmix_demo.app import build_demo, launch_kwargs

    demo = build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture
def weights_server(monkeypatch):
    """A loopback HTTP server for weight files, reachable (SNAPMIX_OFFLINE unset), torn down afterwards."""
    from tests._http import WeightsServer, serve

    monkeypatch.delenv("SNAPMIX_OFFLINE")
    server = WeightsServer()
    httpd = serve(server)
    yield server
    httpd.shutdown()
    httpd.server_close()
