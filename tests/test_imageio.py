"""Hostile and odd uploads for `load_image`: each input is built here, in memory or under tmp_path.

Every case either decodes to the right upright 8-bit RGB image (size, orientation, colour) or raises
`ImageError` with a message fit for an end user. Bombs must fail from the header, before any pixel
buffer is allocated.
"""

import io
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from snapmix_demo import imageio
from snapmix_demo.imageio import ImageError, load_image
from tests._files import encode, gif_declaring, jpeg_declaring, png_declaring

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
ORIENTATION = 0x0112  # EXIF tag


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _error(source: imageio.ImageSource) -> str:
    with pytest.raises(ImageError) as info:
        load_image(source)
    return str(info.value)


def _rgb(img: Image.Image, xy: tuple[int, int]) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)[xy[1], xy[0]]


def _close(actual: np.ndarray | tuple, expected: tuple, tol: int = 0) -> bool:
    return bool(np.all(np.abs(np.asarray(actual, dtype=np.int16) - np.asarray(expected)) <= tol))


def _as(kind: str, data: bytes, tmp_path: Path, name: str = "upload.png") -> imageio.ImageSource:
    """`data` passed as bytes, as a str path, as a Path or as an open binary file."""
    if kind == "bytes":
        return data
    if kind == "file":
        return io.BytesIO(data)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path) if kind == "str" else path


# --- empty, truncated, corrupt ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "str", "path", "file"])
def test_empty_input_is_refused(kind, tmp_path):
    assert "empty" in _error(_as(kind, b"", tmp_path))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: encode(_noise(64, 48), "JPEG")[:600], id="truncated-jpeg"),
        pytest.param(lambda: encode(_noise(64, 48), "PNG")[:4000], id="truncated-png"),
        pytest.param(lambda: encode(_noise(64, 48), "PNG")[:40], id="png-cut-after-ihdr"),
        pytest.param(lambda: encode(_noise(64, 48), "GIF")[:300], id="truncated-gif"),
    ],
)
def test_truncated_file_is_refused(make):
    assert "truncated or corrupt" in _error(make())


def test_png_with_a_wrong_chunk_length_is_called_corrupt():
    # Pillow raises SyntaxError("broken PNG file") from load(); that is corruption, not an unknown format.
    data = bytearray(encode(_noise(24, 16), "PNG"))
    idat = data.index(b"IDAT") - 4
    data[idat : idat + 4] = struct.pack(">I", 16)
    assert "truncated or corrupt" in _error(bytes(data))


# --- not images at all ------------------------------------------------------------------------------

_NOT_IMAGES = {
    "text": lambda: b"hello, this is a plain text file\nnot an image\n",
    "html": lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>\n",
    "svg": lambda: (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
        b'<rect width="8" height="8" fill="red"/></svg>'
    ),
    "pdf": lambda: encode(Image.new("RGB", (8, 8), RED), "PDF"),  # a real PDF, with an embedded JPEG
}


@pytest.mark.parametrize("kind", ["bytes", "path"])
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("content", sorted(_NOT_IMAGES))
def test_other_file_renamed_as_image_is_refused(content, suffix, kind, tmp_path):
    source = _as(kind, _NOT_IMAGES[content](), tmp_path, name="photo" + suffix)
    message = _error(source)
    assert "not an image in a supported format" in message
    assert "png" in message and "jpeg" in message  # tells the user what would work


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PPM", "PCX"])
def test_format_pillow_reads_but_not_allowlisted_is_refused(fmt):
    data = encode(Image.new("RGB", (16, 16), GREEN), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself would decode it
    assert "not an image in a supported format" in _error(data)


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {}), ("PNG", {}), ("GIF", {})],
)
def test_allowlisted_formats_decode(fmt, params):
    img = Image.new("RGB", (12, 7), BLUE)
    img.paste(RED, (0, 0, 3, 3))
    out = load_image(encode(img, fmt, **params))
    assert (out.mode, out.size) == ("RGB", (12, 7))
    assert _close(_rgb(out, (1, 1)), RED) and _close(_rgb(out, (11, 6)), BLUE)


