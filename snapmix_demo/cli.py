"""Command line over the pair pipeline: `python -m snapmix_demo IMAGE_A IMAGE_B --out DIR`.

`--method NAME` mixes the pair with another method of `MIXES` (`mixes.registry`; its own parameters as
`--param NAME=VALUE`), `--method all` with every method at once (`lab.compare_mixes`), `--mask-a`/`--mask-b`
give the images' object masks for the truth; without them, SnapMix writes what the app offers for download,
as it always has.
"""

import argparse
import io
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from snapmix_demo.backbones import BACKBONES
from snapmix_demo.errors import InputError, UserError
from snapmix_demo.exports import originals, result_files
from snapmix_demo.inputs import SEED_DIGITS, box_value, digits, seed_value
from snapmix_demo.lab import MixComparison, MixPair, compare_mixes, mix_pair
from snapmix_demo.mixes import MIXES
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.pipeline import DEFAULT_BACKBONE, snapmix_pair
from snapmix_demo.render import COLORMAPS
from snapmix_demo.weights import WEIGHT_CHOICES

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _seed(text: str) -> int:
    """A seed in plain digits (argparse's `int` would take `1_0` and ` 12 `)."""
    try:
        return seed_value(digits(text, "--seed", max_digits=SEED_DIGITS))
    except InputError as e:
        raise argparse.ArgumentTypeError(e.problem) from None


def _box(text: str) -> tuple[int, int, int, int]:
    """A box as `snapmix_pair` reads it: four numbers separated by commas and/or spaces, optionally in brackets."""
    try:
        box = box_value(text, "box")
    except InputError as e:
        raise argparse.ArgumentTypeError(e.problem) from None
    if box is None:
        raise argparse.ArgumentTypeError("must be four whole numbers, top, left, bottom, right")
    return box


def _opacity(text: str) -> float:
    """An overlay opacity from 0 to 1."""
    try:
        alpha = float(text)
    except ValueError:
        alpha = float("nan")
    if not 0.0 <= alpha <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got '{text[:40]}'")
    return alpha


def _param(text: str) -> tuple[str, object]:
    """A method's own parameter, `NAME=VALUE`: a number, or a pair of them as `7,7`; the method checks its range."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE, e.g. top_k=3, got '{text[:40]}'")
    parts = [p for p in value.replace(",", " ").split() if p]
    numbers = [_number(p) for p in parts]
    return name.strip(), numbers[0] if len(numbers) == 1 else tuple(numbers)


def _number(text: str) -> object:
    """An int for plain digits, else a float; text that is neither is passed on for the method to refuse."""
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text[:40]


def _option(field: str, params: tuple[str, ...] = ()) -> str:
    """How the command line names a `snapmix_pair` argument, or a method's own parameter (`--param NAME`)."""
    if field in params:
        return f"--param {field}"
    return field.upper() if field.startswith("image_") else "--" + field.replace("_", "-")


def _write(out: Path, files: dict[str, bytes]) -> None:
    """Create `out` (and parents) and write the files into it; an OSError says which path failed."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m snapmix_demo",
        description=(
            "SnapMix two images: writes what the app offers for download: result.json, both CAM overlays and the "
            "mixed image in the model-input frame and at the images' own resolution (*_full.png), and both maps (.npy)."
        ),
    )
    p.add_argument("image_a", type=Path, help="image that receives the patch")
    p.add_argument("image_b", type=Path, help="image the patch is cut from")
    p.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        choices=sorted(BACKBONES),
        metavar="NAME",
        help=f"one of: {', '.join(sorted(BACKBONES))} (default: %(default)s)",
    )
    p.add_argument("--mode", default="default", choices=PATCH_MODES, help="patch mode (default: %(default)s)")
    p.add_argument("--weights", default="auto", choices=WEIGHT_CHOICES, help="weights (default: %(default)s)")
    p.add_argument(
        "--checkpoint", type=Path, default=None, metavar="PATH", help="your fine-tuned checkpoint of --backbone"
    )
    p.add_argument("--classes", type=Path, default=None, metavar="FILE", help="its class names, one per line")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the box generator (default: %(default)s)")
    p.add_argument(
        "--beta",
        type=float,
        default=None,
        help="Beta(beta, beta) of the box sizes (default: 5.0, SnapMix's); with --method, that method's beta",
    )
    _lab_options(p)
    p.add_argument("--target-a", default=None, help="class of A: index or name (default: predicted)")
    p.add_argument("--target-b", default=None, help="class of B: index or name (default: predicted)")
    p.add_argument(
        "--box-a",
        type=_box,
        default=None,
        metavar="T,L,B,R",
        help="explicit box in A (model-input pixels, e.g. 10,20,110,120)",
    )
    p.add_argument("--box-b", type=_box, default=None, metavar="T,L,B,R", help="explicit box in B")
    p.add_argument("--cmap", default="jet", choices=COLORMAPS, help="colormap of the overlays (default: %(default)s)")
    p.add_argument("--alpha", type=_opacity, default=0.5, help="overlay opacity in [0, 1] (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("snapmix_out"), help="output folder (default: %(default)s)")
    return p


def _lab_options(p: argparse.ArgumentParser) -> None:
    """The mixing lab's options: another method (or all of them), its own parameters, the images' object masks."""
    p.add_argument(
        "--method",
        default="snapmix",
        metavar="NAME",
        help=f"mixing method, or `all` for every one (default: %(default)s): {', '.join(MIXES)}",
    )
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of --method, e.g. top_k=3 or grid=7,7 (repeatable)",
    )
    p.add_argument(
        "--mask-a",
        type=Path,
        default=None,
        metavar="PATH",
        help="A's object mask (a picture of A's shape, white = the object): each weight's truth (with --mask-b)",
    )
    p.add_argument("--mask-b", type=Path, default=None, metavar="PATH", help="B's object mask, likewise")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one pair and write its files; bad input gives a one-line message and exit code 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():  # checked before the model runs; writing checks the rest
        parser.exit(2, f"{parser.prog}: error: --out: {args.out} exists and is not a folder\n")
    lab = args.method != "snapmix" or args.param or args.mask_a or args.mask_b  # the truth is the lab's
    # a method's own parameter is `--param NAME`, except beta given as --beta
    own = {p.name for spec in MIXES.values() for p in spec.params if p.name != "beta"} | {n for n, _ in args.param}
    try:
        files, lines = _lab(args) if lab else _snapmix(args)
    except InputError as e:
        parser.exit(2, f"{parser.prog}: error: {_option(e.field, tuple(own) if lab else ())}: {e.problem}\n")
    except (OSError, UserError) as e:  # an unreadable file; ImageError, DownloadError, a checkpoint that does not fit
        parser.exit(2, f"{parser.prog}: error: {_reason(e)}\n")
    except Exception:  # a ValueError from numpy or torch included: ours to fix, not the user's input
        logger.exception("internal error while running the pair")
        parser.exit(1, f"{parser.prog}: internal error (not a problem with the input); the details are above\n")
    try:
        _write(args.out, files)
    except OSError as e:
        parser.exit(2, f"{parser.prog}: error: --out: {_reason(e)}\n")
    print("\n".join(lines))
    return 0


def _shared(args: argparse.Namespace) -> dict[str, object]:
    """The arguments SnapMix and the lab take alike: the model, the seed, the targets and the boxes."""
    names = ("backbone", "mode", "weights", "checkpoint", "classes", "seed", "target_a", "target_b", "box_a", "box_b")
    return {name: getattr(args, name) for name in names}


def _snapmix(args: argparse.Namespace) -> tuple[dict[str, bytes], list[str]]:
    """SnapMix's files (what the app offers for download) and its one summary line."""
    data = (args.image_a.read_bytes(), args.image_b.read_bytes())
    res = snapmix_pair(*data, **_shared(args), beta=5.0 if args.beta is None else args.beta)
    names = (args.image_a.name, args.image_b.name)
    files = result_files(res, cmap=args.cmap, alpha=args.alpha, names=names, originals=originals(data))
    line = (
        f"rho_a={res.rho_a:.4f} ({res.label_a})  rho_b={res.rho_b:.4f} ({res.label_b})  "
        f"area_lambda={res.area_lambda:.4f}  weights: {res.weights}  -> {args.out}"
    )
    return files, [line]


