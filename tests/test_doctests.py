"""Every `Example:` in the package's docstrings runs, as fastcore runs its examples: prose that rots fails here.

Modules are found by their source (any `>>>`), so a new example is run without being listed; only those
modules are imported (the app's modules, which import gradio, have none).
"""

import doctest
import importlib
import re

import pytest

from tests._venv import ROOT

PACKAGE = ROOT / "snapmix_demo"
WITH_EXAMPLES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)


def test_the_core_modules_have_examples():
    assert {"snapmix_demo.snapmix", "snapmix_demo.pipeline", "snapmix_demo.cache"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name the bundled images by their path in the checkout
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0, f"{failed} of {attempted} examples in {name} failed (printed above)"


def test_sources_cite_only_documents_in_this_repository():
    """A design note that lives outside the repository is no reference for a reader of the code."""
    present = {path.name for path in ROOT.rglob("*.md") if ".venv" not in path.parts}
    for folder in ("snapmix_demo", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            cited = set(re.findall(r"\b([\w-]+\.md)\b", path.read_text(encoding="utf-8")))
            assert cited <= present, f"{path.relative_to(ROOT)} cites {sorted(cited - present)}, not in this repository"