# --- animation, bit depth, colour modes -------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "params"), [("GIF", {}), ("PNG", {}), ("WEBP", {"lossless": True})])
def test_animation_uses_the_first_frame(fmt, params):
    first, *rest = (Image.new("RGB", (8, 6), c) for c in (RED, GREEN, BLUE))
    data = encode(first, fmt, save_all=True, append_images=rest, duration=100, loop=0, **params)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = load_image(data)
    assert (out.mode, out.size) == ("RGB", (8, 6))
    assert getattr(out, "n_frames", 1) == 1
    assert _close(_rgb(out, (4, 3)), RED)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_grayscale_is_scaled_not_clipped(fmt):
    values = np.array([[65535, 32768, 257, 0]], dtype=np.uint16)
    src = Image.fromarray(values)
    assert src.mode == "I;16"
    out = load_image(encode(src, fmt))
    assert (out.mode, out.size) == ("RGB", (4, 1))
    arr = np.asarray(out)
    assert arr[0, :, 0].tolist() == [255, 128, 1, 0]
    assert (arr == arr[..., :1]).all()  # gray stays gray


def test_dark_16bit_image_stays_dark():
    # Scaling must follow the bit depth, not the content: 16-bit 200 is 8-bit ~0.8, not 200.
    out = load_image(encode(Image.fromarray(np.array([[200, 0]], dtype=np.uint16)), "PNG"))
    assert np.asarray(out)[0, :, 0].tolist() == [1, 0]


def test_cmyk_jpeg_becomes_rgb():
    src = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    src.paste((255, 0, 255, 0), (8, 0, 16, 16))  # green
    data = encode(src, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = load_image(data)
    assert (out.mode, out.size) == ("RGB", (16, 16))
    assert _close(_rgb(out, (2, 8)), RED, tol=12) and _close(_rgb(out, (13, 8)), GREEN, tol=12)


@pytest.mark.parametrize("transparency", [0, b"\x00\xff\xff"], ids=["index", "trns-alphas"])
def test_palette_png_transparent_pixels_become_white(transparency):
    src = Image.new("P", (3, 1))
    src.putpalette([*GREEN, *BLUE, *RED])
    src.putdata([0, 1, 2])
    data = encode(src, "PNG", transparency=transparency)
    assert Image.open(io.BytesIO(data)).mode == "P"
    out = load_image(data)
    assert out.mode == "RGB"
    assert [tuple(_rgb(out, (x, 0))) for x in range(3)] == [WHITE, BLUE, RED]


def test_grayscale_with_alpha_is_composited_on_white():
    lum = Image.new("L", (3, 1), 0)
    alpha = Image.frombytes("L", (3, 1), bytes([0, 255, 128]))
    data = encode(Image.merge("LA", (lum, alpha)), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "LA"
    out = load_image(data)
    assert out.mode == "RGB"
    assert np.asarray(out)[0, :, 0].tolist() == pytest.approx([255, 0, 127], abs=1)


@pytest.mark.parametrize("size", [(1, 1), (10000, 8), (8, 10000)])
def test_extreme_sizes(size):
    out = load_image(encode(Image.new("RGB", size, RED), "PNG"))
    assert (out.mode, out.size) == ("RGB", size)
    assert _close(_rgb(out, (size[0] - 1, size[1] - 1)), RED)


# --- orientation ------------------------------------------------------------------------------------


def _marked(width: int = 40, height: int = 20) -> Image.Image:
    """Blue landscape image with a red 8x8 marker in its stored top-left corner."""
    img = Image.new("RGB", (width, height), BLUE)
    img.paste(RED, (0, 0, 8, 8))
    return img


def _corner_colours(img: Image.Image) -> dict[str, np.ndarray]:
    w, h = img.size
    points = {"top-left": (2, 2), "top-right": (w - 3, 2), "bottom-left": (2, h - 3), "bottom-right": (w - 3, h - 3)}
    return {name: _rgb(img, xy) for name, xy in points.items()}


@pytest.mark.parametrize(
    ("fmt", "orientation", "marker"),
    [("JPEG", 6, "top-right"), ("JPEG", 8, "bottom-left"), ("JPEG", 3, "bottom-right"), ("PNG", 6, "top-right")],
)
def test_exif_orientation_is_applied(fmt, orientation, marker):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    out = load_image(encode(_marked(), fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {})))
    assert out.size == ((40, 20) if orientation == 3 else (20, 40))
    for corner, colour in _corner_colours(out).items():
        assert _close(colour, RED if corner == marker else BLUE, tol=40), corner


def test_malformed_exif_still_decodes_upright():
    # Orientation 6 plus a tag whose id was corrupted from Make (ASCII) to TransferFunction (SHORT):
    # Pillow reads it, but ImageOps.exif_transpose crashed re-serialising it (struct.error).
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "Camera"
    raw = exif.tobytes()
    assert raw.count(b"\x01\x0f\x00\x02") == 1  # big-endian ("MM") tag 0x010F, type 2 (ASCII)
    data = encode(_marked(), "JPEG", quality=95, exif=raw.replace(b"\x01\x0f\x00\x02", b"\x01\x2d\x00\x02"))
    out = load_image(data)
    assert out.size == (20, 40)
    assert _close(_corner_colours(out)["top-right"], RED, tol=40)


# --- size limits ------------------------------------------------------------------------------------


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if any file's pixel data gets decoded (and so allocated)."""

    def forbidden(self):
        raise AssertionError(f"decoded pixel data of a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(png_declaring(50000, 50000), id="png-50000x50000"),  # Pillow's own bomb error
        pytest.param(png_declaring(7000, 7000), id="png-7000x7000"),  # 49 MP: above MAX_PIXELS only
        pytest.param(png_declaring(2**31 - 1, 1), id="png-2G-wide"),
        pytest.param(gif_declaring(65535, 65535), id="gif-65535x65535"),
    ],
)
def test_decompression_bomb_fails_from_the_header(data, no_pixel_decoding):
    assert len(data) < 200
    message = _error(data)
    assert "more than 40 million pixels" in message  # not re-wrapped as "corrupt"


