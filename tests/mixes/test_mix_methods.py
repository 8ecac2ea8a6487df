"""Mixup, CutMix, ResizeMix, FMix, SnapMix and TransMix against hand-computed cases and `snapmix_batch`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snapmix_demo.mixes import (
    Placement,
    area_share,
    cutmix,
    fmix,
    mix_images,
    mixup,
    resizemix,
    snapmix,
    snapmix_official,
    transmix,
)
from snapmix_demo.mixes.area import fmix_mask, low_freq_image
from snapmix_demo.mixes.semantic import snapmix_at
from snapmix_demo.snapmix import model_maps, snapmix_batch
from tests.mixes._batches import batch, gen

# ## SnapMix: today's maths, bit for bit


@pytest.fixture(scope="module")
def tiny(built):
    """A real resnet18 (random weights) and a small non-square batch with its SPMs."""
    model = built("resnet18")
    g = gen(0)
    x, y = torch.randn(5, 3, 40, 56, generator=g), torch.randint(0, 1000, (5,), generator=g)
    maps = model_maps(model, x, y)
    return model, x, y, maps.spms, maps.degenerate


@pytest.mark.parametrize("seed", range(6))
def test_snapmix_reproduces_snapmix_batch_bit_for_bit(tiny, seed):
    model, x, y, spm, degenerate = tiny
    ref = snapmix_batch(x, y, model, beta=5.0, prob=0.8, generator=gen(seed))
    mine = snapmix(x, y, spm=spm, degenerate=degenerate, generator=gen(seed), prob=0.8)
    assert ref.mixed == mine.mixed and (ref.box_a, ref.box_b) == (mine.box_a, mine.box_b)
    for name, ours, theirs in zip(("x", "y_b", "rho_a", "rho_b"), mine, ref, strict=True):
        assert ours.dtype == theirs.dtype and torch.equal(ours, theirs), f"seed {seed}: `{name}` differs"
    assert torch.equal(mine.fallback_a, ref.fallback_a) and torch.equal(mine.fallback_b, ref.fallback_b)
    assert (ref.perm is None and mine.perm is None) or torch.equal(ref.perm, mine.perm)


def test_snapmix_at_is_described_by_its_mask_and_placement_and_takes_a_batch_of_one(tiny):
    _, x, y, spm, degenerate = tiny
    perm = torch.tensor([2, 0, 4, 1, 3])
    mine = snapmix_at(x, y, spm, degenerate, (3, 5, 30, 40), (0, 10, 20, 56), perm)
    described = mix_images(x, mine.mask, mine.placement, perm)  # the mask and placement redo the paste
    assert torch.allclose(described, mine.x, atol=1e-6), float((described - mine.x).abs().max())
    assert mine.placement == Placement(src=(0, 10, 20, 56), dst=(3, 5, 30, 40))
    one = snapmix_official(x[:1], y[:1], spm=spm[:1], degenerate=degenerate[:1], generator=gen(2))
    assert one.x.shape == x[:1].shape and one.perm.tolist() == [0] and one.method == "snapmix_official"


def test_snapmix_falls_back_to_area_for_a_degenerate_map_and_flags_it():
    x, y, spm, _ = batch(3)
    degenerate = torch.tensor([True, False, False])
    spm = torch.where(degenerate[:, None, None], 0.0, spm)
    perm = torch.tensor([1, 2, 0])
    mix = snapmix_at(x, y, spm, degenerate, (0, 0, 6, 9), (2, 2, 8, 11), perm)
    lam = 1 - 6 * 9 / (12 * 18)
    assert mix.rho_a[0] == pytest.approx(lam) and mix.rho_b[2] == pytest.approx(1 - lam)
    assert mix.fallback_a.tolist() == [True, False, False] and mix.fallback_b.tolist() == [False, False, True]


# ## Mixup and CutMix


def test_mixup_mask_is_constant_and_labels_are_lam():
    x, y, _, _ = batch(4)
    mix = mixup(x, y, generator=gen(1), beta=0.4)
    share = float(mix.mask[0, 0, 0])
    assert torch.all(mix.mask == share) and mix.rho_b.tolist() == pytest.approx([share] * 4)
    assert torch.allclose(mix.x, (1 - share) * x + share * x[mix.perm], atol=1e-6)


def test_cutmix_pastes_one_box_at_the_same_place_with_area_labels():
    x, y, _, _ = batch(4)
    mix = cutmix(x, y, generator=gen(4))
    top, left, bottom, right = mix.box_a
    assert mix.box_a == mix.box_b and mix.placement.kind == "identity"
    assert torch.equal(mix.x[:, :, top:bottom, left:right], x[mix.perm][:, :, top:bottom, left:right])
    outside = torch.ones(12, 18, dtype=torch.bool)
    outside[top:bottom, left:right] = False
    assert torch.equal(mix.x[:, :, outside], x[:, :, outside])
    share = (bottom - top) * (right - left) / (12 * 18)
    assert mix.rho_b.tolist() == pytest.approx([share] * 4) and mix.rho_a.tolist() == pytest.approx([1 - share] * 4)


def test_cutmix_of_uint8_images_stays_uint8_with_float_labels():
    x, y, _, _ = batch(3, dtype=torch.uint8)
    mix = cutmix(x, y, generator=gen(4))
    assert mix.x.dtype == torch.uint8 and mix.rho_a.dtype == torch.float32


# ## ResizeMix


def test_resizemix_shrinks_the_whole_of_b_into_the_box_and_weighs_its_area():
    x, y, _, _ = batch(3, size=(40, 60))
    mix = resizemix(x, y, generator=gen(6), scale_min=0.3, scale_max=0.5)
    top, left, bottom, right = mix.box_a
    h, w = bottom - top, right - left
    assert mix.placement.src == (0, 0, 40, 60) and mix.placement.dst == mix.box_a
    assert int(40 * 0.3) - 1 <= h <= int(40 * 0.5) and int(60 * 0.3) - 1 <= w <= int(60 * 0.5), (h, w)
    shrunk = F.interpolate(x[mix.perm], size=(h, w), mode="bilinear", align_corners=False)
    assert torch.allclose(mix.x[:, :, top:bottom, left:right], shrunk, atol=1e-6)
    assert mix.rho_b.tolist() == pytest.approx([h * w / (40 * 60)] * 3), "ResizeMix's weight is the box's area share"
    assert area_share(mix.mask).tolist() == pytest.approx(mix.rho_b.tolist())


# ## FMix


@pytest.mark.parametrize(("height", "width", "share"), [(32, 32, 0.3), (17, 25, 0.55), (8, 5, 0.0), (6, 9, 1.0)])
def test_fmix_mask_holds_exactly_the_right_number_of_pixels(height, width, share):
    mask = fmix_mask(height, width, share, 3.0, np.random.default_rng(0))
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert int(mask.sum()) == round(share * height * width), f"{int(mask.sum())} pixels of B"


def test_fmix_mask_is_the_highest_pixels_of_its_low_frequency_image():
    image = low_freq_image(24, 40, 3.0, np.random.default_rng(5))
    mask = fmix_mask(24, 40, 0.37, 3.0, np.random.default_rng(5)).astype(bool)
    assert image[mask].min() > image[~mask].max(), "B holds every pixel above the threshold, A every one below"
    order = np.argsort(image, axis=None)[::-1][: round(0.37 * 24 * 40)]  # independent route: a full sort
    assert set(order.tolist()) == set(np.flatnonzero(mask).tolist())


def test_fmix_mask_mean_equals_its_lambda_and_the_labels():
    x, y, _, _ = batch(4, size=(32, 48))
    mix = fmix(x, y, generator=gen(9), beta=1.0)
    rng = np.random.default_rng(int(torch.randint(2**62, (), generator=_after_gate(9))))
    lam = rng.beta(1.0, 1.0)
    count = round((1 - lam) * 32 * 48)
    assert float(mix.mask[0].sum()) == count and mix.rho_b.tolist() == pytest.approx([count / (32 * 48)] * 4)
    assert abs(float(mix.rho_a[0]) - lam) <= 0.5 / (32 * 48), "A's label is lam to the pixel"


def _after_gate(seed: int) -> torch.Generator:
    g = gen(seed)
    torch.rand((), generator=g)
    return g


def test_fmix_image_is_low_frequency():
    image = low_freq_image(64, 64, 3.0, np.random.default_rng(1))
    power = np.abs(np.fft.rfft2(image)) ** 2
    low = power[:4, :4].sum() + power[-3:, :4].sum()
    assert low > 0.8 * power.sum(), "a 1/f^3 spectrum puts most power in the lowest frequencies"


# ## TransMix (CNN)


def test_transmix_labels_are_the_mean_of_area_and_cam_share_by_hand():
    x, y = torch.zeros(2, 1, 8, 8), torch.tensor([0, 1])
    spm = torch.zeros(2, 8, 8)
    spm[0, 0, 0] = 1.0  # A's mass all at the top-left pixel
    spm[1] = 1 / 64  # B's map flat: its mass in a box is the box's area share
    no = torch.zeros(2, dtype=torch.bool)
    seen = set()
    for seed in range(12):
        mix = transmix(x, y, spm=spm, degenerate=no, generator=gen(seed), perm=torch.tensor([1, 0]))
        if not mix.mixed:
            continue
        top, left, bottom, right = mix.box_a
        area_b = (bottom - top) * (right - left) / 64
        kept_a = 0.0 if top == 0 and left == 0 else 1.0  # the box holds A's only pixel of mass, or not
        seen.add(kept_a)
        expected = 0.5 * area_b + 0.5 * area_b / (kept_a + area_b)
        assert float(mix.rho_b[0]) == pytest.approx(expected), (mix.box_a, mix.rho_b)
        assert torch.allclose(mix.rho_a + mix.rho_b, torch.ones(2)), "TransMix's two labels add up to 1"
    assert seen == {0.0, 1.0}, "both cases: the box holding A's mass and missing it"
