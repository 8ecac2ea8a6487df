"""The folders are the layers: nothing imports upwards (DESIGN.md), checked on every import statement."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "snapmix_demo"
# From the bottom up; a module may import its own layer and those below it.
LAYERS = ("core", "training", "app")
PRESENTATION = {"cli", "__main__"}  # the command line sits beside the app, over the core and the app's pictures


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "snapmix_demo" or len(parts) == 1:
        return "core"
    if parts[1] in ("training", "app"):
        return parts[1]
    return "app" if parts[1] in PRESENTATION else "core"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in found if name.startswith("snapmix_demo")}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path):
    own = LAYERS.index(_layer(_module(path)))
    above = sorted(name for name in _imports(path) if LAYERS.index(_layer(name)) > own)
    assert not above, f"{_module(path)} ({LAYERS[own]}) imports {above}"


def test_the_check_sees_an_upward_import(tmp_path):
    core = tmp_path / "snapmix.py"
    core.write_text("from snapmix_demo.training.distributed import sync_buffers\n")
    assert _imports(core) == {"snapmix_demo.training.distributed", "snapmix_demo.training.distributed.sync_buffers"}
    assert _layer("snapmix_demo.snapmix") == "core" and _layer("snapmix_demo.training.distributed") == "training"
