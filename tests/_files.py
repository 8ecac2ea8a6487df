"""Image files built in memory for the decoding tests: encoders and headers that lie about their size."""

import io
import struct
import zlib

from PIL import Image


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    """`img` saved in format `fmt`, as bytes."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid 4x4 PNG whose IHDR is patched to declare `width` x `height` (CRC recomputed)."""
    data = bytearray(encode(Image.new("RGB", (4, 4), (255, 0, 0)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """A valid 4x4 GIF whose logical screen and first frame are patched to `width` x `height`."""
    data = bytearray(encode(Image.new("P", (4, 4), 1), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    frame = data.index(b",")  # image descriptor: ',' x y width height
    data[frame + 5 : frame + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A valid 8x8 baseline JPEG whose frame header (SOF0) is patched to declare `width` x `height`."""
    data = bytearray(encode(Image.new("RGB", (8, 8), (255, 0, 0)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
