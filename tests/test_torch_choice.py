"""scripts/torch_choice.py: which torch build set-up asks for, per machine, with the GPU and the index faked."""

import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scripts import torch_choice
from scripts.torch_choice import CPU_INDEX, Machine, choose

ROOT = Path(__file__).resolve().parent.parent
LINUX = Machine("Linux", "x86_64", (), nvidia_gpu=False)


class Probe:
    """A fake index probe that records whether it was asked."""

    def __init__(self, answers: bool):
        self.answers, self.calls = answers, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answers


def test_linux_without_gpu_takes_cpu_wheels_from_the_index_when_it_answers():
    probe = Probe(answers=True)
    choice = choose(LINUX, probe)
    assert choice.ok and choice.pip_args == ("--extra-index-url", CPU_INDEX), choice
    assert probe.calls == 1


def test_linux_without_gpu_and_a_silent_index_installs_what_pip_resolves_and_says_so():
    choice = choose(LINUX, Probe(answers=False))
    assert choice.ok and choice.pip_args == (), choice
    assert "did not answer" in choice.message and "\n" not in choice.message


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_linux_with_nvidia_gpu_takes_the_default_cuda_build_without_probing(arch):
    probe = Probe(answers=True)
    choice = choose(Machine("Linux", arch, (), nvidia_gpu=True), probe)
    assert choice.ok and choice.pip_args == () and "CUDA" in choice.message, choice
    assert probe.calls == 0


@pytest.mark.parametrize("version", [(14, 0), (15, 3), ()])
def test_macos_arm64_takes_the_default_wheels_without_probing(version):
    probe = Probe(answers=True)
    choice = choose(Machine("Darwin", "arm64", version, nvidia_gpu=False), probe)
    assert choice.ok and choice.pip_args == (), choice
    assert probe.calls == 0


def test_macos_before_14_stops_before_downloading():
    choice = choose(Machine("Darwin", "arm64", (13, 6, 1), nvidia_gpu=False), Probe(answers=True))
    assert not choice.ok and "macOS 14" in choice.message and "13.6.1" in choice.message, choice


def test_intel_mac_stops_before_downloading_and_says_where_to_run_instead():
    choice = choose(Machine("Darwin", "x86_64", (14, 5), nvidia_gpu=False), Probe(answers=True))
    assert not choice.ok and "Intel" in choice.message and "Spaces" in choice.message, choice


def test_other_systems_take_pips_default():
    choice = choose(Machine("Windows", "AMD64", (), nvidia_gpu=False), Probe(answers=True))
    assert choice.ok and choice.pip_args == (), choice


@pytest.mark.parametrize(
    ("override", "args"),
    [
        ("https://download.pytorch.org/whl/cu126", ("--extra-index-url", "https://download.pytorch.org/whl/cu126")),
        ("pypi", ()),
    ],
)
def test_override_wins_on_every_machine_without_probing(override, args):
    for machine in (LINUX, Machine("Linux", "x86_64", (), nvidia_gpu=True), Machine("Darwin", "x86_64", (), False)):
        probe = Probe(answers=True)
        choice = choose(machine, probe, override)
        assert choice.ok and choice.pip_args == args, (machine, choice)
        assert probe.calls == 0


# ## The real probes, against fakes on this machine


@pytest.fixture
def fake_gpu_tools(tmp_path, monkeypatch):
    """No kernel GPU list, and a PATH holding only what the test puts there."""
    monkeypatch.setattr(torch_choice, "PROC_GPUS", tmp_path / "proc-gpus")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return tmp_path


def _fake_smi(bin_dir: Path, output: str, code: int = 0) -> None:
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {code}\n")
    smi.chmod(0o755)


def test_gpu_found_in_the_kernel_list(fake_gpu_tools):
    (fake_gpu_tools / "proc-gpus" / "0000:01:00.0").mkdir(parents=True)
    assert torch_choice.has_nvidia_gpu()


def test_gpu_found_by_nvidia_smi(fake_gpu_tools):
    _fake_smi(fake_gpu_tools / "bin", "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)")
    assert torch_choice.has_nvidia_gpu()


@pytest.mark.parametrize(
    ("output", "code"),
    [(None, 0), ("NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.", 9), ("", 0)],
)
def test_no_gpu_without_a_driver_that_lists_one(fake_gpu_tools, output, code):
    if output is not None:
        _fake_smi(fake_gpu_tools / "bin", output, code)
    assert not torch_choice.has_nvidia_gpu()


@pytest.fixture
def loopback_server():
    """Serve on 127.0.0.1 with a given handler; yields a function that starts one and returns its URL."""
    servers = []

    def start(handler) -> str:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/whl/cpu/torch/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


class _Index(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/whl/cpu/torch/" else 404)
        self.end_headers()
        self.wfile.write(b"<a href='torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl'>torch</a>")

    def log_message(self, *args):
        pass


def test_probe_true_when_the_index_answers(loopback_server):
    assert torch_choice.index_answers(loopback_server(_Index), timeout=10)


def test_probe_false_on_a_missing_page(loopback_server):
    assert not torch_choice.index_answers(loopback_server(_Index).replace("torch/", "nope/"), timeout=10)


def test_probe_false_when_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    assert not torch_choice.index_answers(f"http://127.0.0.1:{port}/", timeout=10)


def test_probe_gives_up_on_an_index_that_never_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()  # the connection is accepted by the kernel, and nothing ever replies
        assert not torch_choice.index_answers(f"http://127.0.0.1:{s.getsockname()[1]}/", timeout=0.3)


def test_command_prints_pip_arguments_on_stdout_and_one_reason_on_stderr():
    done = subprocess.run(
        [sys.executable, "scripts/torch_choice.py"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("", f"--extra-index-url {CPU_INDEX}"), done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
