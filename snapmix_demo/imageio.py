"""Safe decoding of untrusted images into RGB.

Uploads come from anyone: decode only allowlisted formats, check the declared pixel
count before decoding any pixel data, show EXIF-rotated photos upright, and turn every
mode (16-bit, palette, alpha, CMYK) into 8-bit RGB. Failures raise `ImageError`
with a message fit to show a user.
"""

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ALLOWED_FORMATS", "MAX_BYTES", "MAX_PIXELS", "ImageError", "ImageSource", "load_image", "to_rgb"]

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
MAX_BYTES = 20 * 1024 * 1024  # 20 MiB per file
MAX_PIXELS = 40_000_000  # declared width * height, checked before decoding
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white

ImageSource = Image.Image | np.ndarray | bytes | str | os.PathLike | BinaryIO


class ImageError(ValueError):
    """An input that is not a usable image; the message is meant for the user."""


def load_image(source: ImageSource) -> Image.Image:
    """Decode `source` (PIL image, HxW[x3|4] uint8 array, bytes, path or file) into an upright RGB image."""
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height)
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        return to_rgb(_from_array(source))
    data = _read_bytes(source)
    return to_rgb(_decode(data))


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
    """Scale a 16-bit or float single-channel array to 0..255."""
    arr = arr.astype(np.float64)
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    return np.clip(arr * (255.0 / top), 0, 255).round().astype(np.uint8)


def _from_array(arr: np.ndarray) -> Image.Image:
    """PIL image from an HxW, HxWx3 or HxWx4 array."""
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"expected an image array of shape HxW, HxWx3 or HxWx4, got {arr.shape}")
    _check_pixels(arr.shape[1], arr.shape[0])
    if arr.dtype != np.uint8:
        arr = _to_uint8(arr) if arr.ndim == 2 else np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _read_bytes(source: bytes | str | os.PathLike | BinaryIO) -> bytes:
    """All bytes of `source`, refusing more than `MAX_BYTES`."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | os.PathLike):
        if os.path.getsize(source) > MAX_BYTES:
            raise ImageError(_too_big_message())
        with open(source, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    else:
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageError(_too_big_message())
    if not data:
        raise ImageError("the file is empty")
    return data


def _too_big_message() -> str:
    return f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB; please upload a smaller image"


def _decode(data: bytes) -> Image.Image:
    """Open allowlisted formats, check the declared size, decode the first frame, apply EXIF orientation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            _check_pixels(img.width, img.height)
            img.seek(0)  # first frame of an animation
            img.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, SyntaxError) as e:
        formats = ", ".join(f.lower() for f in ALLOWED_FORMATS)
        raise ImageError(f"this file is not an image in a supported format ({formats})") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(_too_many_pixels_message()) from e
    except (OSError, ValueError, EOFError) as e:
        raise ImageError("the image file is truncated or corrupt and could not be decoded") from e
    return ImageOps.exif_transpose(img)


def _check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageError("the image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message())


def _too_many_pixels_message() -> str:
    return f"the image has more than {MAX_PIXELS // 1_000_000} million pixels; please upload a smaller image"
