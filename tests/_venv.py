"""Fresh virtual environments for the install tests: created, filled by pip, and always removed (~1.5 GB each)."""

import os
import shutil
import subprocess
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from scripts.torch_choice import OVERRIDE, choose, current_machine, index_answers

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fresh_venv(where: Path) -> Iterator[Path]:
    """A new venv under `where` (with pip, without this one's packages); yields its python, then deletes it."""
    home = where / "venv"
    venv.create(home, with_pip=True, clear=True)
    try:
        yield home / "bin" / "python"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def pip_install(python: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """`python -m pip install ARGS` with this machine's pip configuration; fails the test with pip's output.

    `--no-compile`: byte-compiling every installed module took two thirds of pip's CPU time here (41 s of
    user time against 14 s for requirements.txt); the modules a test imports are compiled when imported.
    """
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ | (env or {}),
        check=False,
    )
    if done.returncode:
        pytest.fail(f"pip install {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def installed(python: Path) -> dict[str, str]:
    """Distribution name (canonical: lower case, dashes) -> version, in the environment of `python`."""
    listing = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; [print(d.name, d.version) for d in m.distributions()]"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {canonicalize_name(name): version for name, version in (line.split() for line in listing.splitlines())}


def torch_args() -> tuple[str, ...]:
    """The extra pip arguments set-up would use on this machine (a CPU index on Linux without a GPU, ...)."""
    return choose(current_machine(), index_answers, os.environ.get(OVERRIDE, "").strip() or None).pip_args
