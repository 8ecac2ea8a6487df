"""The Hugging Face Space: its file set, and that set installed and served the way Spaces does."""

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scripts import spaces
from scripts.torch_choice import index_answers
from tests._venv import ROOT, fresh_venv, installed, pip_install
from tests.conftest import _free_port


def test_space_holds_the_app_its_package_and_assets_and_nothing_else(tmp_path):
    files = spaces.build(tmp_path / "space")
    assert {name.split("/", 1)[0] for name in files} == set(spaces.SPACE_PATHS), files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    for name in files:
        if name != "requirements.txt":
            assert (tmp_path / "space" / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_space_requirements_are_the_pins_after_the_cpu_index_line(tmp_path):
    spaces.build(tmp_path / "cpu")
    spaces.build(tmp_path / "gpu", gpu=True)
    pins = (ROOT / "requirements.txt").read_text()
    cpu = (tmp_path / "cpu" / "requirements.txt").read_text()
    assert spaces.CPU_LINE in cpu.splitlines() and cpu.endswith(pins), cpu
    assert (tmp_path / "gpu" / "requirements.txt").read_text() == pins


def test_build_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "old.txt").write_text("stale")
    with pytest.raises(ValueError, match="not empty"):
        spaces.build(tmp_path)


def _spaces_env(port: int, home: Path) -> dict[str, str]:
    """The variables a Gradio Space runs `python app.py` with (its host name and ids made up)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": str(home),
        "PYTHONUNBUFFERED": "1",
        "SYSTEM": "spaces",
        "GRADIO_SERVER_NAME": "0.0.0.0",  # as on Spaces: all interfaces; reached here on loopback
        "GRADIO_SERVER_PORT": str(port),
        "SPACE_ID": "someone/snapmix-explorer",
        "SPACE_AUTHOR_NAME": "someone",
        "SPACE_REPO_NAME": "snapmix-explorer",
        "SPACE_TITLE": "SnapMix explorer",
        "SPACE_HOST": "someone-snapmix-explorer.hf.space",
        "CPU_CORES": "2",
        "MEMORY": "16Gi",
    }


def _wait_for(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):  # import, build and model load take a while; poll, never assert on time
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"python app.py exited with {proc.returncode}:\n{proc.communicate()[0][-3000:]}")
        time.sleep(0.5)
    pytest.fail("the Space's app did not answer")


def _noise(folder: Path, k: int) -> str:
    """A new 64x64 random image: content the Space's analysis cache has never seen."""
    path = folder / f"noise{k}.png"
    Image.fromarray(np.random.default_rng(k).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    return str(path)


def _engine_once_ready(client, folder: Path) -> list[str]:
    """Engines of new pairs sent until one runs on ONNX Runtime (auto builds its export in the background)."""
    from gradio_client import handle_file

    engines = []
    for k in range(120):  # a bound on polling, not a time assertion
        a, b = _noise(folder, 2 * k), _noise(folder, 2 * k + 1)
        res = client.predict(image_a=handle_file(a), image_b=handle_file(b), seed=0, api_name="/snapmix")
        engines.append(res["engine"])
        if engines[-1] == "onnxruntime":
            break
        time.sleep(0.5)
    return engines


@pytest.mark.install
def test_space_installs_its_requirements_alone_and_answers_snapmix(tmp_path):
    from gradio_client import Client, handle_file

    space = tmp_path / "space"
    spaces.build(space)
    with fresh_venv(tmp_path) as python:
        # Where PyTorch's CPU index is unreachable (this project's machines), pip's 5 retries of it would cost
        # ~7.5 s per package; pip then finds torch elsewhere (here: its local CPU wheel).
        retries = {} if index_answers() else {"PIP_RETRIES": "0"}
        pip_install(python, "-r", str(space / "requirements.txt"), env=retries)
        assert "pytest" not in installed(python), "only requirements.txt is installed, not the dev file"
        home, port = tmp_path / "home", _free_port()
        home.mkdir()
        proc = subprocess.Popen(
            [str(python), "app.py"],
            cwd=space,
            env=_spaces_env(port, home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_for(url, proc)
            client = Client(url, verbose=False)
            result = client.predict(
                image_a=handle_file(str(space / "assets/examples/cat.jpg")),
                image_b=handle_file(str(space / "assets/examples/coffee.jpg")),
                backbone="tf_efficientnet_lite0",
                mode="default",
                seed=0,
                api_name="/snapmix",
            )
            engines = _engine_once_ready(client, tmp_path)
        finally:
            proc.terminate()
            output = proc.communicate(timeout=60)[0]
    assert result["weights_kind"] == "imagenet", result
    assert (result["label_a"], result["label_b"]) == ("Egyptian cat", "espresso"), result
    assert result["engine"] == "torch" and engines[-1] == "onnxruntime", (result["engine"], engines, output[-2000:])
    assert "0.0.0.0" in output or str(port) in output, output[-2000:]
