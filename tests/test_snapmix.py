"""SnapMix's formulas (Huang, Wang, Tao, AAAI 2021; `snapmix_demo/snapmix.py`) on tiny maps and boxes, by hand."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snapmix_demo.boxes import area_lambda, box_area, rand_box, sample_lam
from snapmix_demo.snapmix import (
    box_mass,
    class_cams,
    eval_mode,
    mix_at,
    model_maps,
    paste,
    semantic_percent_maps,
    snapmix_batch,
    snapmix_loss,
    upsample,
)
from snapmix_demo.weights import load_backbone
from tests._reference import reference_batch

# ## 1. CAM and SPM


def test_class_cams_hand_numbers_include_bias():
    # D=2 channels on a 2x3 map; class 1 has weights (2, -1) and bias 0.5.
    feats = torch.tensor([[[1.0, 2, 3], [4, 5, 6]], [[0.0, 1, 0], [1, 0, 1]]])[None]
    weight = torch.tensor([[9.0, 9.0], [2.0, -1.0]])
    bias = torch.tensor([100.0, 0.5])
    cam = class_cams(feats, weight, bias, torch.tensor([1]))[0]
    expected = torch.tensor([[2.5, 3.5, 6.5], [7.5, 10.5, 11.5]])  # 2*f0 - f1 + 0.5
    assert torch.equal(cam, expected), f"{cam} != {expected}"
    logit = torch.nn.functional.linear(feats.mean(dim=(2, 3)), weight, bias)[0, 1]
    assert torch.isclose(cam.mean(), logit), f"mean CAM {cam.mean()} != logit {logit}"


def test_upsample_matches_half_pixel_bilinear_by_hand():
    cam = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    up = upsample(cam, (4, 4))[0]
    # align_corners=False: output x samples input at (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped).
    row = torch.tensor([0.0, 0.25, 0.75, 1.0])
    expected = torch.stack([row, row + 0.5, row + 1.5, row + 2.0])
    assert torch.allclose(up, expected), f"{up} != {expected}"
    assert up.dtype == torch.float32


def test_upsample_to_non_square_frame_keeps_orientation():
    cam = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 9.0]]])  # peak at the bottom-right
    up = upsample(cam, (40, 90))[0]
    assert up.shape == (40, 90), up.shape
    peak = np.unravel_index(int(up.argmax()), up.shape)
    assert peak[0] >= 30 and peak[1] >= 70, f"peak at {peak}, expected bottom-right of 40x90"


def test_fp16_maps_are_summed_in_float32():
    cam = torch.full((1, 300, 300), 60000.0, dtype=torch.float16)
    cam[0, 0, 0] = 0
    spm, degenerate = semantic_percent_maps(upsample(cam, (300, 300)))
    assert not degenerate[0]
    assert torch.isclose(spm.sum(), torch.tensor(1.0)), spm.sum()


def test_spm_hand_numbers():
    cams = torch.tensor([[[3.0, 4.0], [5.0, 6.0]]])  # minus min 3: [[0, 1], [2, 3]], total 6
    spm, degenerate = semantic_percent_maps(cams)
    expected = torch.tensor([[[0.0, 1 / 6], [2 / 6, 3 / 6]]])
    assert torch.allclose(spm, expected), f"{spm} != {expected}"
    assert not degenerate.any()


@pytest.mark.parametrize(
    "values",
    [np.full((4, 5), 2.5), np.zeros((4, 5)), np.full((4, 5), np.nan), np.array([[np.inf, 1.0], [2.0, 3.0]])],
    ids=["constant", "zeros", "nan", "inf"],
)
def test_spm_flags_degenerate_maps_without_epsilon(values):
    spm, degenerate = semantic_percent_maps(torch.tensor(values, dtype=torch.float32)[None])
    assert degenerate.tolist() == [True], f"{values} not flagged degenerate"
    assert torch.equal(spm, torch.zeros_like(spm)), "a degenerate map must not be silently normalised"


def test_spm_keeps_a_faint_but_real_signal():
    cams = torch.full((1, 8, 8), 1000.0)
    cams[0, 3, 4] += 0.5  # 5e-4 relative: small, but far above float32 rounding
    spm, degenerate = semantic_percent_maps(cams)
    assert not degenerate[0]
    assert spm[0, 3, 4] == pytest.approx(1.0)


def test_rho_invariants_on_a_map_with_known_support():
    # CAM (6 x 8, non-square) is flat on the left half and rises to the right: its minimum covers columns 0-3.
    cam = torch.zeros(1, 6, 8)
    cam[0, :, 4:] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    spm, _ = semantic_percent_maps(cam)
    assert 1 - float(box_mass(spm[0], (0, 0, 6, 4))) == 1.0, "a box outside the support keeps all of A"
    assert 1 - float(box_mass(spm[0], (0, 0, 6, 8))) == pytest.approx(0.0), "the whole image keeps nothing"
    assert float(box_mass(spm[0], (0, 6, 6, 8))) == pytest.approx((3 + 4) / (1 + 2 + 3 + 4)), "columns 6-7 hold 7/10"


# ## 2. Boxes


def test_box_area_and_area_lambda_hand_numbers():
    box = (10, 20, 30, 60)  # 20 rows x 40 columns
    assert box_area(box) == 800
    assert area_lambda(box, 100, 200) == pytest.approx(1 - 800 / 20000)
    assert box_area((5, 5, 5, 9)) == 0


def test_box_mass_on_a_non_square_map():
    spm = torch.arange(24, dtype=torch.float32).view(4, 6)  # row r, column c holds 6r + c
    mass = box_mass(spm, (1, 2, 3, 5))  # rows 1-2, columns 2-4: 8+9+10+14+15+16
    assert float(mass) == 72.0, mass
    assert float(box_mass(spm.numpy(), (1, 2, 3, 5))) == 72.0


def test_rand_box_sizes_follow_rows_and_columns_on_a_non_square_frame():
    # H=100 rows, W=40 columns, lam=0.75: cut ratio 0.5 -> 50 rows x 20 columns. Transposed would be 20 x 50.
    rng = np.random.default_rng(0)
    boxes = [rand_box(100, 40, 0.75, rng) for _ in range(300)]
    unclipped = [b for b in boxes if b[0] > 0 and b[2] < 100 and b[1] > 0 and b[3] < 40]
    assert unclipped, "expected some boxes away from the borders"
    assert {(b[2] - b[0], b[3] - b[1]) for b in unclipped} == {(50, 20)}
    assert all(0 <= b[0] <= b[2] <= 100 and 0 <= b[1] <= b[3] <= 40 for b in boxes)
    centres_y = [(b[0] + b[2]) / 2 for b in unclipped]
    assert max(centres_y) > 40, "box centres must range over all 100 rows, not only 40"


def test_rand_box_whole_frame_when_lam_is_zero():
    rng = np.random.default_rng(1)
    top, left, bottom, right = rand_box(6, 10, 0.0, rng)
    assert (bottom - top, right - left) <= (6, 10)
    assert bottom - top >= 3 and right - left >= 5, "cut ratio 1 covers at least half of each side after clipping"


def test_sample_lam_is_seeded_and_validated():
    assert sample_lam(5.0, np.random.default_rng(3)) == sample_lam(5.0, np.random.default_rng(3))
    for bad in (0, -1, float("nan"), float("inf"), "5"):
        with pytest.raises(ValueError, match="beta"):
            sample_lam(bad, np.random.default_rng(0))


# ## 3. Pasting


def test_paste_same_size_copies_the_crop_and_keeps_the_rest():
    a = torch.zeros(3, 5, 7)
    b = torch.arange(3 * 5 * 7, dtype=torch.float32).view(3, 5, 7)
    mixed = paste(a, b, (1, 2, 3, 5), (0, 0, 2, 3))
    assert torch.equal(mixed[:, 1:3, 2:5], b[:, 0:2, 0:3])
    outside = torch.ones(5, 7, dtype=torch.bool)
    outside[1:3, 2:5] = False
    assert torch.equal(mixed[:, outside], a[:, outside])
    assert torch.equal(a, torch.zeros(3, 5, 7)), "paste must not write into its input"


def test_paste_resizes_the_crop_bilinearly_into_a_non_square_box():
    a = torch.zeros(1, 8, 12)
    b = torch.zeros(1, 8, 12)
    b[0, 2:4, 3:9] = torch.linspace(0, 1, 6)  # a 2x6 crop pasted into a 4x3 box
    mixed = paste(a, b, (4, 1, 8, 4), (2, 3, 4, 9))
    expected = F.interpolate(b[None, :, 2:4, 3:9], size=(4, 3), mode="bilinear", align_corners=False)[0]
    assert torch.allclose(mixed[:, 4:8, 1:4], expected)
    assert mixed[:, :4].abs().sum() == 0 and mixed[:, :, 4:].abs().sum() == 0


def test_paste_uint8_images_round_trip_exactly_for_same_size_boxes():
    a = torch.randint(0, 256, (3, 9, 11), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    b = torch.randint(0, 256, (3, 9, 11), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mixed = paste(a, b, (0, 0, 4, 4), (5, 7, 9, 11))
    assert mixed.dtype == torch.uint8
    assert torch.equal(mixed[:, :4, :4], b[:, 5:, 7:])


def test_paste_rounds_a_resized_uint8_patch_instead_of_truncating_it():
    # A 1x2 crop (0, 1) resized to 1x4, half-pixel bilinear: source columns -0.25 (clamped to 0), 0.25, 0.75,
    # 1.25 (clamped to 1) give 0, 0.25, 0.75, 1; rounded 0, 0, 1, 1 (truncation would give 0, 0, 0, 1).
    a = torch.zeros(1, 1, 4, dtype=torch.uint8)
    b = torch.tensor([[[0, 1]]], dtype=torch.uint8)
    assert paste(a, b, (0, 0, 1, 4), (0, 0, 1, 2)).tolist() == [[[0, 0, 1, 1]]]
    assert paste(a.float(), b.float(), (0, 0, 1, 4), (0, 0, 1, 2)).tolist() == [[[0.0, 0.25, 0.75, 1.0]]]


# ## 4. Batches


@pytest.fixture(scope="module")
def small_model():
    return load_backbone("resnet18", weights="random")


def _batch(n: int, seed: int = 0, size=(64, 96)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, *size, generator=g), torch.randint(0, 1000, (n,), generator=g)


def mix_on_model(x, y, model, **at):
    """`mix_at` on `model`'s own maps of `x` for the labels `y`: what `snapmix_batch` does after its draws."""
    maps = model_maps(model, x, y)
    return mix_at(x, y, maps.spms, maps.degenerate, **at)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_mix_at_matches_the_per_sample_reference(small_model, n):
    x, y = _batch(n)
    box_a, box_b = (10, 20, 50, 70), (0, 30, 30, 96)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    mix = mix_on_model(x, y, small_model, box_a=box_a, box_b=box_b, perm=perm)
    ref_x, ref_yb, ref_a, ref_b = reference_batch(small_model, x, y, box_a, box_b, perm)
    assert torch.allclose(mix.x, ref_x, atol=1e-6)
    assert torch.equal(mix.y_b, ref_yb)
    assert torch.allclose(mix.rho_a.double(), ref_a, atol=1e-5), f"{mix.rho_a} != {ref_a}"
    assert torch.allclose(mix.rho_b.double(), ref_b, atol=1e-5), f"{mix.rho_b} != {ref_b}"
    assert mix.rho_a.shape == (n,) and mix.rho_b.shape == (n,)


