"""Run by tests/test_hardening.py in a fresh process: the real app over loopback, 90 requests, memory read around them.

A pytest worker's resident memory moves with whatever its earlier tests left running (servers, threads, caches),
by tens of MB; a fresh process serving only this app measures the app. Prints one JSON line.
"""

import json
import tempfile
from pathlib import Path

from gradio_client import Client

from snapmix_demo import analysis, weights
from snapmix_demo.app import build_demo, launch_kwargs
from tests.conftest import _free_port, settled_rss_mb
from tests.test_hardening import _call, _live_results, _pairs

REQUESTS, WARM, LATE = 90, range(40, 46), range(85, 91)


def main() -> None:
    demo = build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs())
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    pairs = _pairs(Path(tempfile.mkdtemp()), 60)  # 120 distinct images, two backbones: more than the cache holds
    rss, live, full_at_40 = {0: settled_rss_mb()}, {}, False
    for i in range(1, REQUESTS + 1):
        image_a, image_b = pairs[(i - 1) * 2 // 3]  # two of three requests bring new images, one only a new seed
        _call(client, image_a, image_b, backbone=("resnet18", "mobilenet_v2")[i % 2], mode="default", seed=i)
        if i in WARM or i in LATE:
            rss[i] = settled_rss_mb()
        if i in (WARM[-1], LATE[-1]):
            live[i] = _live_results()
        if i == WARM[0]:
            full_at_40 = len(analysis._analyses) == analysis.ANALYSIS_CACHE_SIZE
    info = weights.model_cache_info()
    facts = {"rss": rss, "live": live, "full_at_40": full_at_40, "analyses": len(analysis._analyses)}
    facts |= {"analyses_max": analysis._analyses.maxsize, "models": len(info["keys"]), "models_max": info["maxsize"]}
    print(json.dumps(facts), flush=True)
    demo.close()


if __name__ == "__main__":
    main()
