"""Assemble exactly the files a Hugging Face Space needs: `python -m scripts.spaces DEST [--gpu]`.

A Gradio Space reads its metadata from the README's front matter, installs `requirements.txt`
with pip and runs `app.py` with GRADIO_SERVER_NAME=0.0.0.0; `docs/` holds the README's pictures.
Everything else (tests, benchmarks, set-up scripts) stays out. On CPU hardware the requirements
gain one line, PyTorch's CPU index, so the Space installs the ~200 MB CPU build of torch instead of PyPI's
CUDA build and its several GB of `nvidia-*` packages. That line lives only in the Space's copy:
in the repository's `requirements.txt` it would give GPU machines the CPU build, and where the
index is unreachable (these machines) pip would retry it for every package.

Only files that git tracks are copied (with their working-tree content), so nothing ignored or
untracked (caches, venvs, outputs) can reach the Space. Deploy the folder with
`hf upload USER/SPACE DEST . --repo-type space --delete "*"` (README: Hugging Face Spaces).
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.torch_choice import CPU_INDEX

__all__ = ["CPU_LINE", "SPACE_PATHS", "build", "space_files", "space_requirements"]

ROOT = Path(__file__).resolve().parent.parent
SPACE_PATHS = ("README.md", "app.py", "requirements.txt", "snapmix_demo", "assets", "docs")  # docs: README images
CPU_LINE = f"--extra-index-url {CPU_INDEX}"


def space_files(root: Path = ROOT) -> list[str]:
    """The tracked files under SPACE_PATHS, relative to `root`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *SPACE_PATHS], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (root / name).is_file())


def space_requirements(pins: str, *, gpu: bool = False) -> str:
    """The Space's requirements.txt: the repository's pins, after the CPU index line unless the Space has a GPU."""
    if gpu:
        return pins
    return f"# CPU hardware: the CPU build of torch (`python -m scripts.spaces --gpu`: none)\n{CPU_LINE}\n{pins}"


def build(dest: Path, *, root: Path = ROOT, gpu: bool = False) -> list[str]:
    """Write the Space's files into the empty or new folder `dest`; returns their relative paths."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"`{dest}` is not empty; give a new or empty folder, so that no stale file is deployed")
    files = space_files(root)
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, dest / name)
    (dest / "requirements.txt").write_text(space_requirements((root / "requirements.txt").read_text(), gpu=gpu))
    return files


def main(argv: list[str] | None = None) -> int:
    """Build the Space's folder; a non-empty destination gives a one-line error and exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m scripts.spaces", description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="new or empty folder to write the Space's files into")
    parser.add_argument("--gpu", action="store_true", help="GPU hardware: keep PyPI's CUDA build of torch")
    args = parser.parse_args(argv)
    try:
        files = build(args.dest, gpu=args.gpu)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(files)} files in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
