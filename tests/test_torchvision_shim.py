"""torchvision on demand: not imported for the default backbone, patched whenever it is imported, and
importable (with one warning) where its compiled extension cannot load. Each case runs in a new process,
since what is under test is what a fresh interpreter imports."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_default_pair_never_imports_torchvision():
    run_python(
        """
        import sys
        from snapmix_demo import snapmix_pair
        res = snapmix_pair("assets/examples/cat.jpg", "assets/examples/coffee.jpg")
        assert res.label_a == "Egyptian cat", res.label_a
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "torchvision")
        assert not loaded, f"torchvision was imported: {loaded[:5]}"
        """
    )


@pytest.mark.parametrize("order", ["torchvision first", "snapmix_demo first"])
def test_torchvision_classes_are_patched_whichever_is_imported_first(order):
    imports = ["import torchvision.models as tv", "import snapmix_demo"]
    run_python(
        "\n".join(imports if order == "torchvision first" else imports[::-1])
        + """
import torch
model = tv.resnet18(weights=None).eval()
assert model.get_fc() is model.fc is model.fc_layer and type(model).fc_path() == "fc"
assert model.extract_features(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 2, 2)
"""
    )


SIMULATED_FAILURE = """
    import warnings
    import torch

    def refuse(path):  # what a torchvision built for another torch meets
        raise OSError("simulated: libc10_cuda.so: cannot open shared object file")

    torch.ops.load_library = refuse
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        from snapmix_demo import load_backbone
        model = load_backbone("resnet18", weights="random")
        load_backbone("densenet121", weights="random")
        import torchvision
    from snapmix_demo._torchvision import TorchvisionExtensionWarning
    ours = [str(w.message) for w in seen if issubclass(w.category, TorchvisionExtensionWarning)]
    assert len(ours) == 1, f"said {len(ours)} times: {ours}"
    print(ours[0])
    assert model.extract_features(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 2, 2)
    try:
        torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    except RuntimeError as e:
        print("nms:", str(e).splitlines()[0])
    else:
        raise AssertionError("nms ran without its compiled extension")
"""


def test_a_torchvision_whose_extension_cannot_load_imports_with_one_warning_naming_both_builds():
    import torch

    out = run_python(SIMULATED_FAILURE).stdout
    assert f"against torch {torch.__version__}" in out, out
    assert "torchvision 0." in out and "simulated: libc10_cuda.so" in out, out
    assert "torchvision.ops.nms" in out, "the warning says what will not work"
    assert "nms:" in out


def test_lightning_imports_before_or_after_snapmix_demo():
    """On a machine whose torchvision cannot load its extension, set-up's start-up hook makes this work."""
    run_python(
        """
        import lightning  # imports torchmetrics, which imports torchvision
        import torch
        from snapmix_demo import snapmix_batch
        from snapmix_demo.backbones import build_model
        from snapmix_demo.training.lightning import SnapMixCallback

        model = build_model("resnet18", num_classes=3).eval()
        mix = snapmix_batch(torch.rand(2, 3, 64, 64), torch.tensor([0, 1]), model, beta=5.0, prob=1.0,
                            generator=torch.Generator().manual_seed(0))
        assert mix.x.shape == (2, 3, 64, 64)
        SnapMixCallback(beta=5.0, prob=0.5)
        """
    )
