"""The files a result offers for download, under the names people expect (`exports.result_files`).

Each rendering of a result writes them into a fresh folder under `server.RESULTS_DIR` (Gradio copies
them into its own cache and serves them under these names); only the newest `KEEP_RESULT_FOLDERS`
folders are kept.
"""

import shutil
import tempfile
from pathlib import Path

from snapmix_demo.app.serving.server import RESULTS_DIR

__all__ = ["KEEP_RESULT_FOLDERS", "write_result_files"]

KEEP_RESULT_FOLDERS = 64


def write_result_files(contents: dict[str, bytes]) -> dict[str, str]:
    """Write one rendering's files into a new folder; their paths by file name, in download order."""
    folder = Path(tempfile.mkdtemp(prefix="r-", dir=RESULTS_DIR))
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    _rotate()
    return {name: str(folder / name) for name in contents}


def _rotate() -> None:
    """Remove all but the newest `KEEP_RESULT_FOLDERS` result folders."""
    folders = sorted((p for p in RESULTS_DIR.glob("r-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in folders[:-KEEP_RESULT_FOLDERS]:
        shutil.rmtree(old, ignore_errors=True)