def test_pixel_cap_follows_max_pixels(monkeypatch, no_pixel_decoding):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 15)
    assert "more than 15 pixels" in _error(encode(Image.new("RGB", (4, 4)), "PNG"))


def test_pixel_cap_applies_to_arrays_and_pil_images(monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 15)
    assert "pixels" in _error(np.zeros((4, 4, 3), np.uint8))
    assert "pixels" in _error(Image.new("RGB", (4, 4)))
    assert load_image(np.zeros((3, 5, 3), np.uint8)).size == (5, 3)


@pytest.mark.parametrize("kind", ["bytes", "str", "path", "file"])
def test_file_over_max_bytes_is_refused(kind, tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_BYTES", 4096)
    data = encode(_noise(64, 64), "PNG")
    assert len(data) > 4096
    source = _as(kind, data, tmp_path)
    assert "larger than 4 KB" in _error(source)
    if kind == "file":
        assert source.tell() <= 4097  # read no further than needed to know


def test_file_of_exactly_max_bytes_is_accepted(monkeypatch):
    data = encode(_noise(64, 64), "PNG")
    monkeypatch.setattr(imageio, "MAX_BYTES", len(data))
    assert load_image(data).size == (64, 64)


def test_default_limit_message_is_in_megabytes():
    assert "larger than 20 MB" in imageio._too_big_message()


# --- arrays -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (4, 4, 1), (4, 4, 2), (4, 4, 5), (2, 2, 2, 3), ()])
def test_array_with_bad_shape_is_refused(shape):
    assert "unsupported shape" in _error(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(0, 4, 3), (4, 0)])
def test_array_with_no_pixels_is_refused(shape):
    assert "no pixels" in _error(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    ("arr", "expected"),
    [
        pytest.param(np.array([[[1.0, 0.5, 0.0]]], np.float32), (255, 128, 0), id="float-rgb-0..1"),
        pytest.param(np.array([[0.5]], np.float64), (128, 128, 128), id="float-gray-0..1"),
        pytest.param(np.array([[[200.0, 2.0, 0.0]]]), (200, 2, 0), id="float-rgb-0..255"),
        pytest.param(np.array([[[-0.5, 1.0, 0.25]]]), (0, 255, 64), id="float-negative-clipped"),
        pytest.param(np.array([[[-3.0, 65535.0, 257.0]]]), (0, 255, 1), id="float-above-255-read-as-16bit"),
        pytest.param(np.array([[[65535, 32768, 0]]], np.uint16), (255, 128, 0), id="uint16-rgb"),
        pytest.param(np.array([[[255, 7, 0]]]), (255, 7, 0), id="int64-rgb"),
        pytest.param(np.array([[True]]), (255, 255, 255), id="bool"),
        pytest.param(np.array([[[1.0, 0.0, 0.0, 0.0]]], np.float32), WHITE, id="float-rgba-transparent"),
    ],
)
def test_numeric_arrays_are_scaled_to_8bit(arr, expected):
    out = load_image(arr)
    assert (out.mode, out.size) == ("RGB", (1, 1))
    assert tuple(_rgb(out, (0, 0))) == expected


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_float_array_with_nan_or_inf_is_refused(bad):
    arr = np.zeros((2, 2, 3), np.float32)
    arr[1, 1, 0] = bad
    assert "invalid values" in _error(arr)


