"""How the app is served: queue and concurrency limits, upload limits, theme and CSS for `launch()`."""

import os
import tempfile
from pathlib import Path

import gradio as gr

from snapmix_demo.app.style import CSS
from snapmix_demo.imageio import MAX_BYTES

__all__ = ["PIPELINE", "QUEUE_MAX_SIZE", "RESULTS_DIR", "launch_kwargs"]

# Pipeline runs share one concurrency group. They are compute-bound: on 2 cores a clean load run gave the same
# throughput at limits 1 and 4 (benchmarks/bench_load.py), so one at a time keeps latency predictable. Uploads,
# downloads and the queue still overlap. Raise it on machines with more cores.
PIPELINE = {"concurrency_limit": int(os.environ.get("SNAPMIX_PIPELINE_CONCURRENCY", "1")), "concurrency_id": "pipeline"}
QUEUE_MAX_SIZE = 64
RESULTS_DIR = Path(tempfile.mkdtemp(prefix="snapmix-results-"))  # result files for download, rotated


def launch_kwargs() -> dict:
    """Theme, CSS and server settings shared by `app.py` and the tests (no share link, bounded uploads)."""
    return {
        "theme": gr.themes.Soft(),
        "css": CSS,
        "footer_links": ["api"],
        "max_file_size": MAX_BYTES,
        "allowed_paths": [str(RESULTS_DIR)],  # only the app's own result files, wherever the temp dir points now
    }
