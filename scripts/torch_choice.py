"""Which torch build `scripts/setup.sh` asks pip for, decided before pip downloads anything.

On Linux, PyPI's torch is the CUDA build (several GB of `nvidia-*` packages and `triton`):
right with an NVIDIA GPU, wasteful without one. PyTorch's CPU index has the same versions
as `+cpu` builds, which outrank PyPI's when the index is an extra one. On macOS, PyPI's
wheels are the only builds (arm64, macOS 14 or later for torch 2.13; none for Intel Macs).

Prints the extra pip arguments (possibly none) on stdout and one line saying why on stderr;
exits 1 with the reason where the pinned torch cannot install at all.
"""

import os
import platform
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CPU_INDEX", "Choice", "Machine", "choose", "current_machine", "has_nvidia_gpu", "index_answers"]

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 2.0
PROC_GPUS = Path("/proc/driver/nvidia/gpus")
MIN_MACOS = (14, 0)  # torch 2.13's macOS wheels are tagged macosx_14_0_arm64
OVERRIDE = "SNAPMIX_TORCH_INDEX"  # an index URL to add, or "pypi" for pip's own indexes only


@dataclass(frozen=True)
class Machine:
    """The facts the choice depends on."""

    system: str  # platform.system(): "Linux", "Darwin", ...
    arch: str  # platform.machine(): "x86_64", "arm64", "aarch64", ...
    macos: tuple[int, ...]  # macOS version, () elsewhere or unknown
    nvidia_gpu: bool


@dataclass(frozen=True)
class Choice:
    """Extra pip arguments, the one line that explains them, and whether to go on at all."""

    pip_args: tuple[str, ...]
    message: str
    ok: bool = True


def has_nvidia_gpu() -> bool:
    """Whether an NVIDIA GPU with a loaded driver is present (the kernel lists it, or `nvidia-smi -L` does)."""
    if PROC_GPUS.is_dir() and any(PROC_GPUS.iterdir()):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU " in listed.stdout


def current_machine() -> Machine:
    """This machine's facts."""
    system = platform.system()
    macos = (
        tuple(int(part) for part in platform.mac_ver()[0].split(".") if part.isdigit()) if system == "Darwin" else ()
    )
    return Machine(system, platform.machine(), macos, system == "Linux" and has_nvidia_gpu())


def index_answers(url: str = f"{CPU_INDEX}/torch/", timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether `url` answers with HTTP 200 within `timeout` seconds, name lookup included (never hangs)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # headers only; the body is not read
                answer.append(response.status == 200)
        except (OSError, ValueError):  # refused, unresolvable, TLS, HTTP errors (URLError is an OSError)
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # a stuck DNS lookup ignores `timeout`; the join does not
    thread.start()
    thread.join(timeout)
    return bool(answer) and answer[0]


def _macos(machine: Machine) -> Choice:
    if machine.arch != "arm64":
        return Choice(
            (),
            "error: PyTorch publishes no wheels for Intel Macs after torch 2.2.2, so the pinned torch cannot "
            "install here (an x86_64 Python under Rosetta: use an arm64 one); run the app on Hugging Face "
            "Spaces or in a Linux container instead (README: Set-up)",
            ok=False,
        )
    if machine.macos and machine.macos < MIN_MACOS:
        version = ".".join(map(str, machine.macos))
        return Choice((), f"error: torch's macOS wheels need macOS 14 or later; this is macOS {version}", ok=False)
    return Choice((), "macOS arm64: PyPI's torch wheels (CPU and Metal)")


def _linux(machine: Machine, answers: Callable[[], bool]) -> Choice:
    if machine.nvidia_gpu:
        return Choice((), "NVIDIA GPU found: PyPI's torch, the CUDA build (several GB)")
    if answers():
        return Choice(("--extra-index-url", CPU_INDEX), f"no NVIDIA GPU: CPU-only torch from {CPU_INDEX}")
    return Choice(
        (),
        f"no NVIDIA GPU, and {CPU_INDEX} did not answer within {PROBE_TIMEOUT_S:g} s: installing the torch "
        "that pip resolves (PyPI alone gives the CUDA build, several GB, which runs on the CPU too)",
    )


def choose(machine: Machine, answers: Callable[[], bool], override: str | None = None) -> Choice:
    """The torch build for `machine`; `answers()` probes the CPU index, and is called only on Linux without a GPU."""
    if override == "pypi":
        return Choice((), f"{OVERRIDE}=pypi: pip's own indexes only")
    if override:
        return Choice(("--extra-index-url", override), f"{OVERRIDE}: torch from {override}")
    if machine.system == "Darwin":
        return _macos(machine)
    if machine.system == "Linux":
        return _linux(machine, answers)
    return Choice((), f"{machine.system}: pip's default torch (not tested there)")


def main() -> int:
    """Print this machine's extra pip arguments (stdout) and why (one line, stderr)."""
    choice = choose(current_machine(), index_answers, os.environ.get(OVERRIDE, "").strip() or None)
    print(choice.message, file=sys.stderr)
    if choice.ok:
        print(" ".join(choice.pip_args))
    return 0 if choice.ok else 1


if __name__ == "__main__":
    sys.exit(main())
