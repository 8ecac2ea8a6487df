"""The bundled shapes weights: their manifest, their hash check, and evidence that their CAMs mean something."""

import hashlib
import json
import shutil

import pytest

from snapmix_demo import snapmix_pair
from snapmix_demo.app import EXAMPLES
from snapmix_demo.evaluate import evaluate
from snapmix_demo.pipeline import DEFAULT_BACKBONE
from snapmix_demo.shapes import CLASSES
from snapmix_demo.weights import BUNDLED_DIR, available_weights, cached_backbone, clear_model_cache, weights_classes

MANIFEST_PATH = BUNDLED_DIR / "manifest.json"
MANIFEST = json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.exists() else {}
BUNDLED = sorted(MANIFEST)
# These run as soon as `python -m snapmix_demo.train` has written weights to assets/weights/ (see the README).
pytestmark = pytest.mark.skipif(not MANIFEST, reason="no bundled weights in assets/weights/ yet")


def test_at_least_a_geffnet_and_a_torchvision_backbone_are_bundled():
    assert "efficientnet_b0" in BUNDLED
    assert {"mobilenet_v2", "tv_efficientnet_b0", "resnet18", "resnet50", "densenet121"} & set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_manifest_entry_matches_its_file(name):
    entry = MANIFEST[name]
    path = BUNDLED_DIR / entry["file"]
    assert path.stat().st_size < 10 * 1024 * 1024, f"{path.name} must stay under 10 MB"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["classes"] == list(CLASSES)
    assert entry["command"].startswith("python -m snapmix_demo.train")
    assert entry["heldout_accuracy"] >= 0.95
    assert "shapes" in available_weights(name)
    assert weights_classes(name, "shapes") == CLASSES


def test_a_tampered_checkpoint_is_refused(monkeypatch, tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(BUNDLED_DIR, copy)
    entry = MANIFEST[BUNDLED[0]]
    with open(copy / entry["file"], "r+b") as f:
        f.seek(-16, 2)
        f.write(b"\0" * 16)
    monkeypatch.setattr("snapmix_demo.weights.BUNDLED_DIR", copy)
    clear_model_cache()
    with pytest.raises(ValueError, match="sha256"):
        cached_backbone(BUNDLED[0], weights="shapes")
    clear_model_cache()


def test_offline_default_is_the_bundled_model_and_it_names_the_example_shapes():
    for (a, b), (label_a, label_b) in zip(EXAMPLES[:2], (("star", "ring"), ("cross", "hexagon")), strict=True):
        res = snapmix_pair(a, b, backbone=DEFAULT_BACKBONE)
        assert res.weights_kind == "shapes"
        assert (res.label_a, res.label_b) == (label_a, label_b), f"{a}: {res.label_a}, {b}: {res.label_b}"
        assert res.topk_a[0][1] > 0.5


@pytest.mark.parametrize("name", BUNDLED)
def test_cams_point_at_objects_and_snapmix_weights_follow_them(name):
    # The README's table uses 400 images and 1000 pairs; this is a smaller held-out sample of the same.
    ev = evaluate(name, images=160, pairs=500, seed=1)
    summary = json.dumps(ev.__dict__, indent=1)
    assert ev.accuracy >= 0.95, summary
    assert ev.pointing_game >= 0.90, summary
    assert ev.spearman_rho_a >= 0.8, summary
    assert ev.spearman_rho_b >= 0.8, summary
    assert ev.mae_rho_a < ev.mae_cutmix_a, summary
    assert ev.mae_rho_b < ev.mae_cutmix_b, summary
