"""Procedural shape images with ground-truth object masks.

SnapMix weights the labels of a mixed image by the Class Activation Maps (CAMs) of the
network being trained, so the explorer needs small CNNs whose CAMs can be *checked*
against where the object really is. Natural-image datasets are too large to download and
to train on a 2-core CPU, and they carry no pixel masks. This module generates an
unlimited, seed-deterministic stream of images instead: one filled shape (of eight classes
that stay distinguishable under any rotation) on a cluttered background of gradients,
textures, pixel noise and thin distractor strokes, together with the exact mask of the
object. "Does the CAM point at the object?" then becomes a measurable question, and a
network cannot solve the task from the background alone.

A second, *fine-grained* task (``task="parts"``) tests SnapMix's own claim: every image
holds the same kind of large body (an ellipse), and the four classes differ only in a small
part drawn anywhere on it (a circle, triangle, square or cross about a sixth of the image side
across). Its mask is the part's alone: the discriminative region that a label weight should follow.

Every sample depends only on its seed, size and label (one ``np.random.default_rng(seed)``
per sample, no global state), so training can use seeds below ``HELDOUT_SEED_BASE`` and evaluation seeds
at or above it without ever storing a dataset.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "CLASSES",
    "HELDOUT_SEED_BASE",
    "PART_CLASSES",
    "ShapeSample",
    "make_arrays",
    "make_part_sample",
    "make_sample",
]

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring", "hexagon", "diamond")
PART_CLASSES: tuple[str, ...] = ("star5", "star6", "star7", "star8")  # the small part that names the class
HELDOUT_SEED_BASE = 1_000_000_000  # training uses seeds below this, held-out evaluation at or above it

_MIN_SIDE = 16  # pixels; below this no shape is recognisable
_SIZE_RANGE = (0.18, 0.60)  # object's circumscribed diameter as a fraction of the shorter image side
_SUPERSAMPLE = 4  # the object is drawn at this scale and box-filtered down: anti-aliased edges
_MIN_LUMA_CONTRAST = 60.0  # object colour vs mean background under the object, in 0-255 luminance
_COLOUR_CANDIDATES = 16
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CIRCLE_VERTICES = 72

_Outline = list[np.ndarray]  # polygons (N, 2) as x, y; the first is filled, later ones are holes


@dataclass(frozen=True)
class ShapeSample:
    """One generated image with its ground truth.

    Attributes:
        image: RGB image of size (W, H).
        mask: Bool array (H, W), True on the object's pixels (anti-aliased coverage >= 0.5).
        label: Index into ``CLASSES``.
    """

    image: Image.Image
    mask: np.ndarray
    label: int


def make_sample(
    seed: int, size: int | tuple[int, int] = 224, label: int | None = None, difficulty: float = 1.0
) -> ShapeSample:
    """Generate the sample of one seed.

    The background, the object's pose and the pixel noise are drawn before anything that
    depends on the class, so passing ``label`` swaps the shape (and possibly its colour) while
    keeping the rest of the scene.

    Args:
        seed: Non-negative seed; the sample is a pure function of (seed, size, label).
        size: Side of a square image, or (height, width).
        label: Class index to draw; None picks it from the seed, uniformly over ``CLASSES``.
        difficulty: From 0 (large objects on a plain gradient) to 1 (the dataset as specified): scales the
            textures, the share of distractor strokes and how small objects may be. Lower values are a
            training curriculum, never an evaluation setting.

    Returns:
        The image, the object's mask and its label.

    Raises:
        ValueError: If the size is too small or the label is not a class index.
    """
    height, width = _parse_size(size)
    rng = np.random.default_rng(seed)
    label = _pick_label(rng, label, len(CLASSES), difficulty)
    canvas = _background(rng, height, width, difficulty)
    linear, centre = _pose(rng, height, width, difficulty)
    noise = rng.standard_normal(canvas.shape, dtype=np.float32) * rng.uniform(0.0, 6.0)
    # Class-dependent draws come last, so that `label` does not change the scene.
    polygons = [centre + polygon @ linear.T for polygon in _OUTLINES[CLASSES[label]](rng)]
    mask = _paint_object(rng, canvas, polygons)
    pixels = np.clip(canvas + noise + 0.5, 0, 255).astype(np.uint8)
    return ShapeSample(image=Image.fromarray(pixels, "RGB"), mask=mask, label=int(label))


def make_part_sample(
    seed: int, size: int | tuple[int, int] = 160, label: int | None = None, difficulty: float = 1.0
) -> ShapeSample:
    """Generate the fine-grained sample of one seed: a large ellipse carrying a small part that names the class.

    The body's pose, size and colour and the part's position on it are drawn before anything that depends on
    the class, so passing ``label`` swaps only the part's shape (and possibly its colour).

    Args:
        seed: Non-negative seed; the sample is a pure function of (seed, size, label).
        size: Side of a square image, or (height, width).
        label: Index into ``PART_CLASSES``; None picks it from the seed, uniformly.
        difficulty: From 0 (a plain gradient) to 1 (full clutter, as in ``make_sample``).

    Returns:
        The image, the mask of the *part* alone (the discriminative region) and its label.

    Raises:
        ValueError: If the size is too small or the label is not a class index.
    """
    height, width = _parse_size(size)
    rng = np.random.default_rng(seed)
    label = _pick_label(rng, label, len(PART_CLASSES), difficulty)
    canvas = _background(rng, height, width, difficulty)
    body, part_linear, part_centre = _body_and_part_pose(rng, height, width)
    noise = rng.standard_normal(canvas.shape, dtype=np.float32) * rng.uniform(0.0, 6.0)
    _paint_object(rng, canvas, [body])
    polygons = [part_centre + _part_star(rng, _STAR_POINTS[label]) @ part_linear.T]
    mask = _paint_object(rng, canvas, polygons)
    pixels = np.clip(canvas + noise + 0.5, 0, 255).astype(np.uint8)
    return ShapeSample(image=Image.fromarray(pixels, "RGB"), mask=mask, label=int(label))


_SAMPLERS: dict[str, Callable[..., ShapeSample]] = {"shapes": make_sample, "parts": make_part_sample}


def make_arrays(
    seeds: Sequence[int], size: int | tuple[int, int] = 128, difficulty: float = 1.0, task: str = "shapes"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate a batch of samples as arrays, one per seed, identical to ``make_sample`` (or ``make_part_sample``).

    Args:
        seeds: One seed per sample.
        size: Side of a square image, or (height, width).
        difficulty: As in ``make_sample``.
        task: "shapes" (``make_sample``, labels index ``CLASSES``) or "parts" (``make_part_sample``,
            labels index ``PART_CLASSES``, masks of the discriminative part).

    Returns:
        uint8 images (N, H, W, 3), bool masks (N, H, W) and int64 labels (N,).
    """
    if task not in _SAMPLERS:
        raise ValueError(f"unknown task `{task}`; choose one of: {', '.join(_SAMPLERS)}")
    sampler = _SAMPLERS[task]
    height, width = _parse_size(size)
    images = np.empty((len(seeds), height, width, 3), dtype=np.uint8)
    masks = np.empty((len(seeds), height, width), dtype=bool)
    labels = np.empty(len(seeds), dtype=np.int64)
    for i, seed in enumerate(seeds):
        sample = sampler(int(seed), (height, width), difficulty=difficulty)
        images[i] = np.asarray(sample.image)
        masks[i] = sample.mask
        labels[i] = sample.label
    return images, masks, labels