# --- paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_str", [True, False])
def test_missing_path_is_an_image_error(as_str, tmp_path):
    path = tmp_path / "nowhere" / "missing.png"
    assert "could not be found" in _error(str(path) if as_str else path)


@pytest.mark.parametrize("name", ["a-folder", "bad\0name.png"], ids=["folder", "nul-in-name"])
def test_unreadable_path_is_an_image_error(name, tmp_path):
    if "\0" not in name:
        (tmp_path / name).mkdir()
    assert "could not be read" in _error(str(tmp_path / name))


# --- messages ---------------------------------------------------------------------------------------

_SECRET = "secret-user-dir"


def _file(name: str, make: Callable[[], bytes]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        (folder / name).write_bytes(make())
        return folder / name

    return write


# Every kind of refused input; files are written under a folder whose name must not leak.
_HOSTILE: dict[str, Callable[[Path], imageio.ImageSource]] = {
    **{f"{name}-as-png": _file(f"{name}.png", make) for name, make in _NOT_IMAGES.items()},
    "empty": _file("empty.png", lambda: b""),
    "truncated-jpeg": _file("cut.jpg", lambda: encode(_noise(64, 48), "JPEG")[:600]),
    "truncated-png": _file("cut.png", lambda: encode(_noise(64, 48), "PNG")[:4000]),
    "bomb": _file("bomb.png", lambda: png_declaring(50000, 50000)),
    "over-pixel-cap": _file("cap.png", lambda: png_declaring(7000, 7000)),
    "over-max-bytes": _file("big.png", lambda: encode(_noise(64, 64), "PNG")),
    "ico": _file("icon.png", lambda: encode(Image.new("RGB", (16, 16)), "ICO")),
    "missing": lambda folder: folder / "missing.png",
    "folder": lambda folder: folder,
    "bad-shape": lambda folder: np.zeros((4, 4, 5), np.uint8),
    "nan": lambda folder: np.full((2, 2), np.nan),
}


@pytest.mark.parametrize("case", sorted(_HOSTILE))
def test_messages_are_fit_for_users(case, tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_BYTES", 4096)
    folder = tmp_path / _SECRET
    folder.mkdir()
    with pytest.raises(ImageError) as info:
        load_image(_HOSTILE[case](folder))
    message = str(info.value)
    assert message and message == message.strip()
    for leak in (_SECRET, str(tmp_path), os.sep, "\\", "Traceback", "PIL", "Error", "<_io", "0x"):
        assert leak not in message, message


# --- decoding no bigger than the caller needs (min_size) --------------------------------------------


def _structured(width: int, height: int) -> Image.Image:
    """Smooth gradients plus blocks: resizing it is well defined, so two decodes can be compared."""
    yy, xx = np.mgrid[0:height, 0:width]
    arr = np.stack([xx * 255 / (width - 1), yy * 255 / (height - 1), (xx + yy) * 255 / (width + height - 2)], -1)
    arr[height // 4 : height // 2, width // 4 : width // 2] = (250, 30, 30)
    return Image.fromarray(arr.astype(np.uint8))


@pytest.mark.parametrize(
    ("size", "min_size", "decoded"),
    [((2000, 1000), (224, 224), (500, 250)), ((448, 448), (224, 224), (224, 224)), ((448, 298), (224, 224), None)],
)
def test_jpeg_decodes_at_the_smallest_scale_that_covers_min_size(size, min_size, decoded):
    out = load_image(encode(_structured(*size), "JPEG", quality=95), min_size=min_size)
    assert out.size == (decoded or size), f"{out.size} decoded for {size} at min_size {min_size}"


def test_jpeg_scale_follows_the_upright_frame():
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored 2000x600, shown 600x2000
    out = load_image(encode(_structured(2000, 600), "JPEG", quality=95, exif=exif), min_size=(100, 400))
    assert out.size == (150, 500), "a 1/4 scale keeps the upright 600x2000 image at least 100x400"


_AS_MODE = {
    "RGB": lambda img: img,
    "RGBA": lambda img: img.convert("RGBA"),
    "L": lambda img: img.convert("L"),
    "P": lambda img: img.quantize(64),
    "I;16": lambda img: Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257),
}


@pytest.mark.parametrize("mode", sorted(_AS_MODE))
def test_big_images_shrink_early_and_stay_close_to_a_full_decode(mode):
    data = encode(_AS_MODE[mode](_structured(2000, 1800)), "PNG")
    small = load_image(data, min_size=(224, 224))
    assert small.size == (500, 450), f"factor 4 keeps at least twice 224: got {small.size}"
    full = load_image(data).resize((224, 224), Image.BILINEAR)
    diff = np.abs(np.asarray(small.resize((224, 224), Image.BILINEAR), np.int16) - np.asarray(full, np.int16))
    assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 12, f"mean {diff.mean():.2f}, p99 {np.percentile(diff, 99)}"


@pytest.mark.parametrize("transparency", [0, b"\x00\xff\x80"], ids=["one-index", "alpha-per-entry"])
def test_shrinking_a_transparent_palette_image_matches_its_full_decode(transparency):
    img = Image.new("P", (1000, 1000), 0)
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    img.paste(1, (0, 0, 400, 1000))
    img.paste(2, (600, 0, 1000, 1000))
    data = encode(img, "PNG", transparency=transparency)
    small, full = load_image(data, min_size=(100, 100)), load_image(data)
    assert small.size == (200, 200)
    assert _close(_rgb(small, (40, 100)), RED) and _close(_rgb(small, (100, 100)), WHITE)
    assert _close(_rgb(small, (160, 100)), _rgb(full, (800, 500)), tol=1), "half-transparent blue on white"


def test_wide_samples_and_webp_have_the_lower_pixel_cap(monkeypatch, no_pixel_decoding):
    monkeypatch.setattr(imageio, "MAX_PIXELS_WIDE", 15)
    float_tiff = encode(Image.fromarray(np.zeros((4, 4), np.float32)), "TIFF")
    assert "more than 15 pixels" in _error(float_tiff)
    assert "more than 15 pixels" in _error(encode(Image.new("RGB", (4, 4)), "WEBP"))


# --- big photos: JPEGs decode in draft mode (issue 21) ------------------------------------------------


@pytest.fixture(scope="module")
def jpeg_8000() -> bytes:
    """An 8000 x 8000 JPEG (64 MP, above MAX_PIXELS at full size) of about a megabyte."""
    img = Image.new("RGB", (8000, 8000), (90, 120, 160))
    img.paste((230, 40, 40), (2000, 2000, 6000, 6000))
    return encode(img, "JPEG", quality=60)


def test_a_big_jpeg_decodes_in_draft_mode_at_the_size_the_model_needs(jpeg_8000):
    assert len(jpeg_8000) < 2 * 1024 * 1024
    out = load_image(jpeg_8000, min_size=(224, 224))
    assert out.size == (500, 500), "decoded at 1/8 (1000 px), then halved: still twice 224"
    assert _close(_rgb(out, (250, 250)), (230, 40, 40), tol=12) and _close(_rgb(out, (25, 25)), (90, 120, 160), tol=12)


def test_the_pixel_cap_message_gives_the_images_size(jpeg_8000):
    message = _error(jpeg_8000)  # at full size (no min_size) it is 64 MP
    assert "the image is 8000 × 8000 pixels (64 million), more than 40 million pixels" in message
    assert "the image is 7000 × 7000 pixels (49 million)" in _error(png_declaring(7000, 7000))
    assert "the image has 2,500 million pixels, more than 40 million" in _error(png_declaring(50000, 50000))


@pytest.mark.parametrize(("width", "height"), [(65500, 65500), (60000, 30000), (20000, 20000)])
def test_a_jpeg_bomb_is_refused_even_in_draft_mode(width, height, no_pixel_decoding):
    with pytest.raises(ImageError, match="more than 40 million pixels"):
        load_image(jpeg_declaring(width, height), min_size=(224, 224))
