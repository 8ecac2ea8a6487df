"""The library install: pins against declared ranges, and the built wheel in a fresh venv without gradio."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from PIL import Image

from tests._venv import ROOT, fresh_venv, installed, pip_install, torch_args

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])


def _pins(name: str) -> dict[str, str]:
    """Package -> exact version pinned in a requirements file (not following `-r`)."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==" and not req.marker and not req.extras, f"{name}: `{line}` is not an exact pin"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def _declared(group: str) -> dict[str, Requirement]:
    """Package -> requirement declared in pyproject.toml: "core" or an extra; the self-reference left out."""
    lines = PROJECT["dependencies"] if group == "core" else PROJECT["optional-dependencies"][group]
    reqs = (Requirement(line) for line in lines)
    return {canonicalize_name(r.name): r for r in reqs if canonicalize_name(r.name) != SELF}


RUNTIME, DEV = _pins("requirements.txt"), _pins("requirements-dev.txt")


def test_every_pin_satisfies_its_declared_range():
    pins = RUNTIME | DEV
    for group in ("core", *PROJECT["optional-dependencies"]):
        for name, req in _declared(group).items():
            if name in pins:  # an extra's package may be pinned later by the work that uses it
                assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs [{group}] {req}"


def test_runtime_pins_are_exactly_the_core_and_the_app():
    declared = set(_declared("core")) | set(_declared("app")) | set(_declared("fast"))  # [app] includes [fast]
    (self_ref,) = [Requirement(r) for r in PROJECT["optional-dependencies"]["app"] if r.startswith(PROJECT["name"])]
    assert self_ref.extras == {"fast"}, "the app (and so the Space) installs the engine"
    assert set(RUNTIME) == declared, f"pinned only: {set(RUNTIME) - declared}; declared only: {declared - set(RUNTIME)}"


def test_dev_pins_are_declared_in_extras():
    extras = set().union(*(_declared(g) for g in PROJECT["optional-dependencies"] if g != "app"))
    assert set(DEV) <= extras, f"pinned in requirements-dev.txt but in no extra: {set(DEV) - extras}"
    assert set(_declared("dev")) <= set(DEV), "every dev tool is pinned for CI"


def test_dev_extra_includes_the_app_and_lightning():
    (self_ref,) = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"] if r.startswith(PROJECT["name"])]
    assert self_ref.extras == {"app", "lightning"}


def test_python_versions_agree():
    supported = SpecifierSet(PROJECT["requires-python"])
    front = re.search(r'^python_version: "(.+)"$', (ROOT / "README.md").read_text(), re.M).group(1)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert supported.contains(front) and supported.contains(running), (supported, front, running)
    listed = [c.rsplit(" ", 1)[-1] for c in PROJECT["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c)]
    assert listed[0] == front and all(supported.contains(v) for v in listed), listed


# ## The wheel, built and installed the way a user's `pip install .` does


def _checkout(dest: Path) -> Path:
    """The tracked files of this checkout, as `pip install git+<repo>` would see them (working-tree content)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, names.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, dest / name)
    return dest


def _build_wheel(tmp_path: Path) -> Path:
    src = _checkout(tmp_path / "src")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return wheel


USE = """
import importlib.util, json, sys
import torch
from PIL import Image
import snapmix_demo
from snapmix_demo import load_backbone, snapmix_batch, snapmix_loss, snapmix_pair

a, b = Image.new("RGB", (90, 60), (200, 40, 40)), Image.new("RGB", (60, 90), (40, 160, 60))
res = snapmix_pair(a, b, seed=1)  # the default backbone, on the ImageNet weights its package ships
model = load_backbone("resnet18", weights="random").train()  # returned in eval mode
x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
mix = snapmix_batch(x, y, model, beta=5.0, prob=1.0, generator=torch.Generator().manual_seed(0))
loss = snapmix_loss(model(mix.x), y, mix.y_b, mix.rho_a, mix.rho_b)
loss.backward()
print(json.dumps({"file": snapmix_demo.__file__, "gradio": importlib.util.find_spec("gradio") is not None,
                  "weights": res.weights_kind, "engine": res.engine, "loss": float(loss)}))
"""


@pytest.mark.install
def test_wheel_installs_the_core_that_works_without_gradio(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("snapmix_demo/", "snapmix_demo-")) for n in names), [n for n in names if "/" not in n]
    run = tmp_path / "run"  # not the checkout: the package must come from the venv
    run.mkdir()
    Image.new("RGB", (64, 64), (30, 30, 200)).save(run / "a.png")
    Image.new("RGB", (64, 64), (200, 200, 30)).save(run / "b.png")
    with fresh_venv(tmp_path) as python:
        pip_install(python, str(wheel), "-c", str(ROOT / "requirements.txt"), *torch_args())  # ranges -> pins
        packages = installed(python)
        assert "gradio" not in packages and "pytest" not in packages, sorted(packages)
        unpinned = {
            n: v for n, v in packages.items() if n in RUNTIME and not SpecifierSet(f"=={RUNTIME[n]}").contains(v)
        }
        assert not unpinned, f"the constraints were not applied: {unpinned}"
        used = subprocess.run([str(python), "-c", USE], cwd=run, capture_output=True, text=True, timeout=600)
        assert used.returncode == 0, used.stderr[-3000:]
        facts = json.loads(used.stdout.splitlines()[-1])
        assert str(tmp_path / "venv") in facts["file"] and not facts["gradio"], facts
        assert facts["weights"] == "imagenet", facts
        assert facts["engine"] == "torch" and "onnxruntime" not in packages, "the core runs without the [fast] extra"
        cli = subprocess.run(
            [
                str(python),
                "-m",
                "snapmix_demo",
                "a.png",
                "b.png",
                "--backbone",
                "resnet18",
                "--weights",
                "random",
                "--out",
                "out",
            ],
            cwd=run,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert cli.returncode == 0, cli.stderr[-3000:]
        assert {p.name for p in (run / "out").iterdir()} >= {"cam_a.png", "cam_b.png", "mixed.png", "result.json"}
