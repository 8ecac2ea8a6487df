"""Safe decoding of untrusted images into RGB.

Uploads come from anyone: decode only allowlisted formats, check the declared pixel
count before decoding any pixel data, show EXIF-rotated photos upright, and turn every
mode (16-bit, palette, alpha, CMYK) into 8-bit RGB. Failures raise `ImageError`
with a message fit to show a user.
"""

import io
import math
import os
import re
import warnings
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from snapmix_demo.errors import UserError

__all__ = ["ALLOWED_FORMATS", "MAX_BYTES", "MAX_PIXELS", "ImageError", "ImageSource", "load_image", "to_rgb"]

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
MAX_BYTES = 20 * 1024 * 1024  # 20 MiB per file
MAX_PIXELS = 40_000_000  # declared width * height, checked before decoding
# 32-bit samples and WebP: their decoders and the 8-bit conversion hold about 16 bytes a pixel (8 for the rest),
# so half the pixels keep the same peak (benchmarks/bench_abuse.py measures it).
MAX_PIXELS_WIDE = 20_000_000
_WIDE_MODES = {"I", "F"}
_CORRUPT = "the image file is truncated or corrupt and could not be decoded"
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white
# Leading bytes of allowlisted formats, to call a file that starts like one but fails to open corrupt rather
# than unsupported. BMP's two-byte "BM" is left out: too many text files start with it.
_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little- and big-endian
    b"MM\x00*",
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)
_TRANSPOSE = {  # EXIF Orientation -> the transpose that shows the image upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SWAPS_AXES = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
}
_CONVERT_BEFORE_SHRINK = {  # mode -> what makes it safe to average
    "P": lambda img: _flat_palette(img) if "transparency" in img.info else img.convert("RGB"),
    "1": lambda img: img.convert("L"),
}
_SHRINKABLE = {"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I;16L", "I;16B", "I;16N", *_CONVERT_BEFORE_SHRINK}

ImageSource = Image.Image | np.ndarray | bytes | str | os.PathLike | BinaryIO


class ImageError(UserError):
    """An input that is not a usable image; the message is meant for the user."""


