"""The README runs as written: every Python block, and every command of the CLI, from the repository root.

Blocks run one by one in a fresh interpreter (so each must be self-contained), offline, and may
write only into git-ignored places. The HTTP API example is pointed at the app this session serves.
The set-up and deploy commands (`scripts/*.sh`, `hf`) are what CI itself and tests/test_spaces.py run.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests._venv import ROOT

README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
DEFAULT_URL = "http://127.0.0.1:7860/"


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line number, code) of each fenced block tagged `lang`."""
    return [(README[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(README) if m.group(1) == lang]


def _cli_commands() -> list[tuple[int, str]]:
    """Commands in bash blocks that run this package's command line, continuation lines joined."""
    found = []
    for line, code in _blocks("bash"):
        for command in code.replace("\\\n", " ").splitlines():
            if command.startswith(".venv/bin/python -m snapmix_demo "):
                found.append((line, command.split("#", 1)[0]))
    return found


def _git_status() -> str:
    """Tracked changes and untracked files that are not ignored: what a README example must never add to."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _run(argv: list[str]) -> None:
    before = _git_status()
    env = os.environ | {"TMPDIR": tempfile.gettempdir()}  # the session's scratch folder (gradio_client writes there)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert _git_status() == before, f"wrote outside git-ignored places:\n{_git_status()}"


PYTHON_BLOCKS, CLI_COMMANDS = _blocks("python"), _cli_commands()


def test_readme_has_python_blocks_and_a_cli_command():
    assert PYTHON_BLOCKS and CLI_COMMANDS


@pytest.mark.parametrize(("line", "code"), PYTHON_BLOCKS, ids=[f"line{n}" for n, _ in PYTHON_BLOCKS])
def test_python_block_runs(line, code, request):
    if DEFAULT_URL in code:
        code = code.replace(DEFAULT_URL, request.getfixturevalue("app_url"))
    _run([sys.executable, "-c", code])


@pytest.mark.parametrize(("line", "command"), CLI_COMMANDS, ids=[f"line{n}" for n, _ in CLI_COMMANDS])
def test_cli_command_runs_and_writes_only_ignored_files(line, command):
    out = re.search(r"--out (\S+)", command)
    assert out, f"README line {line}: give --out, so readers know where the files go"
    target = ROOT / out.group(1)
    existed = target.exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(target / "result.json")], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"README line {line}: {out.group(1)} is not git-ignored"
    try:
        _run(["bash", "-c", command.replace(".venv/bin/python", sys.executable, 1)])
        assert (target / "result.json").is_file()
    finally:
        if not existed:
            shutil.rmtree(target, ignore_errors=True)