def test_mix_at_falls_back_to_area_for_a_degenerate_cam(small_model):
    x, _ = _batch(3)
    y = torch.tensor([7, 8, 9])
    fc = small_model.get_fc()
    saved = fc.weight[7].clone()
    try:
        with torch.no_grad():
            fc.weight[7] = 0  # CAM of class 7 = its bias: a constant map
        box_a, box_b = (0, 0, 32, 48), (10, 10, 40, 40)
        mix = mix_on_model(x, y, small_model, box_a=box_a, box_b=box_b, perm=torch.tensor([1, 2, 0]))
    finally:
        with torch.no_grad():
            fc.weight[7] = saved
    lam = 1 - 32 * 48 / (64 * 96)
    assert mix.rho_a[0] == pytest.approx(lam), "sample 0 has a flat CAM: rho_a must be the area share"
    assert mix.rho_b[2] == pytest.approx(1 - lam), "sample 2's partner is sample 0: rho_b must be 1 - area share"
    assert mix.rho_a[1] != pytest.approx(lam)
    assert mix.fallback_a.tolist() == [True, False, False], "sample 0's own CAM fell back"
    assert mix.fallback_b.tolist() == [False, False, True], "sample 2's partner (0) fell back"
    assert mix.mixed and (mix.box_a, mix.box_b) == (box_a, box_b) and mix.perm.tolist() == [1, 2, 0]