def load_image(source: ImageSource, min_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode `source` (PIL image, HxW[x3|4] array, bytes, path or file) into an upright RGB image.

    `min_size` (width, height): the size the caller will resize to. Files may then decode smaller, but never
    below it: JPEGs at the smallest DCT scale that still covers it, other big images reduced early to at least
    twice it, so a huge upload does not stay in memory at full size through the conversions.
    """
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height)
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        return to_rgb(_from_array(source))
    data = _read_bytes(source)
    return to_rgb(_decode(data, min_size))


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB version of `img`: 16-bit scaled down, alpha composited on white, CMYK/palette converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = Image.fromarray(_to_uint8(np.asarray(img)), mode="L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale an array of any numeric type to 0..255, mapping `_full_scale(arr)` to 255.

    Raises:
        ImageError: `arr` holds NaN or infinite values.
    """
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ImageError("the image data contains invalid values (not a number or infinite)")
    scaled = arr.astype(np.float32)  # exact for 16-bit values, half the memory of float64
    scaled *= 255.0 / _full_scale(arr)
    np.clip(scaled, 0, 255, out=scaled)
    return np.rint(scaled).astype(np.uint8)


def _full_scale(arr: np.ndarray) -> float:
    """The value of `arr` that means full intensity.

    65535 for 16-bit unsigned data whatever its content (a dark 16-bit image stays dark), 1 for booleans
    and for floats within 0..1; other types are read as 0..255 unless they exceed 255, then as 16-bit.
    """
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        return 65535.0
    if arr.dtype.kind == "b":
        return 1.0
    peak = float(arr.max(initial=0))
    if arr.dtype.kind == "f" and peak <= 1.0:
        return 1.0
    return 65535.0 if peak > 255 else 255.0


def _from_array(arr: np.ndarray) -> Image.Image:
    """PIL image from an HxW, HxWx3 or HxWx4 array of any numeric type (scaled as `_to_uint8` says)."""
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(
            f"the image data has an unsupported shape {arr.shape}; "
            "expected height x width, with 3 or 4 colour channels or none"
        )
    _check_pixels(arr.shape[1], arr.shape[0])
    return Image.fromarray(_to_uint8(arr))


def _read_bytes(source: bytes | str | os.PathLike | BinaryIO) -> bytes:
    """All bytes of `source`, refusing more than `MAX_BYTES`."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | os.PathLike):
        data = _read_path(source)
    else:
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageError(_too_big_message())
    if not data:
        raise ImageError("the file is empty")
    return data


def _read_path(path: str | os.PathLike) -> bytes:
    """Up to `MAX_BYTES` + 1 bytes of the file at `path`; errors never name the path.

    Raises:
        ImageError: The file is missing, unreadable (a folder, no permission, an invalid name) or too large.
    """
    try:
        if os.path.getsize(path) <= MAX_BYTES:
            with open(path, "rb") as f:
                return f.read(MAX_BYTES + 1)
    except FileNotFoundError as e:
        raise ImageError("the file could not be found") from e
    except (OSError, ValueError) as e:
        raise ImageError("the file could not be read") from e
    raise ImageError(_too_big_message())


def _too_big_message() -> str:
    mib = MAX_BYTES / (1024 * 1024)
    limit = f"{mib:g} MB" if mib >= 1 else f"{math.ceil(MAX_BYTES / 1024)} KB"
    return f"the file is larger than {limit}; please upload a smaller image"


def _decode(data: bytes, min_size: tuple[int, int] | None) -> Image.Image:
    """Open allowlisted formats, check the size to decode, decode the first frame, apply EXIF orientation.

    A JPEG that the caller wants smaller (`min_size`) decodes in draft mode, at 1/2, 1/4 or 1/8 of its size
    straight from the DCT: the pixel cap then applies to that size, so a 48-150 MP photo works while
    a header that declares billions of pixels is still refused before any pixel is decoded.
    """
    draft = min_size is not None and data.startswith(b"\xff\xd8\xff")
    try:
        with warnings.catch_warnings():
            # Pillow warns past ~89 MP and refuses past ~179 MP; a JPEG in draft mode is checked on its draft size
            warnings.simplefilter("ignore" if draft else "error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            declared = img.size
            if not (draft and img.format == "JPEG"):
                _check_pixels(img.width, img.height, _pixel_cap(img))
            img.seek(0)  # first frame of an animation
            method = _transpose_method(img)
            stored = None if min_size is None else _stored_size(min_size, method)
            if stored is not None and img.format == "JPEG":
                img.draft(img.mode, stored)  # DCT scaling: 1/2, 1/4 or 1/8 while still covering `stored`
                _check_pixels(img.width, img.height, _pixel_cap(img), declared)
            img.load()
            small = _shrink(img, stored)
            if method is not None:
                return small.transpose(method)
            return small if small is not img else img.copy()
    except ImageError:  # a ValueError with its own message: not "corrupt"
        raise
    except UnidentifiedImageError as e:  # no allowlisted plugin accepted the header
        raise ImageError(_unidentified_message(data)) from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        counted = re.search(r"\((\d+) pixels\)", str(e))  # Pillow's message gives the declared pixel count
        raise ImageError(_too_many_pixels_message(pixels=int(counted.group(1)) if counted else None)) from e
    except (OSError, ValueError, EOFError, SyntaxError) as e:  # Pillow raises SyntaxError for broken chunks
        raise ImageError(_CORRUPT) from e


def _unidentified_message(data: bytes) -> str:
    """Why Pillow could not open `data`: cut short if it starts like an allowlisted format, else unsupported."""
    if data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return _CORRUPT
    formats = ", ".join(f.lower() for f in ALLOWED_FORMATS)
    return f"this file is not an image in a supported format ({formats})"


def _transpose_method(img: Image.Image) -> Image.Transpose | None:
    """The transpose that shows `img` upright, as its EXIF (or XMP) Orientation tag says; None if it is.

    Unlike `ImageOps.exif_transpose`, this does not re-serialise the EXIF block, which raises
    `struct.error` or `TypeError` on a malformed tag that Pillow could still read.
    """
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    return _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None


def _stored_size(min_size: tuple[int, int], method: Image.Transpose | None) -> tuple[int, int]:
    """`min_size` (upright width, height) in the file's stored frame: swapped when the image is turned 90°."""
    width, height = (max(1, int(v)) for v in min_size)
    return (height, width) if method in _SWAPS_AXES else (width, height)


def _shrink(img: Image.Image, stored: tuple[int, int] | None) -> Image.Image:
    """`img` box-averaged by the largest whole factor that keeps it at least twice `stored`, or `img` itself.

    Twice, not once: the caller's resize then still antialiases, so results match a full-size decode closely.
    Palette and 1-bit images are converted first (averaging palette indices would mix unrelated colours);
    32-bit modes are left alone: their scaling to 8 bits depends on the whole image's range.
    """
    if stored is None:
        return img
    factor = min(img.width // (2 * stored[0]), img.height // (2 * stored[1]))
    if factor < 2 or img.mode not in _SHRINKABLE:
        return img
    if img.mode in _CONVERT_BEFORE_SHRINK:
        img = _CONVERT_BEFORE_SHRINK[img.mode](img)
    return img.resize((-(-img.width // factor), -(-img.height // factor)), Image.Resampling.BOX)


def _flat_palette(img: Image.Image) -> Image.Image:
    """A transparent palette image in RGB, each palette entry blended onto white by its own alpha.

    The same pixels as `to_rgb`'s composite, without its full-size RGBA copies.
    """
    palette = img.getpalette() or []
    alpha = [255] * (len(palette) // 3)
    transparency = img.info.pop("transparency")
    if isinstance(transparency, int) and transparency < len(alpha):
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        alpha[: len(transparency)] = transparency[: len(alpha)]
    flat = []
    for i, channel in enumerate(palette):
        a = alpha[i // 3]
        flat.append(round((channel * a + _BACKGROUND[i % 3] * (255 - a)) / 255))
    img.putpalette(flat)
    return img.convert("RGB")


def _pixel_cap(img: Image.Image) -> int:
    """How many pixels `img` may declare: fewer for the formats and modes that cost twice as much to decode."""
    wide = img.mode in _WIDE_MODES or img.format == "WEBP"
    return min(MAX_PIXELS, MAX_PIXELS_WIDE) if wide else MAX_PIXELS


def _check_pixels(width: int, height: int, cap: int | None = None, declared: tuple[int, int] | None = None) -> None:
    """Refuse `width` x `height` (the size that would be decoded) above `cap`; the message gives `declared`."""
    cap = MAX_PIXELS if cap is None else cap
    if width < 1 or height < 1:
        raise ImageError("the image has no pixels")
    if width * height > cap:
        raise ImageError(_too_many_pixels_message(cap, size=declared or (width, height)))


def _millions(pixels: int) -> str:
    return f"{pixels / 1_000_000:,.0f} million" if pixels >= 1_000_000 else f"{pixels:,}"


def _too_many_pixels_message(
    cap: int | None = None, *, size: tuple[int, int] | None = None, pixels: int | None = None
) -> str:
    """Why an image is refused, with its size when known (`size` = width, height, or a pixel count)."""
    cap = MAX_PIXELS if cap is None else cap
    limit = f"{cap / 1_000_000:g} million" if cap >= 1_000_000 else f"{cap:,}"
    if size is not None:
        pixels = size[0] * size[1]
        return (
            f"the image is {size[0]} × {size[1]} pixels ({_millions(pixels)}), more than {limit} pixels; "
            "please upload a smaller image"
        )
    if pixels is not None:
        return f"the image has {_millions(pixels)} pixels, more than {limit} pixels; please upload a smaller image"
    return f"the image has more than {limit} pixels; please upload a smaller image"
