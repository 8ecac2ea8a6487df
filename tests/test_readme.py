"""The README and the docs pages run as written: every Python block, every command of the CLI, every link.

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

PAGES = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
DEFAULT_URL = "http://127.0.0.1:7860/"


def _blocks(lang: str) -> list[tuple[str, str]]:
    """(page:line, code) of each fenced block tagged `lang`, on every page; a block quoted twice is run once."""
    found = {}
    for page, text in PAGES.items():
        for m in FENCE.finditer(text):
            if m.group(1) == lang:
                found.setdefault(m.group(2), f"{page}:{text[: m.start()].count(chr(10)) + 1}")
    return [(where, code) for code, where in found.items()]


def _cli_commands() -> list[tuple[str, str]]:
    """Commands in bash blocks that run this package's command line, continuation lines joined."""
    found = []
    for line, code in _blocks("bash"):
        for command in code.replace("\\\n", " ").splitlines():
            if command.startswith(".venv/bin/python -m snapmix_demo "):
                found.append((line, command.split("#", 1)[0]))
    return found


def _anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", text), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _links() -> list[tuple[str, str]]:
    """(page, target) of every relative link outside code blocks."""
    found = {(page, target) for page, text in PAGES.items() for target in LINK.findall(FENCE.sub("", text))}
    return sorted((page, target) for page, target in found if not re.match(r"[a-z]+:", target))


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


PYTHON_BLOCKS, CLI_COMMANDS, LINKS = _blocks("python"), _cli_commands(), _links()


def test_the_pages_have_python_blocks_a_cli_command_and_links():
    assert PYTHON_BLOCKS and CLI_COMMANDS and LINKS
    assert {"README.md", "docs/training.md", "docs/backbones.md"} <= {line.split(":")[0] for line, _ in PYTHON_BLOCKS}


def test_the_readme_starts_short():
    assert PAGES["README.md"].count("\n") <= 200, "the README is the Space's card: move reference to docs/"


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{page}->{target}" for page, target in LINKS])
def test_every_relative_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    file = (ROOT / page).parent / path if path else ROOT / page
    assert file.resolve().is_file(), f"{page}: {target} does not exist"
    if anchor:
        assert anchor in _anchors(file.read_text()), f"{page}: no heading #{anchor} in {path or page}"


def test_the_anchor_rule_matches_github():
    assert _anchors("# Layout and tests\n## How `@patch_to` unifies the backbones\n") == {
        "layout-and-tests",
        "how-patch_to-unifies-the-backbones",
    }


@pytest.mark.parametrize(("line", "code"), PYTHON_BLOCKS, ids=[line for line, _ in PYTHON_BLOCKS])
def test_python_block_runs(line, code, request):
    if DEFAULT_URL in code:
        code = code.replace(DEFAULT_URL, request.getfixturevalue("app_url"))
    _run([sys.executable, "-c", code])


@pytest.mark.parametrize(("line", "command"), CLI_COMMANDS, ids=[line for line, _ in CLI_COMMANDS])
def test_cli_command_runs_and_writes_only_ignored_files(line, command):
    out = re.search(r"--out (\S+)", command)
    assert out, f"{line}: give --out, so readers know where the files go"
    target = ROOT / out.group(1)
    existed = target.exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(target / "result.json")], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{line}: {out.group(1)} is not git-ignored"
    try:
        _run(["bash", "-c", command.replace(".venv/bin/python", sys.executable, 1)])
        assert (target / "result.json").is_file()
    finally:
        if not existed:
            shutil.rmtree(target, ignore_errors=True)
