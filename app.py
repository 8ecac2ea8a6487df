"""SnapMix explorer: `python app.py` serves it on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""

import os
import tempfile

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound calls unless the user opts in
if "GRADIO_TEMP_DIR" not in os.environ:  # Gradio's cache (uploads, results): ours alone, removed at stop
    os.environ["GRADIO_TEMP_DIR"] = os.environ["SNAPMIX_OWN_GRADIO_TEMP"] = tempfile.mkdtemp(prefix="snapmix-gradio-")

from snapmix_demo.app import build_demo, serve  # after the environment that Gradio reads at import

demo = build_demo()

if __name__ == "__main__":
    serve(demo)
