"""The training command and the evaluation's metrics, end to end on tiny budgets (no accuracy claims)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from snapmix_demo import snapmix_pair, weights
from snapmix_demo.evaluate import _fidelity_rows, _fidelity_summary, _pointing_hits
from snapmix_demo.evaluate import main as evaluate_main
from snapmix_demo.shapes import CLASSES, make_arrays
from snapmix_demo.train import initial_model, save_bundled, train


@pytest.fixture
def bundled_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr("snapmix_demo.train.BUNDLED_DIR", tmp_path)
    weights.clear_model_cache()
    yield tmp_path
    weights.clear_model_cache()


def test_a_trained_checkpoint_round_trips_through_the_real_loading_code(bundled_dir):
    model = train("mobilenet_v2", steps=3, final_steps=1, batch_size=4, size=64, difficulty_steps=2, mix_start=1)
    path = save_bundled(
        model, "mobilenet_v2", command="python -m snapmix_demo.train --steps 3", evaluation=None, seconds=1
    )
    entry = json.loads((bundled_dir / "manifest.json").read_text())["mobilenet_v2"]
    assert entry["file"] == path.name
    assert entry["classes"] == list(CLASSES)
    assert weights.available_weights("mobilenet_v2") == ["shapes", "random"]
    bb = weights.cached_backbone("mobilenet_v2", weights="shapes")
    assert bb.weights.kind == "shapes"
    assert bb.weights.classes == CLASSES
    stored = torch.load(path, weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point()), "stored in half precision"
    assert torch.equal(bb.model.get_fc().weight, stored["classifier.1.weight"].float())
    image = make_arrays([7], 64)[0][0]
    res = snapmix_pair(image, image, backbone="mobilenet_v2", weights="shapes", target_a="star", target_b="ring")
    assert (res.label_a, res.label_b) == ("star", "ring")


def test_training_refuses_seeds_from_the_held_out_range():
    with pytest.raises(ValueError, match="held-out"):
        train("mobilenet_v2", steps=1, final_steps=0, seed=200)


def test_perfect_maps_give_perfect_fidelity_and_cutmix_does_not():
    _, masks, _ = make_arrays(range(40), 64)
    spms = masks / masks.sum(axis=(1, 2), keepdims=True)
    fid = _fidelity_summary(_fidelity_rows(spms, np.zeros(40, bool), masks, pairs=300, seed=0))
    assert fid["spearman_rho_a"] == pytest.approx(1.0, abs=1e-3)  # float round-off breaks rank ties
    assert fid["spearman_rho_b"] == pytest.approx(1.0, abs=1e-3)
    assert fid["mae_rho_a"] == pytest.approx(0.0, abs=1e-9)
    assert fid["mae_rho_b"] == pytest.approx(0.0, abs=1e-9)
    assert fid["spearman_cutmix_b"] < 0.9, "area is a poor proxy for the object's share"
    assert fid["mae_cutmix_b"] > 0.1


def test_pointing_game_hits_within_the_tolerance_only():
    mask = np.zeros((1, 32, 32), bool)
    mask[0, 10:14, 10:14] = True
    cams = torch.zeros(1, 32, 32)
    cams[0, 12, 20] = 1.0  # 7 px right of the object: a hit with 8 px tolerance
    assert _pointing_hits(cams, mask).tolist() == [True]
    cams[0, 12, 20], cams[0, 30, 30] = 0.0, 1.0  # far corner: a miss
    assert _pointing_hits(cams, mask).tolist() == [False]


def test_fine_tuning_starts_from_imagenet_with_a_new_seeded_head():
    imagenet = weights.load_backbone("tf_efficientnet_lite0", weights="imagenet")
    model = initial_model("tf_efficientnet_lite0", "imagenet", len(CLASSES), seed=3)
    again = initial_model("tf_efficientnet_lite0", "imagenet", len(CLASSES), seed=3)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert model.get_fc().out_features == len(CLASSES) and model.get_fc() is model.classifier
    assert torch.equal(model.conv_head.weight, imagenet.conv_head.weight), "the body keeps its ImageNet weights"
    assert torch.equal(model.classifier.weight, again.classifier.weight), "the new head is seeded"


def test_the_evaluation_command_prints_the_table_and_plots_the_scatter(bundled_dir, tmp_path, capsys):
    model = train("mobilenet_v2", steps=1, final_steps=0, batch_size=4, size=64)
    save_bundled(model, "mobilenet_v2", command="python -m snapmix_demo.train --steps 1", evaluation=None, seconds=1)
    plot = tmp_path / "fidelity.png"
    assert evaluate_main(["--images", "8", "--pairs", "20", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| backbone | accuracy |") and "| mobilenet_v2 |" in out
    with Image.open(plot) as picture:
        assert picture.size == (900, 420)