def _lab(args: argparse.Namespace) -> tuple[dict[str, bytes], list[str]]:
    """`--method NAME` (or `all`, or object masks): the mixing lab's files and a line per method."""
    params = dict(args.param)
    if args.beta is not None:
        params.setdefault("beta", args.beta)
    shared = _shared(args)
    data = (args.image_a.read_bytes(), args.image_b.read_bytes())
    if args.mask_a or args.mask_b:
        shared["objects"] = tuple(None if m is None else m.read_bytes() for m in (args.mask_a, args.mask_b))
    if args.method == "all":
        if args.param:
            raise InputError("param", "give a method's own parameters with one --method NAME, not with `all`")
        res = compare_mixes(*data, beta=params.get("beta", 5.0), **shared)
    else:
        res = mix_pair(*data, method=args.method, **shared, **params)
    files = _lab_files(res, (args.image_a.name, args.image_b.name))
    pairs = res.pairs.values() if isinstance(res, MixComparison) else [res]
    lines = []
    for pair in pairs:
        truth = (
            ""
            if pair.true_a is None and pair.true_b is None
            else f"  truth: {_share(pair.true_a)} / {_share(pair.true_b)}"
        )
        lines.append(
            f"{pair.method}: rho_a={pair.rho_a:.4f} ({pair.label_a})  rho_b={pair.rho_b:.4f} ({pair.label_b}){truth}"
        )
    lines.append(f"weights: {res.first.weights if isinstance(res, MixComparison) else res.weights}  -> {args.out}")
    return files, lines


def _share(truth: float | None) -> str:
    """A true share as printed: B's clipped at 1 (an enlarged crop counts once), `none` where no object is."""
    return "none" if truth is None else f"{min(truth, 1.0):.4f}"


def _lab_files(res: MixPair | MixComparison, names: tuple[str, str]) -> dict[str, bytes]:
    """The lab's files: `mixed.png`, `mask.png` (B's share, white = all B) and `result.json` for one method.

    For `all`: each method's `mixed_<method>.png` and `mask_<method>.png`, and `comparison.json`.
    """
    inputs = {"image_a": names[0], "image_b": names[1]}
    if isinstance(res, MixPair):
        facts = {**res.to_dict(), "inputs": inputs}
        return {"mixed.png": _png(res.mixed), "mask.png": _mask_png(res), "result.json": _json(facts)}
    files = {}
    for name, pair in res.pairs.items():
        files[f"mixed_{name}.png"] = _png(pair.mixed)
        files[f"mask_{name}.png"] = _mask_png(pair)
    files["comparison.json"] = _json({**res.to_dict(), "inputs": inputs})
    return files


def _png(img) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _mask_png(pair: MixPair) -> bytes:
    from PIL import Image

    return _png(Image.fromarray((pair.mask * 255).round().astype("uint8"), mode="L"))


def _json(facts: dict) -> bytes:
    return (json.dumps(facts, indent=2, allow_nan=False) + "\n").encode()


def _reason(e: Exception) -> str:
    """One line for an error: an OSError's reason and file name, else the message."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror} ({e.filename})" if e.filename else e.strerror
    return " ".join(str(e).split())


if __name__ == "__main__":
    sys.exit(main())