def _pick_label(rng: np.random.Generator, label: int | None, classes: int, difficulty: float) -> int:
    """The seed's label (always drawn, so the scene does not depend on ``label``), or the validated given one."""
    seeded_label = int(rng.integers(classes))
    if label is None:
        label = seeded_label
    elif not 0 <= label < classes:
        raise ValueError(f"label must be in [0, {classes}), got {label}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    return int(label)


def _parse_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Return (height, width) from an int or a pair, rejecting sizes too small to draw on."""
    height, width = (size, size) if np.ndim(size) == 0 else size
    if min(height, width) < _MIN_SIDE:
        raise ValueError(f"image sides must be at least {_MIN_SIDE} px, got (height, width) = ({height}, {width})")
    return int(height), int(width)


# --- background -------------------------------------------------------------------------


def _background(rng: np.random.Generator, height: int, width: int, difficulty: float) -> np.ndarray:
    """Float32 (H, W, 3) clutter: gradient, one or two textures, then distractor strokes."""
    short = min(height, width)
    x = (np.arange(width, dtype=np.float32) / short)[None, :]
    y = (np.arange(height, dtype=np.float32) / short)[:, None]
    canvas = _gradient(rng, x, y)
    for kind in rng.choice(len(_TEXTURES), size=int(rng.integers(1, 3)), replace=False):
        amplitude = difficulty * rng.uniform(6.0, 28.0) * rng.uniform(0.3, 1.0, 3).astype(np.float32)
        canvas += _TEXTURES[kind](rng, x, y)[..., None] * amplitude
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
    _draw_strokes(rng, image, difficulty)
    return np.asarray(image, dtype=np.float32).copy()


def _gradient(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear or radial blend between two nearby random colours."""
    start = rng.uniform(0, 255, 3).astype(np.float32)
    end = np.clip(start + rng.normal(0, 50, 3), 0, 255).astype(np.float32)
    if rng.random() < 0.5:
        theta = rng.uniform(0, 2 * math.pi)
        t = x * math.cos(theta) + y * math.sin(theta)
        t = t - t.min()
    else:
        t = np.hypot(x - rng.uniform(0, x.max()), y - rng.uniform(0, y.max()))
    t = t / max(float(t.max()), 1e-6)
    return start + t[..., None] * (end - start)


def _rotated(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by a random angle (for stripes and checks)."""
    theta = rng.uniform(0, math.pi)
    cos, sin = math.cos(theta), math.sin(theta)
    return x * cos + y * sin, y * cos - x * sin


def _stripes(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Soft or hard stripes in [-1, 1] with a random period and direction."""
    u, _ = _rotated(rng, x, y)
    wave = np.sin(u * (2 * math.pi / rng.uniform(0.03, 0.15)) + rng.uniform(0, 2 * math.pi))
    return np.sign(wave) if rng.random() < 0.5 else wave


def _checks(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rotated checkerboard in {-1, 1}."""
    u, v = _rotated(rng, x, y)
    frequency = 2 * math.pi / rng.uniform(0.04, 0.15)
    return np.sign(np.sin(u * frequency) * np.sin(v * frequency))


def _blurred_noise(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth blobs: a coarse Gaussian grid upsampled bicubically, about unit variance."""
    height, width = y.shape[0], x.shape[1]
    cells = rng.uniform(3, 12)  # blobs per shorter side
    grid = rng.standard_normal((math.ceil(cells * y.max()) + 2, math.ceil(cells * x.max()) + 2), dtype=np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((width, height), Image.Resampling.BICUBIC))


_TEXTURES: tuple[Callable[[np.random.Generator, np.ndarray, np.ndarray], np.ndarray], ...] = (
    _stripes,
    _checks,
    _blurred_noise,
)


def _draw_strokes(rng: np.random.Generator, image: Image.Image, difficulty: float) -> None:
    """Draw 3-7 thin open strokes (lines, arcs, scribbles) in random colours onto ``image``, fewer when easier."""
    draw = ImageDraw.Draw(image)
    for _ in range(round(difficulty * int(rng.integers(3, 8)))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        stroke_width = int(rng.integers(1, max(1, min(image.size) // 64) + 1))
        _STROKES[int(rng.integers(len(_STROKES)))](rng, draw, image.size, colour, stroke_width)


def _line(
    rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: tuple[int, int], colour: tuple, stroke_width: int
) -> None:
    """A straight segment 15-60 % of the shorter side long."""
    start = rng.uniform(0, 1, 2) * size
    theta = rng.uniform(0, 2 * math.pi)
    end = start + rng.uniform(0.15, 0.6) * min(size) * np.array([math.cos(theta), math.sin(theta)])
    draw.line([tuple(start), tuple(end)], fill=colour, width=stroke_width)


def _arc(
    rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: tuple[int, int], colour: tuple, stroke_width: int
) -> None:
    """An open circular arc spanning 30-180 degrees, so it never reads as a ring or circle."""
    cx, cy = rng.uniform(0, 1, 2) * size
    radius = rng.uniform(0.05, 0.3) * min(size)
    start = rng.uniform(0, 360)
    box = [cx - radius, cy - radius, cx + radius, cy + radius]
    draw.arc(box, start, start + rng.uniform(30, 180), fill=colour, width=stroke_width)


def _scribble(
    rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: tuple[int, int], colour: tuple, stroke_width: int
) -> None:
    """A short random-walk polyline with gently turning heading."""
    steps = int(rng.integers(4, 10))
    headings = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.6, steps))
    lengths = rng.uniform(0.03, 0.08, steps) * min(size)
    moves = np.stack([np.cos(headings), np.sin(headings)], axis=1) * lengths[:, None]
    points = rng.uniform(0, 1, 2) * size + np.cumsum(np.vstack([np.zeros(2), moves]), axis=0)
    draw.line([tuple(p) for p in points], fill=colour, width=stroke_width, joint="curve")


_STROKES = (_line, _arc, _scribble)


# --- object -----------------------------------------------------------------------------


def _regular(vertices: int, phase: float = 0.0) -> np.ndarray:
    """Vertices of a regular polygon inscribed in the unit circle."""
    angles = phase + np.arange(vertices) * (2 * math.pi / vertices)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _unit(polygon: np.ndarray) -> np.ndarray:
    """Scale a polygon centred on the origin so that its farthest vertex lies on the unit circle."""
    return polygon / np.hypot(polygon[:, 0], polygon[:, 1]).max()


def _circle(rng: np.random.Generator) -> _Outline:
    """Filled disc."""
    return [_regular(_CIRCLE_VERTICES)]


def _square(rng: np.random.Generator) -> _Outline:
    """Square."""
    return [_regular(4)]


def _triangle(rng: np.random.Generator) -> _Outline:
    """Roughly equilateral triangle: vertex angles within 7 degrees, radii within 12 %."""
    angles = np.arange(3) * (2 * math.pi / 3) + rng.uniform(-1, 1, 3) * math.radians(7)
    radii = rng.uniform(0.88, 1.0, 3)
    return [_unit(np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None])]


def _star(rng: np.random.Generator) -> _Outline:
    """Five-pointed star, inner radius 38-48 % of the outer one."""
    radii = np.tile([1.0, rng.uniform(0.38, 0.48)], 5)
    return [_regular(10) * radii[:, None]]


def _cross(rng: np.random.Generator) -> _Outline:
    """Plus sign whose arms are 30-36 % of its span wide."""
    t = rng.uniform(0.30, 0.36)
    quarter = np.array([[1.0, t], [t, t], [t, 1.0]])
    quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    return [_unit(np.vstack([quarter @ np.linalg.matrix_power(quarter_turn, k).T for k in range(4)]))]


def _ring(rng: np.random.Generator) -> _Outline:
    """Annulus, inner radius 45-65 % of the outer one."""
    circle = _regular(_CIRCLE_VERTICES)
    return [circle, circle * rng.uniform(0.45, 0.65)]


def _hexagon(rng: np.random.Generator) -> _Outline:
    """Regular hexagon."""
    return [_regular(6)]


def _diamond(rng: np.random.Generator) -> _Outline:
    """Rhombus with short/long diagonal 0.5-0.7, so it is never a rotated square."""
    aspect = rng.uniform(0.5, 0.7)
    return [np.array([[1.0, 0.0], [0.0, aspect], [-1.0, 0.0], [0.0, -aspect]])]


_OUTLINES: dict[str, Callable[[np.random.Generator], _Outline]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
    "ring": _ring,
    "hexagon": _hexagon,
    "diamond": _diamond,
}


def _pose(rng: np.random.Generator, height: int, width: int, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    """Random scale-rotation matrix and centre that keep a unit outline fully inside the image."""
    smallest, largest = _SIZE_RANGE
    radius = 0.5 * min(height, width) * rng.uniform(largest - difficulty * (largest - smallest), largest)
    centre = np.array([rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)])
    linear = radius * _rotation(rng.uniform(0, 2 * math.pi))
    return linear, centre


def _rotation(theta: float) -> np.ndarray:
    """The 2x2 matrix that turns (x, y) by `theta` radians."""
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


_STAR_POINTS = (5, 6, 7, 8)  # points of each part class
_STAR_INNER = (0.45, 0.55)  # a part star's inner radius over its outer one, the same range for every class
_BODY_RADIUS = (0.28, 0.42)  # the body's semi-major axis, as a fraction of the shorter image side
_BODY_ASPECT = (0.7, 1.0)  # minor over major axis
_PART_RADIUS = (0.07, 0.09)  # the part's circumscribed radius, as a fraction of the shorter side
_PART_MARGIN = 1.25  # the part's centre keeps this many part radii from the body's outline


def _body_and_part_pose(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ellipse (N, 2) inside the image, and a part's scale-rotation matrix and centre well inside the ellipse."""
    short = min(height, width)
    major = short * rng.uniform(*_BODY_RADIUS)
    minor = major * rng.uniform(*_BODY_ASPECT)
    centre = np.array([rng.uniform(major, width - major), rng.uniform(major, height - major)])
    rotation = _rotation(rng.uniform(0, 2 * math.pi))
    body = centre + (_regular(_CIRCLE_VERTICES) * [major, minor]) @ rotation.T
    part_radius = short * rng.uniform(*_PART_RADIUS)
    margin = _PART_MARGIN * part_radius
    spot = _regular(1, rng.uniform(0, 2 * math.pi))[0] * math.sqrt(rng.random())  # uniform in the unit disc
    part_centre = centre + rotation @ (spot * [major - margin, minor - margin])
    part_linear = part_radius * _rotation(rng.uniform(0, 2 * math.pi))
    return body, part_linear, part_centre


def _part_star(rng: np.random.Generator, points: int) -> np.ndarray:
    """A star with `points` points, inner radius drawn from the same range whatever the count."""
    radii = np.tile([1.0, rng.uniform(*_STAR_INNER)], points)
    return _regular(2 * points) * radii[:, None]


def _paint_object(rng: np.random.Generator, canvas: np.ndarray, polygons: _Outline) -> np.ndarray:
    """Blend the object into ``canvas`` in place, in a contrasting colour; return its bool mask."""
    height, width = canvas.shape[:2]
    coverage, top, left = _coverage(polygons, height, width)
    window = (slice(top, top + coverage.shape[0]), slice(left, left + coverage.shape[1]))
    region = canvas[window]
    region += coverage[..., None] * (_object_colour(rng, region, coverage) - region)
    mask = np.zeros((height, width), dtype=bool)
    mask[window] = coverage >= 0.5
    return mask


def _coverage(polygons: _Outline, height: int, width: int) -> tuple[np.ndarray, int, int]:
    """Anti-aliased coverage in [0, 1] of the polygons' bounding box, with the box's top and left."""
    points = np.vstack(polygons)
    left, top = (max(int(v), 0) for v in np.floor(points.min(axis=0)))
    right, bottom = min(int(np.ceil(points[:, 0].max())), width), min(int(np.ceil(points[:, 1].max())), height)
    layer = Image.new("L", ((right - left) * _SUPERSAMPLE, (bottom - top) * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(layer)
    for index, polygon in enumerate(polygons):
        # Pillow samples supersampled pixel k at coordinate k, i.e. at image coordinate (k + 0.5) / s.
        xy = (polygon - [left, top]) * _SUPERSAMPLE - 0.5
        draw.polygon(xy.ravel().tolist(), fill=0 if index else 255)
    coverage = np.asarray(layer.reduce(_SUPERSAMPLE), dtype=np.float32) / 255.0
    return coverage, top, left


def _object_colour(rng: np.random.Generator, region: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """A random colour whose luminance differs enough from the mean background under the object."""
    background = np.tensordot(coverage, region, axes=([0, 1], [0, 1])) / coverage.sum()
    background_luma = float(background @ _LUMA)
    candidates = rng.uniform(0, 255, (_COLOUR_CANDIDATES, 3)).astype(np.float32)
    visible = np.abs(candidates @ _LUMA - background_luma) >= _MIN_LUMA_CONTRAST
    if visible.any():
        return candidates[int(np.argmax(visible))]
    return np.full(3, 0.0 if background_luma > 127.5 else 255.0, dtype=np.float32)
