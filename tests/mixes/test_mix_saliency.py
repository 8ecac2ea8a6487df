"""Attentive CutMix, SaliencyMix and GuidedMixup on hand-made maps, per-sample loops and degenerate maps."""

import pytest
import torch

from snapmix_demo.boxes import box_around
from snapmix_demo.mixes import MIXES, apply_mix, attentive_cutmix, guidedmixup, saliencymix, transmix
from snapmix_demo.mixes.saliency import guided_mask, peak_boxes, top_cells_mask
from tests.mixes._batches import batch, gen

SWAP = torch.tensor([1, 0])
NO = torch.zeros(2, dtype=torch.bool)

# ## Attentive CutMix


def test_attentive_pastes_exactly_the_k_hottest_cells_of_the_partner():
    x = torch.stack([torch.zeros(1, 14, 14), torch.ones(1, 14, 14)])  # A black, B white
    spm = torch.zeros(2, 14, 14)
    hot = [(0, 0), (3, 5), (6, 6)]  # cells of B's 7x7 grid (2x2 pixels each), hottest first
    for rank, (r, c) in enumerate(hot):
        spm[1, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = 3.0 - rank
    spm[1] += 0.01
    spm[0] = torch.rand(14, 14, generator=gen(0))
    mix = attentive_cutmix(x, torch.tensor([0, 1]), spm=spm, degenerate=NO, generator=gen(1), perm=SWAP, top_k=2)
    expected = torch.zeros(14, 14)
    for r, c in hot[:2]:
        expected[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = 1
    assert torch.equal(mix.mask[0], expected), "the two hottest cells of B, nothing else"
    assert torch.equal(mix.x[0, 0], expected), "pasted at the same place"
    assert float(mix.rho_b[0]) == pytest.approx(2 / 49) and float(mix.rho_a[0]) == pytest.approx(47 / 49)


def test_attentive_at_224_pixels_pastes_k_of_49_cells():
    x, y, spm, deg = batch(2, size=(224, 224))
    mix = attentive_cutmix(x, y, spm=spm, degenerate=deg, generator=gen(0))
    assert mix.mask.sum(dim=(1, 2)).tolist() == [6 * 32 * 32] * 2 and mix.rho_b.tolist() == pytest.approx([6 / 49] * 2)


def test_top_cells_batched_matches_a_per_sample_loop_on_a_non_square_uneven_grid():
    _, _, spm, _ = batch(4, size=(13, 17))
    masks = top_cells_mask(spm, 3, (4, 5))
    for i in range(4):
        rows = [r * 4 // 13 for r in range(13)]
        cols = [c * 5 // 17 for c in range(17)]
        means = {}
        for cell_r in range(4):
            for cell_c in range(5):
                pixels = [spm[i, r, c] for r in range(13) for c in range(17) if rows[r] == cell_r and cols[c] == cell_c]
                means[cell_r, cell_c] = float(sum(pixels) / len(pixels))
        top = sorted(means, key=means.get, reverse=True)[:3]
        expected = torch.tensor([[float((rows[r], cols[c]) in top) for c in range(17)] for r in range(13)])
        assert torch.equal(masks[i], expected), f"sample {i}"


# ## SaliencyMix


def test_saliencymix_box_is_centred_on_the_partner_peak_and_clipped():
    x, y, spm, deg = batch(2, size=(20, 30))
    spm = torch.zeros_like(spm)
    spm[0, 10, 15] = 1.0  # A's peak in the middle
    spm[1, 1, 28] = 1.0  # B's peak near the top-right corner
    mix = saliencymix(x, y, spm=spm, degenerate=deg, generator=gen(3), perm=SWAP)
    box_0, box_1 = mix.boxes.tolist()
    height, width = box_1[2] - box_1[0], box_1[3] - box_1[1]  # sample 1's box is around A's peak, unclipped
    centre = ((box_1[0] + box_1[2]) / 2, (box_1[1] + box_1[3]) / 2)
    assert centre == pytest.approx((10, 15), abs=0.5), centre
    assert tuple(box_0) == box_around(1, 28, height, width, 20, 30), "sample 0's box is around B's peak, clipped"
    assert box_0[0] == 0 and box_0[3] == 30
    for i, box in enumerate((box_0, box_1)):
        share = (box[2] - box[0]) * (box[3] - box[1]) / 600
        assert float(mix.rho_b[i]) == pytest.approx(share), "SaliencyMix's labels are the area shares"


def test_peak_boxes_batched_matches_a_per_sample_loop():
    _, _, spm, _ = batch(5, size=(11, 16))
    boxes = peak_boxes(spm, 6, 9)
    for i in range(5):
        cy, cx = divmod(int(spm[i].flatten().argmax()), 16)
        assert tuple(boxes[i].tolist()) == box_around(cy, cx, 6, 9, 11, 16), f"sample {i}"


# ## GuidedMixup


def test_guidedmixup_pixel_shares_add_to_one_and_labels_are_the_mask_mean():
    x, y, spm, deg = batch(4)
    mix = guidedmixup(x, y, spm=spm, degenerate=deg, generator=gen(2))
    s_a, s_b = spm, spm[mix.perm]
    share_a, share_b = s_a / (s_a + s_b), s_b / (s_a + s_b)
    assert torch.allclose(share_a + share_b, torch.ones_like(share_a))
    assert torch.allclose(mix.mask, share_b) and torch.allclose(1 - mix.mask, share_a, atol=1e-6)
    assert torch.allclose(mix.rho_b, mix.mask.mean(dim=(1, 2))) and torch.allclose(mix.rho_a + mix.rho_b, torch.ones(4))


def test_guided_mask_hand_numbers_and_both_zero():
    s_a = torch.tensor([[[0.0, 1.0, 3.0]]])
    s_b = torch.tensor([[[0.0, 3.0, 1.0]]])
    assert guided_mask(s_a, s_b).tolist() == [[[0.5, 0.75, 0.25]]], "0.5 where neither map has mass"
    looped = torch.stack([guided_mask(s_a[i : i + 1], s_b[i : i + 1])[0] for i in range(1)])
    assert torch.equal(looped, guided_mask(s_a, s_b))


# ## Degenerate maps: flagged, and the area rule used


def _degenerate(n: int, which: int, size=(14, 21)):
    x, y, spm, _ = batch(n, size=size)
    deg = torch.zeros(n, dtype=torch.bool)
    deg[which] = True
    return x, y, torch.where(deg[:, None, None], 0.0, spm), deg


def test_attentive_falls_back_to_random_cells_for_a_degenerate_partner():
    x, y, spm, deg = _degenerate(2, 1, size=(14, 14))
    mix = attentive_cutmix(x, y, spm=spm, degenerate=deg, generator=gen(0), perm=SWAP, top_k=5)
    assert mix.fallback_b.tolist() == [True, False] and not mix.fallback_a.any()
    assert mix.mask.sum(dim=(1, 2)).tolist() == [5 * 4, 5 * 4], "still exactly k cells"
    assert mix.rho_b.tolist() == pytest.approx([5 / 49] * 2)
    again = attentive_cutmix(x, y, spm=spm, degenerate=deg, generator=gen(1), perm=SWAP, top_k=5)
    assert torch.equal(again.mask[1], mix.mask[1]) and not torch.equal(again.mask[0], mix.mask[0]), "random cells"


def test_saliencymix_falls_back_to_a_random_centre_for_a_degenerate_partner():
    x, y, spm, deg = _degenerate(2, 1)
    centres = set()
    for seed in range(5):
        mix = saliencymix(x, y, spm=spm, degenerate=deg, generator=gen(seed), perm=SWAP)
        assert mix.fallback_b.tolist() == [True, False]
        box = mix.boxes[0].tolist()
        centres.add(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2))
        assert float(mix.rho_b[0]) == pytest.approx((box[2] - box[0]) * (box[3] - box[1]) / (14 * 21))
    assert len(centres) > 1, "a degenerate map's box lands at random, not on a fake peak"


def test_guidedmixup_treats_a_degenerate_map_as_flat():
    x, y, spm, deg = _degenerate(2, 0)
    mix = guidedmixup(x, y, spm=spm, degenerate=deg, generator=gen(0), perm=SWAP)
    flat = torch.full((14, 21), 1 / (14 * 21))
    assert mix.fallback_a.tolist() == [True, False] and mix.fallback_b.tolist() == [False, True]
    assert torch.allclose(mix.mask[0], spm[1] / (flat + spm[1]))
    both = guidedmixup(x, y, spm=torch.zeros_like(spm), degenerate=torch.ones(2, dtype=torch.bool), generator=gen(0))
    assert torch.allclose(both.mask, torch.full_like(both.mask, 0.5))
    assert both.rho_b.tolist() == pytest.approx([0.5, 0.5])


def test_transmix_falls_back_to_area_for_degenerate_maps():
    x, y, spm, _ = batch(2, size=(16, 16))
    everything = torch.ones(2, dtype=torch.bool)
    for seed in range(4):
        mix = transmix(x, y, spm=torch.zeros_like(spm), degenerate=everything, generator=gen(seed))
        if mix.mixed:
            top, left, bottom, right = mix.box_a
            area = (bottom - top) * (right - left) / 256
            assert mix.rho_b.tolist() == pytest.approx([area, area]) and mix.fallback_a.all() and mix.fallback_b.all()


@pytest.mark.parametrize("name", [n for n in sorted(MIXES) if MIXES[n].needs != "nothing"])
def test_every_cam_method_flags_a_degenerate_map(name):
    x, y, spm, deg = _degenerate(3, 0)
    mix = apply_mix(name, x, y, generator=gen(11), spm=spm, degenerate=deg, perm=torch.tensor([1, 2, 0]))
    assert bool(mix.fallback_b[2]), f"{name}: sample 2's partner (0) has a degenerate map"
    assert not mix.fallback_b[0] and not mix.fallback_b[1]
    assert torch.isfinite(mix.rho_a).all() and torch.isfinite(mix.rho_b).all() and torch.isfinite(mix.x).all()
