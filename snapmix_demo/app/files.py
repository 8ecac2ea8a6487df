"""The files a result offers for download, under the names people expect.

Each rendering of a result writes `result.json`, `cam_a.png`, `cam_b.png`, `mixed.png`, `spm_a.npy`
and `spm_b.npy` into a fresh folder under `server.RESULTS_DIR` (Gradio copies them into its own cache
and serves them under these names); only the newest `KEEP_RESULT_FOLDERS` folders are kept.
"""

import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from snapmix_demo.app.server import RESULTS_DIR
from snapmix_demo.pipeline import PairResult

__all__ = ["KEEP_RESULT_FOLDERS", "write_result_files"]

KEEP_RESULT_FOLDERS = 64


def _npy(spm: np.ndarray | None, shape: tuple[int, int]) -> bytes:
    """The map as a float32 .npy; a flat (degenerate) map has no SPM and is saved as NaNs."""
    buffer = io.BytesIO()
    np.save(buffer, spm if spm is not None else np.full(shape, np.nan, np.float32))
    return buffer.getvalue()


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def write_result_files(res: PairResult, cam_a: Image.Image, cam_b: Image.Image, mixed: Image.Image) -> dict[str, str]:
    """Write the six files of one rendering into a new folder; their paths by file name, in download order."""
    folder = Path(tempfile.mkdtemp(prefix="r-", dir=RESULTS_DIR))
    shape = (res.image_a.height, res.image_a.width)
    contents = {
        "result.json": (json.dumps(res.to_dict(), indent=2) + "\n").encode(),
        "cam_a.png": _png(cam_a),
        "cam_b.png": _png(cam_b),
        "mixed.png": _png(mixed),
        "spm_a.npy": _npy(res.spm_a, shape),
        "spm_b.npy": _npy(res.spm_b, shape),
    }
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    _rotate()
    return {name: str(folder / name) for name in contents}


def _rotate() -> None:
    """Remove all but the newest `KEEP_RESULT_FOLDERS` result folders."""
    folders = sorted((p for p in RESULTS_DIR.glob("r-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in folders[:-KEEP_RESULT_FOLDERS]:
        shutil.rmtree(old, ignore_errors=True)
