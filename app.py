"""SnapMix explorer: `python app.py` serves it on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound calls unless the user opts in

from snapmix_demo.app import build_demo, serve

demo = build_demo()

if __name__ == "__main__":
    serve(demo)
