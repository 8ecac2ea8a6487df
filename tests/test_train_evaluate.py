"""The training command and the evaluation's metrics, end to end on tiny budgets (no accuracy claims)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from snapmix_demo import snapmix_pair, weights
from snapmix_demo.mixes import MIXES
from snapmix_demo.snapmix import box_area, box_mass, rand_box, sample_lam
from snapmix_demo.training.evaluate import (
    CHUNKS,
    MethodMaps,
    _pointing_hits,
    draw_pairs,
    fidelity_rows,
    fidelity_summary,
    method_names,
    method_rows,
    method_summary,
)
from snapmix_demo.training.evaluate import main as evaluate_main
from snapmix_demo.training.shapes import CLASSES, make_arrays
from snapmix_demo.training.train import initial_model, save_bundled, train


@pytest.fixture
def bundled_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr("snapmix_demo.training.train.BUNDLED_DIR", tmp_path)
    weights.clear_model_cache()
    yield tmp_path
    weights.clear_model_cache()


def test_a_trained_checkpoint_round_trips_through_the_real_loading_code(bundled_dir):
    model = train("mobilenet_v2", steps=3, final_steps=1, batch_size=4, size=64, difficulty_steps=2, mix_start=1)
    path = save_bundled(
        model, "mobilenet_v2", command="python -m snapmix_demo.training.train --steps 3", evaluation=None, seconds=1
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


def test_perfect_maps_give_perfect_fidelity_and_area_rules_do_not():
    _, masks, _ = make_arrays(range(40), 64)
    spms = masks / masks.sum(axis=(1, 2), keepdims=True)
    rows = fidelity_rows(spms, np.zeros(40, bool), masks, pairs=300, rng=np.random.default_rng(0))
    fid = fidelity_summary(rows)
    for side in "ab":
        assert fid[f"spearman_rho_{side}"] == pytest.approx(1.0, abs=1e-3)  # float round-off breaks rank ties
        assert fid[f"mae_rho_{side}"] == pytest.approx(0.0, abs=1e-9)
        for rule in ("area", "cutmix"):
            assert fid[f"spearman_{rule}_{side}"] < 0.9, "area is a poor proxy for the object's share"
            assert fid[f"mae_{rule}_{side}"] > 0.05


def test_cutmix_is_scored_against_its_own_box_in_both_images():
    """Objects that fill their images: every box holds exactly its area's share, so a fair set-up finds both area
    rules exact. Scoring CutMix's weight for B (the area of box A) against box B, as before, would not."""
    masks = np.ones((6, 20, 30), bool)
    spms = np.full((6, 20, 30), 1 / 600)
    rows = fidelity_rows(spms, np.zeros(6, bool), masks, pairs=50, rng=np.random.default_rng(1))
    for side in "ab":
        np.testing.assert_allclose(rows[f"cutmix_{side}"], rows[f"cutmix_true_{side}"], atol=1e-12)
        np.testing.assert_allclose(rows[f"area_{side}"], rows[f"true_{side}"], atol=1e-12)
        np.testing.assert_allclose(rows[f"rho_{side}"], rows[f"true_{side}"], atol=1e-9)
    np.testing.assert_allclose(rows["cutmix_a"] + rows["cutmix_b"], 1.0), "one box: the two weights share the image"
    assert not np.allclose(rows["area_b"], 1 - rows["area_a"]), "SnapMix's two boxes are drawn independently"