def test_batch_mix_still_unpacks_as_four_tensors(small_model):
    x, y = _batch(3)
    mix = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(1))
    mixed_x, y_b, rho_a, rho_b = mix
    assert mixed_x is mix.x and y_b is mix.y_b and rho_a is mix.rho_a and rho_b is mix.rho_b
    assert not mix.fallback_a.any() and torch.equal(mix.y_b, y[mix.perm])


def test_batch_mix_indexes_and_slices_like_the_four_tuple(small_model):
    x, y = _batch(3)
    mix = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(1))
    as_tuple = (mix.x, mix.y_b, mix.rho_a, mix.rho_b)
    assert len(mix) == 4 and mix[0] is mix.x and mix[3] is mix.rho_b and mix[-1] is mix.rho_b
    assert all(p is q for p, q in zip(mix[:4], as_tuple, strict=True)) and len(mix[1:3]) == 2
    with pytest.raises(IndexError):
        mix[4]


def test_snapmix_batch_is_seeded_and_restores_train_mode(small_model):
    x, y = _batch(4)
    small_model.train()
    try:
        first = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(5))
        assert small_model.training, "train mode must be restored after the eval-mode CAM pass"
        again = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(5))
        other = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(6))
    finally:
        small_model.eval()
    assert all(torch.equal(p, q) for p, q in zip(first, again, strict=True))
    assert not torch.equal(first.x, other.x)
    assert not torch.equal(first.x, x), "prob=1 must mix"
    assert ((first.rho_a >= 0) & (first.rho_a <= 1) & (first.rho_b >= 0) & (first.rho_b <= 1)).all()


