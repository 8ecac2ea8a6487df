"""Tests for the procedural shape dataset."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from snapmix_demo.training.shapes import (
    CLASSES,
    HELDOUT_SEED_BASE,
    PART_CLASSES,
    ShapeSample,
    make_arrays,
    make_part_sample,
    make_sample,
)

LUMA = np.array([0.299, 0.587, 0.114])
SIZE_RANGE = (0.15, 0.60)  # object's extent as a fraction of the shorter side, as documented
# Area of each shape divided by the square of its circumscribed diameter (theory, with the
# class's parameter ranges), widened a little for pixelisation.
FILL_RATIO = {
    "circle": (0.70, 0.79),  # pi / 4
    "square": (0.46, 0.54),  # 1 / 2
    "triangle": (0.26, 0.38),  # 0.325 for an equilateral one
    "star": (0.26, 0.40),  # 0.735 * inner/outer radius in [0.38, 0.48]
    "cross": (0.43, 0.55),  # arms 30-36 % of the span wide
    "ring": (0.40, 0.64),  # pi / 4 * (1 - rho^2), rho in [0.45, 0.65]
    "hexagon": (0.59, 0.68),  # 3 sqrt(3) / 8
    "diamond": (0.23, 0.40),  # aspect / 2, aspect in [0.5, 0.7]
}


def erode(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    """3x3 binary erosion, ``steps`` times; outside the image counts as background."""
    for _ in range(steps):
        padded = np.pad(mask, 1)
        height, width = mask.shape
        mask = np.logical_and.reduce([padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)])
    return mask


def dilate(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    return ~erode(~mask, steps)


def pixels(sample: ShapeSample) -> np.ndarray:
    return np.asarray(sample.image, dtype=np.float64)


def fill_ratio(mask: np.ndarray) -> float:
    """Mask area over the square of its diameter, measured from the centroid to the farthest pixel."""
    ys, xs = np.nonzero(mask)
    radius = np.hypot(ys - ys.mean(), xs - xs.mean()).max() + 0.5
    return mask.sum() / (2 * radius) ** 2


def axes_ratio(mask: np.ndarray) -> float:
    """Minor over major principal axis of the mask, from its second moments."""
    ys, xs = np.nonzero(mask)
    minor, major = np.linalg.eigvalsh(np.cov(np.stack([xs, ys])))
    return float(np.sqrt(minor / major))


@pytest.mark.parametrize("seed", [0, 7, 123_456, HELDOUT_SEED_BASE + 3])
def test_same_seed_gives_identical_sample(seed):
    first, second = make_sample(seed, 128), make_sample(seed, 128)
    assert first.label == second.label, f"labels {first.label} != {second.label} for seed {seed}"
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image)), f"pixels differ for seed {seed}"
    assert np.array_equal(first.mask, second.mask), f"masks differ for seed {seed}"


def test_different_seeds_give_different_scenes():
    images, masks, _ = make_arrays(range(10), 96)
    for i in range(10):
        for j in range(i + 1, 10):
            change = np.abs(images[i].astype(int) - images[j]).mean()
            assert change > 10, f"seeds {i} and {j}: mean pixel difference {change:.1f}, expected > 10"
            assert not np.array_equal(masks[i], masks[j]), f"seeds {i} and {j} have the same mask"


def test_labels_from_seeds_cover_all_classes_uniformly():
    _, _, labels = make_arrays(range(480), 32)
    counts = np.bincount(labels, minlength=len(CLASSES))
    # 60 expected per class, binomial sd 7.2: [30, 90] is beyond 4 sd.
    assert len(counts) == len(CLASSES), f"labels outside [0, {len(CLASSES)}): {np.unique(labels)}"
    assert counts.min() >= 30, f"class counts {counts.tolist()}, expected each in [30, 90]"
    assert counts.max() <= 90, f"class counts {counts.tolist()}, expected each in [30, 90]"


def test_heldout_seeds_are_not_training_seeds():
    heldout = make_sample(HELDOUT_SEED_BASE, 64)
    train = make_sample(0, 64)
    assert not np.array_equal(np.asarray(heldout.image), np.asarray(train.image)), "held-out seed repeats seed 0"


@pytest.mark.parametrize("label", range(len(CLASSES)))
def test_explicit_label_is_honoured(label):
    for seed in range(5):
        sample = make_sample(seed, 64, label=label)
        assert sample.label == label, f"seed {seed}: label {sample.label}, expected {label}"
        assert isinstance(sample.label, int), f"label type {type(sample.label).__name__}, expected int"
        assert sample.mask.any(), f"seed {seed}, {CLASSES[label]}: empty mask"


def test_explicit_label_changes_only_the_object():
    seed = 11
    first, second = make_sample(seed, 128, label=0), make_sample(seed, 128, label=3)
    object_area = dilate(first.mask | second.mask, 1)
    outside = ~object_area
    same = np.array_equal(pixels(first)[outside], pixels(second)[outside])
    assert same, "background pixels away from both objects differ between label=0 and label=3"
    assert not np.array_equal(first.mask, second.mask), "circle and star masks are identical"


@pytest.mark.parametrize("label", range(len(CLASSES)))
def test_mask_area_fits_the_class(label):
    name = CLASSES[label]
    low, high = FILL_RATIO[name]
    fractions = []
    for seed in range(25):
        mask = make_sample(seed, 128, label=label).mask
        ratio = fill_ratio(mask)
        assert low <= ratio <= high, f"{name} seed {seed}: fill ratio {ratio:.3f}, expected in [{low}, {high}]"
        fractions.append(mask.mean())
    smallest, largest = 0.8 * low * SIZE_RANGE[0] ** 2, 1.1 * high * SIZE_RANGE[1] ** 2
    assert min(fractions) >= smallest, f"{name}: smallest area fraction {min(fractions):.4f} < {smallest:.4f}"
    assert max(fractions) <= largest, f"{name}: largest area fraction {max(fractions):.4f} > {largest:.4f}"
    spread = max(fractions) / min(fractions)
    assert spread >= 4, f"{name}: area fractions span only x{spread:.1f} over 25 seeds, expected >= x4"


def test_object_is_one_colour_and_contrasts_with_its_surroundings():
    checked = 0
    for seed in range(60):
        sample = make_sample(seed, 128)
        image, core = pixels(sample), erode(sample.mask, 2)
        if core.sum() < 10:
            continue
        checked += 1
        spread = image[core].std(axis=0).max()
        assert spread < 10, f"seed {seed}: object pixels have channel std {spread:.1f}, expected < 10"
        surround = dilate(sample.mask, 5) & ~dilate(sample.mask, 2)
        contrast = abs((image[core].mean(axis=0) - image[surround].mean(axis=0)) @ LUMA)
        assert contrast >= 40, f"seed {seed}: object/surround luminance contrast {contrast:.1f}, expected >= 40"
    assert checked >= 55, f"only {checked} of 60 objects were large enough to check"


@pytest.mark.parametrize("size", [128, (96, 160)])
def test_mask_matches_the_visible_object(size):
    ious = []
    for seed in range(40):
        sample = make_sample(seed, size)
        image, mask = pixels(sample), sample.mask
        object_colour = np.median(image[erode(mask)], axis=0)
        background_colour = np.median(image[dilate(mask, 4) & ~dilate(mask)], axis=0)
        closer = np.linalg.norm(image - object_colour, axis=-1) < np.linalg.norm(image - background_colour, axis=-1)
        looks_like_object = closer & dilate(mask, 4)
        ious.append((looks_like_object & mask).sum() / (looks_like_object | mask).sum())
    median = float(np.median(ious))
    assert median >= 0.95, f"size {size}: median IoU of mask vs object-coloured pixels {median:.3f}, expected >= 0.95"


def test_objects_have_anti_aliased_edges():
    blends = []
    for seed in range(10):
        sample = make_sample(seed, 128, label=CLASSES.index("circle"))
        image, mask = pixels(sample), sample.mask
        inside = np.median(image[erode(mask, 2)], axis=0)
        outside = np.median(image[dilate(mask, 3) & ~dilate(mask)], axis=0)
        contrast = inside - outside
        # Fraction of the object colour in each pixel along the edge, by projection in RGB.
        alpha = (image[dilate(mask) & ~erode(mask)] - outside) @ contrast / (contrast @ contrast)
        blends.append(np.mean((alpha > 0.25) & (alpha < 0.75)))
    share = float(np.mean(blends))
    # About 9 % with 4x supersampling, under 1 % with hard edges.
    assert share > 0.04, f"{share:.1%} of the pixels along circle edges are 25-75 % blends, expected > 4 %"


def test_ring_has_a_hole_and_circle_does_not():
    for seed in range(20):
        for name, filled in (("ring", False), ("circle", True)):
            mask = make_sample(seed, 128, label=CLASSES.index(name)).mask
            ys, xs = np.nonzero(mask)
            centre = mask[(ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2]
            assert centre == filled, f"{name} seed {seed}: centre of mask bbox is {centre}, expected {filled}"


def test_diamond_is_elongated_and_square_is_not():
    for seed in range(20):
        diamond = axes_ratio(make_sample(seed, 128, label=CLASSES.index("diamond")).mask)
        square = axes_ratio(make_sample(seed, 128, label=CLASSES.index("square")).mask)
        assert diamond <= 0.75, f"seed {seed}: diamond axes ratio {diamond:.3f}, expected <= 0.75"
        assert square >= 0.93, f"seed {seed}: square axes ratio {square:.3f}, expected >= 0.93"


@pytest.mark.parametrize(("size", "shape"), [((96, 160), (96, 160)), ((160, 96), (160, 96)), (64, (64, 64))])
def test_sizes_and_orientation(size, shape):
    for seed in range(10):
        sample = make_sample(seed, size)
        assert sample.mask.shape == shape, f"mask shape {sample.mask.shape}, expected {shape}"
        assert sample.mask.dtype == bool, f"mask dtype {sample.mask.dtype}, expected bool"
        assert sample.image.size == shape[::-1], f"image size {sample.image.size}, expected {shape[::-1]}"
        assert sample.image.mode == "RGB", f"image mode {sample.image.mode}, expected RGB"
        assert isinstance(sample.image, Image.Image), f"image type {type(sample.image).__name__}"
        fraction = sample.mask.mean()
        assert 0.005 < fraction < 0.3, f"size {size} seed {seed}: mask covers {fraction:.3f} of the image"


def test_make_arrays_equals_make_sample():
    seeds = [3, 1, 4, 1, 5, HELDOUT_SEED_BASE + 9]
    images, masks, labels = make_arrays(seeds, (48, 80))
    assert images.shape == (6, 48, 80, 3), f"images shape {images.shape}, expected (6, 48, 80, 3)"
    assert (images.dtype, masks.dtype, labels.dtype) == (np.uint8, bool, np.int64), (
        f"dtypes {images.dtype}, {masks.dtype}, {labels.dtype}, expected uint8, bool, int64"
    )
    for i, seed in enumerate(seeds):
        sample = make_sample(seed, (48, 80))
        assert np.array_equal(images[i], np.asarray(sample.image)), f"image {i} (seed {seed}) differs"
        assert np.array_equal(masks[i], sample.mask), f"mask {i} (seed {seed}) differs"
        assert labels[i] == sample.label, f"label {i} (seed {seed}): {labels[i]} != {sample.label}"


def test_make_arrays_of_no_seeds_is_empty():
    images, masks, labels = make_arrays([], 32)
    assert (images.shape, masks.shape, labels.shape) == ((0, 32, 32, 3), (0, 32, 32), (0,))


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"label": 8}, "label"), ({"label": -1}, "label"), ({"size": 8}, "at least 16")]
)
def test_invalid_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sample(0, **kwargs)


def test_difficulty_zero_gives_large_objects_on_a_plain_background():
    easy = [make_sample(seed, 96, difficulty=0.0) for seed in range(20)]
    full = [make_sample(seed, 96) for seed in range(20)]
    easy_area = np.mean([s.mask.mean() for s in easy])
    full_area = np.mean([s.mask.mean() for s in full])
    assert easy_area > 1.5 * full_area, f"easy objects {easy_area:.3f} vs full {full_area:.3f} of the image"
    background_spread = [np.asarray(s.image)[~s.mask].std(axis=0).mean() for s in easy]
    assert np.median(background_spread) < 25, "a plain gradient has no texture or strokes"
    with pytest.raises(ValueError, match="difficulty"):
        make_sample(0, 96, difficulty=1.5)


# ## The fine-grained "parts" task: one body, a small part that names the class


def test_part_task_arrays_equal_samples_and_cover_the_classes():
    seeds = range(200)
    images, masks, labels = make_arrays(seeds, 64, task="parts")
    for i in (0, 17, 199):
        sample = make_part_sample(i, 64)
        assert np.array_equal(images[i], np.asarray(sample.image)), f"image {i} differs from make_part_sample"
        assert np.array_equal(masks[i], sample.mask) and labels[i] == sample.label
    counts = np.bincount(labels, minlength=len(PART_CLASSES))
    # 50 expected per class, binomial sd 6.1: [25, 75] is beyond 4 sd.
    assert len(counts) == 4 and counts.min() >= 25 and counts.max() <= 75, f"class counts {counts.tolist()}"


def test_part_classes_differ_only_in_the_part():
    for seed in range(10):
        samples = [make_part_sample(seed, 128, label=k) for k in range(len(PART_CLASSES))]
        union = ndimage.binary_dilation(np.logical_or.reduce([s.mask for s in samples]), iterations=3)  # + edges
        for k, sample in enumerate(samples[1:], start=1):
            same = np.array_equal(pixels(samples[0])[~union], pixels(sample)[~union])
            assert same, f"seed {seed}: {PART_CLASSES[0]} and {PART_CLASSES[k]} differ away from the part"
            assert sample.label == k


def points_of(mask: np.ndarray) -> int:
    """Points of a star mask: the runs of mask pixels along a circle through its points (78 % of its radius).

    Pixel steps along the edges make runs and gaps of a few samples: a closing and an opening (on the circle,
    wrapped) remove them before counting.
    """
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    radius = 0.78 * (np.hypot(ys - cy, xs - cx).max() + 0.5)
    angles = np.linspace(0, 2 * np.pi, 1440, endpoint=False)
    ring = mask[np.round(cy + radius * np.sin(angles)).astype(int), np.round(cx + radius * np.cos(angles)).astype(int)]
    wrapped = np.concatenate([ring[-20:], ring, ring[:20]])
    kernel = np.ones(9, dtype=bool)  # 2.25 degrees; the gaps between 8 points span about 20 at this radius
    ring = ndimage.binary_opening(ndimage.binary_closing(wrapped, kernel), kernel)[20:-20]
    return int(np.sum(ring & ~np.roll(ring, 1)))


@pytest.mark.parametrize("label", range(len(PART_CLASSES)))
def test_part_is_a_small_star_with_its_points_on_a_plain_body(label):
    name, points = PART_CLASSES[label], 5 + label
    for seed in range(15):
        sample = make_part_sample(seed, 320, label=label)  # large enough to count the part's points
        mask, image = sample.mask, pixels(sample)
        assert 0.004 < mask.mean() < 0.03, f"{name} seed {seed}: the part covers {mask.mean():.4f} of the image"
        assert points_of(mask) == points, f"{name} seed {seed}: {points_of(mask)} points"
        # n r sin(pi/n) / 4 for inner radius r in [0.45, 0.55]: 0.33-0.42 for 5 to 8 points
        assert 0.30 <= fill_ratio(mask) <= 0.45, f"{name} seed {seed}: fill ratio {fill_ratio(mask):.3f}"
        surround = ndimage.binary_dilation(mask, iterations=6) & ~ndimage.binary_dilation(mask, iterations=2)
        spread = image[surround].std(axis=0).max()
        assert spread < 12, f"{name} seed {seed}: around the part the colour varies (std {spread:.1f}): not on the body"
        contrast = abs((image[erode(mask, 2)].mean(axis=0) - image[surround].mean(axis=0)) @ LUMA)
        assert contrast >= 40, f"{name} seed {seed}: part/body luminance contrast {contrast:.1f}"


def test_parts_appear_anywhere():
    _, masks, _ = make_arrays(range(300), 64, task="parts")
    ys, xs = zip(*(np.argwhere(m).mean(axis=0) for m in masks), strict=True)
    for axis, values in (("rows", ys), ("columns", xs)):
        low, high = np.percentile(values, [5, 95])
        assert low < 20 and high > 44, f"part centres span {axis} {low:.0f}-{high:.0f} of 64 only"


def test_part_task_rejects_bad_arguments():
    with pytest.raises(ValueError, match="label"):
        make_part_sample(0, 64, label=4)
    with pytest.raises(ValueError, match="unknown task"):
        make_arrays([0], 64, task="birds")