def test_fidelity_rows_by_hand():
    """One pair, boxes drawn from a known generator, weights and truths worked out from the boxes."""
    masks = np.zeros((2, 10, 10), bool)
    masks[0, :5] = True  # A's object: the top half
    masks[1, :, :5] = True  # B's object: the left half
    spms = masks / 50.0
    degenerate = np.array([False, True])  # B's map is flat: its weight falls back to 1 - area of box A
    rng = np.random.default_rng(7)
    rows = fidelity_rows(spms, degenerate, masks, pairs=1, rng=rng)
    replay = np.random.default_rng(7)
    i, j = replay.choice(2, size=2, replace=False)
    box_a, box_b, box = (rand_box(10, 10, sample_lam(5.0, replay), replay) for _ in range(3))
    area_a = box_area(box_a) / 100
    rho_a = 1 - area_a if degenerate[i] else 1 - box_mass(spms[i], box_a)
    rho_b = area_a if degenerate[j] else box_mass(spms[j], box_b)  # a flat map: 1 - area_lambda(box A)
    assert (rows["rho_a"][0], rows["rho_b"][0]) == pytest.approx((rho_a, rho_b))
    assert rows["true_a"][0] == pytest.approx(1 - box_mass(masks[i], box_a) / masks[i].sum())
    assert rows["area_a"][0] == pytest.approx(1 - area_a)
    assert rows["area_b"][0] == pytest.approx(box_area(box_b) / 100)
    assert rows["cutmix_b"][0] == pytest.approx(box_area(box) / 100)
    assert rows["cutmix_true_b"][0] == pytest.approx(box_mass(masks[j], box) / masks[j].sum())
    assert rows["true_b"][0] == pytest.approx(box_mass(masks[j], box_b) / masks[j].sum())


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
    save_bundled(
        model, "mobilenet_v2", command="python -m snapmix_demo.training.train --steps 1", evaluation=None, seconds=1
    )
    plot = tmp_path / "fidelity.png"
    record = tmp_path / "results" / "evaluate.jsonl"
    assert evaluate_main(["--images", "8", "--pairs", "20", "--plot", str(plot), "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| backbone | accuracy |") and "| mobilenet_v2 |" in out
    with Image.open(plot) as picture:
        assert picture.size == (1200, 420)
    (entry,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert (
        entry["command"]
        == f"python -m snapmix_demo.training.evaluate --images 8 --pairs 20 --plot {plot} --record {record}"
    )
    assert entry["results"][0]["backbone"] == "mobilenet_v2" and entry["results"][0]["pairs"] == 20


# ## Every mixing method against the truth (`--methods`)


@pytest.mark.parametrize(("argv", "problem"), [([], "give at least one method"), (["cutmx"], "unknown method `cutmx`")])
def test_bad_methods_get_one_line_naming_the_option_and_exit_2(argv, problem, capsys):
    assert evaluate_main(["--methods", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m snapmix_demo.training.evaluate: error: --methods: "), err
    assert problem in err, err


def test_method_names_take_all_or_registry_names_once():
    assert method_names(["all"]) == list(MIXES)
    assert method_names(["snapmix", "cutmix", "snapmix"]) == ["snapmix", "cutmix"]


def test_every_method_sees_the_same_pairs_from_disjoint_folds():
    first, again = list(draw_pairs(50, 40, seed=3)), list(draw_pairs(50, 40, seed=3))
    assert first == again and first != list(draw_pairs(50, 40, seed=4))
    for chunk, i, j, _ in first:
        assert i != j and i % CHUNKS == chunk == j % CHUNKS, "both images of a pair from their chunk's fold"
    assert {chunk for chunk, *_ in draw_pairs(6, 10, seed=0)} == {0, 1, 2}, "6 images: 3 folds of a pair each"


def _perfect_maps(masks: np.ndarray) -> MethodMaps:
    """Maps that are the objects themselves, for both CAM kinds: what a perfect model's CAMs would give."""
    objects = torch.from_numpy(masks).float()
    spms = objects / objects.sum((1, 2), keepdim=True)
    no = torch.zeros(len(masks), dtype=torch.bool)
    return MethodMaps(None, torch.zeros(len(masks), dtype=torch.long), spms, spms, no, spms, no, (4, 4))


def test_perfect_maps_make_snapmix_exact_in_bs_own_frame():
    """SnapMix's weights are the object's share in the boxes: with perfect maps they equal `content_b` (the share
    of B's object in box B, issue 20's truth) and A's truth exactly; `object_shares`' B counts resized pixels."""
    _, masks, _ = make_arrays(range(30), 48)
    rows = method_rows("snapmix", _perfect_maps(masks), masks, pairs=60, seed=0)
    np.testing.assert_allclose(rows["rho_a"], rows["true_a"], atol=1e-6)
    np.testing.assert_allclose(rows["rho_b"], rows["content_b"], atol=1e-6)
    fid = method_summary(rows)
    assert fid["mae_b_content"] < 1e-6 < fid["mae_b"], fid
    mixup = method_summary(method_rows("mixup", _perfect_maps(masks), masks, pairs=60, seed=0))
    assert mixup["mae_a"] < 1e-6 and mixup["mae_b"] < 1e-6, "a uniform blend's weight is its truth"


def test_content_share_is_object_shares_where_b_is_not_resized():
    _, masks, _ = make_arrays(range(12), 40)
    maps = _perfect_maps(masks)
    for name in ("cutmix", "fmix", "guidedmixup", "saliencymix", "transmix", "attentive_cutmix"):
        rows = method_rows(name, maps, masks, pairs=20, seed=1)
        np.testing.assert_allclose(rows["content_b"], rows["true_b"], atol=1e-6, err_msg=name)
    resize = method_rows("resizemix", maps, masks, pairs=20, seed=1)
    assert (resize["content_b"] > resize["true_b"] + 0.1).mean() > 0.9, "ResizeMix shrinks B: its pixels shrink too"
