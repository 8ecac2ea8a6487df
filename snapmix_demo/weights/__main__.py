"""`python -m snapmix_demo.weights fetch [--export] [NAME ...]`: weights (and engine exports) ahead of time."""

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from snapmix_demo.backbones import BACKBONES, BackboneSpec, get_spec
from snapmix_demo.errors import excerpt
from snapmix_demo.weights import DownloadError, cached_backbone, fetch_imagenet, hub_path

__all__ = ["main"]


class _Bar:
    """A tqdm byte counter that appears only once bytes flow (packaged and cached weights print one line)."""

    def __init__(self, name: str):
        self.name, self.bar = name, None

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc=self.name, total=total, unit="B", unit_scale=True, unit_divisor=1024)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _export(spec: BackboneSpec) -> int:
    """Build (or find cached) the ONNX Runtime export of the model the app runs for `spec`; 1 if that failed."""
    from snapmix_demo.engine import ensure_export  # the engine sits above the weights: imported only here

    name = spec.name
    bb = cached_backbone(spec)
    try:
        _, path, built = ensure_export(bb.model, name, bb.spec.input_size)
    except Exception as e:  # any exporter failure: the app then runs this backbone on eager PyTorch
        print(f"{name}: export failed ({type(e).__name__}: {e}); the app runs it on eager PyTorch", file=sys.stderr)
        return 1
    print(f"{name}: ONNX export {'built' if built else 'already cached'} for {bb.weights.source} ({path})")
    return 0


def _failed(spec: BackboneSpec, error: DownloadError, where: Path) -> str:
    """Why a fetch failed and what to do, without suggesting the command that was just run (issue 21)."""
    if os.environ.get("SNAPMIX_OFFLINE") == "1":
        return (
            "not downloaded: SNAPMIX_OFFLINE=1 switches downloads off on this machine. Unset it to download, or "
            f"copy {hub_path(spec).name} from a machine that has it into {where}"
        )
    return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Download ImageNet weights (and with --export build exports) ahead of time; exit 1 if any of it failed."""
    where = Path(torch.hub.get_dir()) / "checkpoints"
    about = (
        f"Fetch ImageNet weights into the torch hub cache, $TORCH_HOME/hub/checkpoints (here: {where}), "
        "verified against the sha256 prefix in each file name, so that the app and the CLI work offline. "
        "SNAPMIX_WEIGHTS_MIRROR=URL downloads URL/<file name> instead."
    )
    parser = argparse.ArgumentParser(prog="python -m snapmix_demo.weights", description=about)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download the ImageNet weights of NAME (default: every backbone)")
    fetch.description = about
    fetch.add_argument(
        "--export",
        action="store_true",
        help="also build each backbone's ONNX Runtime export (SNAPMIX_ENGINE) for the weights the app uses, "
        "cached beside them (needs onnxruntime: the [fast] extra)",
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help=f"one or more of: {', '.join(sorted(BACKBONES))}")
    args = parser.parse_args(argv)
    if unknown := [n for n in args.names if n not in BACKBONES]:
        parser.error(f"unknown backbone `{excerpt(unknown[0])}`; choose from: {', '.join(sorted(BACKBONES))}")
    if args.export and importlib.util.find_spec("onnxruntime") is None:
        parser.error("--export needs onnxruntime: pip install 'snapmix-demo[fast]' (or -r requirements.txt)")
    failed = 0
    for name in args.names or sorted(BACKBONES):
        spec, bar = get_spec(name), _Bar(name)
        try:
            how = fetch_imagenet(spec, progress=bar)
        except DownloadError as e:
            failed += 1
            print(f"{name}: {_failed(spec, e, where)}", file=sys.stderr)
            continue
        finally:
            bar.close()
        print(f"{name}: {how} ({f'in {spec.package.distribution}' if how == 'packaged' else hub_path(spec)})")
        failed += _export(spec) if args.export else 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
