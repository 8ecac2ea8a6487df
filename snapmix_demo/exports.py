"""The files of a result, the same from the app's downloads and the command line.

In the model-input frame (the pixels the model saw, where boxes and maps are defined): `cam_a.png`,
`cam_b.png`, `mixed.png` and the maps themselves, `spm_a.npy` and `spm_b.npy`. At each image's own
resolution (its long side capped at `FULL_MAX_SIDE`): `cam_a_full.png`, `cam_b_full.png` and
`mixed_full.png`, the same maps and boxes scaled up (the whole image was resized, never cropped, so
the frames map onto each other exactly). `result.json` is `PairResult.to_dict()` plus the input
images' file names and what each file is.
"""

import io
import json

import numpy as np
from matplotlib import colormaps
from PIL import Image

from snapmix_demo.boxes import Box
from snapmix_demo.imageio import ImageSource, load_image
from snapmix_demo.pipeline import PairResult
from snapmix_demo.render import COLOR_A, COLOR_B, draw_box, mixed_view, overlays

__all__ = ["FILE_NOTES", "FULL_MAX_SIDE", "full_resolution", "originals", "result_files"]

FULL_MAX_SIDE = 2048  # pixels: the long side of the full-resolution exports at most
FILE_NOTES = {
    "cam_a.png": "CAM of A with box A, in the model-input frame",
    "cam_b.png": "CAM of B with box B, in the model-input frame",
    "mixed.png": "the mixed image, in the model-input frame",
    "spm_a.npy": "A's semantic percent map (float32, sums to 1; NaN where flat), model-input frame",
    "spm_b.npy": "B's semantic percent map, model-input frame",
    "cam_a_full.png": f"CAM of A with box A at A's own resolution (long side at most {FULL_MAX_SIDE})",
    "cam_b_full.png": f"CAM of B with box B at B's own resolution (long side at most {FULL_MAX_SIDE})",
    "mixed_full.png": f"the mixed image at A's own resolution (long side at most {FULL_MAX_SIDE})",
}


def _png(img: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _npy(spm: np.ndarray | None, shape: tuple[int, int]) -> bytes:
    """The map as a float32 .npy; a flat (degenerate) map has no SPM and is saved as NaNs."""
    buffer = io.BytesIO()
    np.save(buffer, spm if spm is not None else np.full(shape, np.nan, np.float32))
    return buffer.getvalue()


def originals(sources: tuple[ImageSource, ImageSource]) -> tuple[Image.Image, Image.Image]:
    """Both input images decoded for the full-resolution files: the result holds the model frame only."""
    side = (FULL_MAX_SIDE, FULL_MAX_SIDE)  # large JPEGs decode in draft mode no smaller than this
    return load_image(sources[0], min_size=side), load_image(sources[1], min_size=side)


def _capped(img: Image.Image) -> Image.Image:
    """`img` shrunk so that its long side is at most `FULL_MAX_SIDE`, or `img` itself."""
    scale = FULL_MAX_SIDE / max(img.size)
    if scale >= 1:
        return img
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BOX)


def _scaled_box(box: Box, frame: tuple[int, int], size: tuple[int, int]) -> Box:
    """`box` of the (height, width) `frame` in an image of `size` (width, height)."""
    sy, sx = size[1] / frame[0], size[0] / frame[1]
    top, left, bottom, right = box
    return (round(top * sy), round(left * sx), round(bottom * sy), round(right * sx))


def _heat(img: Image.Image, spm: np.ndarray | None, *, cmap: str, alpha: float, raw: bool) -> Image.Image:
    """`render.heatmap_overlay` / `raw_map` at `img`'s size: the map upsampled bilinearly, coloured by lookup."""
    if spm is None:
        grey = Image.new("RGB", img.size, (128, 128, 128))
        return grey if raw else Image.blend(img, img.convert("L").convert("RGB"), 0.8)
    big = np.asarray(Image.fromarray(spm.astype(np.float32), mode="F").resize(img.size, Image.Resampling.BILINEAR))
    peak = float(big.max())
    levels = np.clip(big / peak if peak > 0 else big, 0, 1)
    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    heat = Image.fromarray(lut[(levels * 255).astype(np.uint8)])
    return heat if raw else Image.blend(img, heat, alpha)


def full_resolution(
    res: PairResult, originals: tuple[Image.Image, Image.Image], *, cmap: str, alpha: float, raw: bool
) -> dict[str, Image.Image]:
    """The CAM pictures and the mixed image at the images' own resolution (RGB originals, as decoded)."""
    frame = (res.image_a.height, res.image_a.width)
    a, b = (_capped(img) for img in originals)
    box_a, box_b = _scaled_box(res.box_a, frame, a.size), _scaled_box(res.box_b, frame, b.size)
    width_a, width_b = (max(3, round(3 * max(img.size) / max(frame))) for img in (a, b))
    mixed = a.copy()
    if res.mixed_applied:
        patch = b.crop((box_b[1], box_b[0], box_b[3], box_b[2]))
        size = (max(1, box_a[3] - box_a[1]), max(1, box_a[2] - box_a[0]))
        mixed.paste(patch.resize(size, Image.Resampling.BILINEAR), (box_a[1], box_a[0]))
        mixed = draw_box(mixed, box_a, COLOR_B, width_a)
    return {
        "cam_a_full.png": draw_box(_heat(a, res.spm_a, cmap=cmap, alpha=alpha, raw=raw), box_a, COLOR_A, width_a),
        "cam_b_full.png": draw_box(_heat(b, res.spm_b, cmap=cmap, alpha=alpha, raw=raw), box_b, COLOR_B, width_b),
        "mixed_full.png": mixed,
    }


def result_files(
    res: PairResult,
    *,
    cmap: str = "jet",
    alpha: float = 0.5,
    raw: bool = False,
    names: tuple[str | None, str | None] = (None, None),
    originals: tuple[Image.Image, Image.Image] | None = None,
) -> dict[str, bytes]:
    """Every file of a result by name, in download order: `result.json`, the model-frame files, the full-size ones.

    `names`: the input images' file names for `result.json` (never a server path); `originals`: the decoded
    input images, for the full-resolution pictures (left out without them).
    """
    cam_a, cam_b = overlays(res, cmap=cmap, alpha=alpha, raw=raw)
    shape = (res.image_a.height, res.image_a.width)
    files = {
        "cam_a.png": _png(cam_a),
        "cam_b.png": _png(cam_b),
        "mixed.png": _png(mixed_view(res)),
        "spm_a.npy": _npy(res.spm_a, shape),
        "spm_b.npy": _npy(res.spm_b, shape),
    }
    if originals is not None:
        full = full_resolution(res, originals, cmap=cmap, alpha=alpha, raw=raw)
        files |= {name: _png(img, compress_level=1) for name, img in full.items()}
    facts = {"inputs": {"image_a": names[0], "image_b": names[1]}, **res.to_dict()}
    facts["files"] = {name: FILE_NOTES[name] for name in files}
    return {"result.json": (json.dumps(facts, indent=2) + "\n").encode(), **files}
