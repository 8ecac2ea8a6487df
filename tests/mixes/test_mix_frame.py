"""Masks, placements, the mixed image, the area weight and the ground truth, on frames drawn by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from snapmix_demo.boxes import box_around
from snapmix_demo.mixes import IDENTITY, MIXES, Placement, apply_mix, area_share, mix_images, object_shares
from snapmix_demo.mixes.frame import MixResult, box_mask, boxes_mask, unmixed_result
from tests.mixes._batches import batch, gen

# ## Masks and placements


def test_box_mask_is_half_open_rows_first():
    mask = box_mask((1, 2, 3, 5), 4, 6, n=2)
    assert mask.shape == (2, 4, 6) and float(mask.sum()) == 2 * 2 * 3
    assert mask[0, 1:3, 2:5].eq(1).all() and mask[0, 3].eq(0).all() and mask[0, :, 5].eq(0).all()


def test_boxes_mask_matches_one_box_at_a_time():
    boxes = torch.tensor([[0, 0, 2, 3], [1, 4, 5, 6], [2, 2, 2, 5]])  # the last one is empty
    mask = boxes_mask(boxes, 5, 7)
    for i, box in enumerate(boxes.tolist()):
        assert torch.equal(mask[i], box_mask(tuple(box), 5, 7, n=1)[0]), f"sample {i}"


def test_box_around_clips_like_rand_box():
    assert box_around(5, 5, 4, 6, 20, 30) == (3, 2, 7, 8)
    assert box_around(0, 29, 4, 6, 20, 30) == (0, 26, 2, 30), "clipped at the top and right borders"


def test_identity_placement_is_the_partner_itself():
    t = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).view(2, 1, 2, 3)
    assert torch.equal(IDENTITY.place(t, torch.tensor([1, 0])), t.flip(0))


def test_crop_resize_placement_resizes_the_crop_into_the_box_and_zeros_elsewhere():
    t = torch.rand(2, 3, 8, 12, generator=gen(0))
    placement = Placement(src=(2, 3, 4, 9), dst=(4, 1, 8, 4))  # a 2x6 crop into a 4x3 box
    placed = placement.place(t, torch.tensor([1, 0]))
    expected = F.interpolate(t[[1, 0], :, 2:4, 3:9], size=(4, 3), mode="bilinear", align_corners=False)
    assert torch.allclose(placed[:, :, 4:8, 1:4], expected)
    outside = placed.clone()
    outside[:, :, 4:8, 1:4] = 0
    assert float(outside.abs().sum()) == 0.0 and placement.kind == "crop_resize" and IDENTITY.kind == "identity"


# ## The mixed image and the area weight


def test_mixed_image_follows_the_mask_formula():
    x = torch.rand(2, 3, 4, 5, generator=gen(1))
    mask = torch.rand(2, 4, 5, generator=gen(2))
    perm = torch.tensor([1, 0])
    mixed = mix_images(x, mask, IDENTITY, perm)
    expected = (1 - mask[:, None]) * x + mask[:, None] * x[perm]
    assert torch.allclose(mixed, expected)


def test_uint8_images_are_rounded_not_truncated():
    x = torch.tensor([10, 11], dtype=torch.uint8).view(2, 1, 1, 1)
    mask = torch.full((2, 1, 1), 0.7)  # 10*0.3 + 11*0.7 = 10.7 -> 11; 11*0.3 + 10*0.7 = 10.3 -> 10
    mixed = mix_images(x, mask, IDENTITY, torch.tensor([1, 0]))
    assert mixed.dtype == torch.uint8 and mixed.flatten().tolist() == [11, 10]


def test_area_share_is_the_mask_mean():
    mask = box_mask((0, 0, 3, 4), 6, 8, n=2)
    assert area_share(mask).tolist() == [12 / 48, 12 / 48]


# ## Ground truth: the same mix on object masks


def _mix(mask: torch.Tensor, placement: Placement = IDENTITY, perm=(1, 0)) -> MixResult:
    n = len(mask)
    x = torch.zeros(n, 1, *mask.shape[-2:])
    no = torch.zeros(n, dtype=torch.bool)
    return MixResult(
        x,
        torch.zeros(n),
        x.new_ones(n),
        x.new_zeros(n),
        no,
        no,
        perm=torch.tensor(perm),
        mask=mask,
        placement=placement,
    )


def test_truth_a_box_over_half_of_a_square_object():
    objects = torch.zeros(2, 8, 8)
    objects[0, 2:6, 2:6] = 1  # A: a 4x4 square
    objects[1, 0:4, 0:8] = 1  # B: the top half
    mask = box_mask((0, 0, 8, 4), 8, 8, n=2)  # B's pixels on the left half of the output
    share_a, share_b = object_shares(_mix(mask), objects)
    assert share_a[0] == pytest.approx(0.5), "the box covers the left half of A's square"
    assert share_b[0] == pytest.approx(0.5), "it shows the left half of B's top half"


def test_truth_follows_the_resize_of_the_placement():
    objects = torch.zeros(2, 8, 8)
    objects[:] = 1  # both images are all object
    box = (0, 0, 4, 4)
    mix = _mix(box_mask(box, 8, 8, n=2), Placement(src=(0, 0, 8, 8), dst=box))  # the whole of B into a quarter
    share_a, share_b = object_shares(mix, objects)
    assert share_a.tolist() == [0.75, 0.75] and share_b.tolist() == [0.25, 0.25], (share_a, share_b)


def test_truth_of_an_empty_object_is_nan_and_of_an_unmixed_batch_is_one_and_zero():
    objects = torch.zeros(2, 4, 4)
    objects[1, :2] = 1
    share_a, share_b = object_shares(_mix(box_mask((0, 0, 2, 2), 4, 4, n=2)), objects)
    assert math.isnan(share_a[0]) and math.isnan(share_b[1]), "sample 0 has no object"
    assert share_a[1] == pytest.approx(0.5) and share_b[0] == pytest.approx(0.5)
    unmixed = unmixed_result(torch.zeros(2, 1, 4, 4), torch.zeros(2), "cutmix")
    share_a, share_b = object_shares(unmixed, objects)
    assert share_a[1] == 1.0 and share_b[1] == 0.0


def test_truth_refuses_masks_of_the_wrong_shape():
    with pytest.raises(ValueError, match="`objects`"):
        object_shares(_mix(box_mask((0, 0, 2, 2), 4, 4, n=2)), torch.zeros(2, 4, 5))


@pytest.mark.parametrize("name", sorted(MIXES))
def test_truth_of_whole_frame_objects_is_the_area_share_for_same_frame_mixes(name):
    x, y, spm, deg = batch(3)
    mix = apply_mix(name, x, y, generator=gen(5), spm=spm, degenerate=deg)
    share_a, share_b = object_shares(mix, torch.ones(3, *x.shape[-2:]))
    assert torch.allclose(share_a, 1 - area_share(mix.mask).double()), f"{name}: A keeps what the mask leaves"
    if mix.placement.kind == "identity":
        assert torch.allclose(share_b, area_share(mix.mask).double()), f"{name}: B shows what the mask takes"


@pytest.mark.parametrize("name", sorted(MIXES))
def test_batched_mix_and_truth_match_a_per_sample_loop(name):
    x, y, spm, deg = batch(4, size=(10, 14))
    objects = (spm > spm.mean(dim=(1, 2), keepdim=True)).float()
    for seed in (2, 3):
        mix = apply_mix(name, x, y, generator=gen(seed), spm=spm, degenerate=deg)
        assert mix.mixed, f"{name}: seed {seed} should mix"
        share_a, share_b = object_shares(mix, objects)
        for i, j in enumerate(mix.perm.tolist()):
            partner, obj_b = x[j], objects[j]
            if mix.placement.src is not None:
                (st, sl, sb, sr), (dt, dl, db, dr) = mix.placement.src, mix.placement.dst
                size = (db - dt, dr - dl)
                crop = F.interpolate(x[j : j + 1, :, st:sb, sl:sr], size=size, mode="bilinear", align_corners=False)[0]
                partner = torch.zeros_like(x[j])
                partner[:, dt:db, dl:dr] = crop
                crop_b = F.interpolate(objects[None, j : j + 1, st:sb, sl:sr], size=size, mode="bilinear")[0, 0]
                obj_b = torch.zeros_like(objects[j])
                obj_b[dt:db, dl:dr] = crop_b
            m = mix.mask[i]
            assert torch.allclose(mix.x[i], (1 - m) * x[i] + m * partner, atol=1e-6), f"{name}: sample {i}"
            assert float(share_a[i]) == pytest.approx(float(((1 - m) * objects[i]).sum() / objects[i].sum()))
            assert float(share_b[i]) == pytest.approx(float((m * obj_b).sum() / objects[j].sum()), rel=1e-5)