def test_snapmix_batch_probability_gate(small_model):
    x, y = _batch(3)
    mix = snapmix_batch(x, y, small_model, prob=0.0, generator=torch.Generator().manual_seed(0))
    assert mix.x is x and torch.equal(mix.y_b, y)
    assert mix.rho_a.tolist() == [1.0, 1.0, 1.0] and mix.rho_b.tolist() == [0.0, 0.0, 0.0]
    assert not mix.mixed and mix.box_a is None and mix.perm is None
    assert mix.fallback_a.tolist() == [False, False, False] == mix.fallback_b.tolist()
    for bad in (1.5, -0.1, float("nan"), True, "0.5", None):
        with pytest.raises(ValueError, match="prob"):
            snapmix_batch(x, y, small_model, prob=bad, generator=torch.Generator())


def test_snapmix_batch_of_one_sample(small_model):
    x, y = _batch(1)
    mix = snapmix_batch(x, y, small_model, generator=torch.Generator().manual_seed(2))
    assert mix.x.shape == x.shape and mix.rho_a.shape == (1,) and mix.y_b.tolist() == y.tolist()


def test_eval_mode_restores_even_on_error(small_model):
    small_model.train()
    seen = []

    def fail_inside():
        with eval_mode(small_model):
            seen.append(small_model.training)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert seen == [False]
    assert small_model.training
    small_model.eval()


def test_snapmix_loss_hand_numbers():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    y_a, y_b = torch.tensor([0, 0]), torch.tensor([1, 1])
    rho_a, rho_b = torch.tensor([0.5, 1.0]), torch.tensor([0.25, 0.0])
    ce0 = np.log(2)  # uniform logits
    ce1_a = np.log(1 + np.exp(-2.0))  # -log softmax(2, 0)[0]
    expected = ((0.5 * ce0 + 0.25 * ce0) + (1.0 * ce1_a)) / 2
    assert float(snapmix_loss(logits, y_a, y_b, rho_a, rho_b)) == pytest.approx(expected, rel=1e-6)
