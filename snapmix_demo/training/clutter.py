"""The shapes' clutter: gradient and texture backgrounds, pixel noise and thin distractor strokes.

A network must not solve the shapes task from the background, so every image gets its own clutter, drawn
from the sample's generator (one `np.random.default_rng(seed)` per sample: the same seed, the same image).
"""

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["background"]


def background(rng: np.random.Generator, height: int, width: int, difficulty: float) -> np.ndarray:
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
