"""`python app.py` as a user starts it, and the Hugging Face Spaces metadata."""

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import gradio

from tests.conftest import _free_port

ROOT = Path(__file__).resolve().parent.parent


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert block, "README.md must open with the Spaces front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.group(1).splitlines())}


def test_spaces_sdk_version_is_the_pinned_gradio():
    meta = _front_matter()
    pinned = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == pinned == gradio.__version__
    assert meta["app_file"] == "app.py"
    assert meta["python_version"] == "3.11"
    assert meta["license"]


def test_python_app_py_serves_on_loopback_at_the_given_port(tmp_path):
    port = _free_port()
    unset = ("GRADIO_ANALYTICS_ENABLED", "GRADIO_SERVER_NAME", "GRADIO_TEMP_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env |= {"GRADIO_SERVER_PORT": str(port), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for _ in range(240):  # import and build take a few seconds; poll, never assert on time
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    page = response.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        else:
            raise AssertionError("the app did not start")
        assert "SnapMix explorer" in page
        assert '"analytics_enabled":false' in page.replace(" ", "")
        assert list(tmp_path.glob("snapmix-results-*")), "the result folder exists while serving"
        assert list(tmp_path.glob("snapmix-gradio-*")), "Gradio's cache is a folder of this process's own"
    finally:
        proc.terminate()  # SIGTERM, as Spaces and service managers stop it
        output = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}" in output
    assert "gradio.live" not in output, "no public share link is ever created"
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO snapmix_demo\.app\.serving\.server: serving with", output, re.M
    )
    assert not list(tmp_path.glob("snapmix-results-*")), "the result folder is removed at exit"
    assert "share=True" not in output, "no hint to share a link the app never makes"
    assert "Keyboard interruption" not in output, "SIGTERM is a normal stop"
    assert proc.returncode == 0, output
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(("snapmix-gradio-", "gradio"))]
    assert not left, f"Gradio's cache folder is removed at stop: {left}"
