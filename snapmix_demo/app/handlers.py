"""Event handlers: translate between the widgets and the core (`snapmix_pair`, `render`); no layout, no math.

Known input errors become a short `gr.Error`; anything else is logged and the user sees a
generic message.
"""

import functools
import hashlib
import json
import logging
from collections.abc import Callable

import gradio as gr
import torch

from snapmix_demo.app.server import RESULTS_DIR
from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.patches import accessor_source
from snapmix_demo.pipeline import PairResult, snapmix_pair
from snapmix_demo.render import mixed_view, overlays, weights_html
from snapmix_demo.weights import available_weights, weights_classes

__all__ = [
    "MODE_NOTES",
    "PREDICTED",
    "backbone_choices",
    "class_choices",
    "on_backbone",
    "on_display",
    "on_mode",
    "on_new_boxes",
    "on_run",
    "on_weights",
    "patch_source",
    "run_pair",
    "user_errors",
]

logger = logging.getLogger(__name__)

PREDICTED = "predicted"
MODE_NOTES = {
    "default": "**default**: a plain method, bound to the *instance*: `model.get_fc()` returns the final Linear.",
    "cls_method": (
        "**cls_method**: bound to the *class*, so it can only state a class-level fact: `type(model).fc_path()` "
        "gives the Linear's dotted path, resolved with `model.get_submodule(path)`."
    ),
    "as_prop": "**as_prop**: a read-only *property* of the instance, read without parentheses: `model.fc_layer`.",
}
KEEP_RESULT_FILES = 64


# ## Translating errors


def user_errors(fn: Callable) -> Callable:
    """Turn the core's ValueErrors into `gr.Error`; log anything else and show a generic message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as e:  # includes ImageError
            raise gr.Error(_sentence(str(e)), print_exception=False) from None
        except Exception:
            logger.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on our side; it has been logged. Please try again.") from None

    return wrapper


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# ## Choices that follow the backbone and its weights


def backbone_choices() -> list[tuple[str, str]]:
    """Dropdown entries grouped by library: (shown label, registry key)."""
    specs = sorted(BACKBONES.values(), key=lambda s: (s.source, s.name))
    return [(f"{s.source} · {s.name}", s.name) for s in specs]


def class_choices(backbone: str, weights: str) -> list[str]:
    """Target-class choices for a backbone with given weights: "predicted", then its class names."""
    return [PREDICTED, *weights_classes(backbone, weights)]


def patch_source(backbone: str, mode: str) -> str:
    """Source of the patch that `mode` uses on `backbone`'s class."""
    return accessor_source(_model_class(backbone), mode)


@functools.cache
def _model_class(backbone: str) -> type:
    """The upstream class behind `backbone` (built once on the meta device: no weights, no memory)."""
    with torch.device("meta"):
        return type(get_spec(backbone).builder(num_classes=1))


def on_backbone(backbone: str):
    """New backbone: its available weights, class lists and patch source."""
    kinds = available_weights(backbone)
    classes = class_choices(backbone, kinds[0])
    return (
        gr.Radio(choices=kinds, value=kinds[0]),
        gr.Dropdown(choices=classes, value=PREDICTED),
        gr.Dropdown(choices=classes, value=PREDICTED),
    )


def on_weights(backbone: str, weights: str):
    """New weights: the class lists follow them."""
    classes = class_choices(backbone, weights)
    return gr.Dropdown(choices=classes, value=PREDICTED), gr.Dropdown(choices=classes, value=PREDICTED)


def on_mode(backbone: str, mode: str):
    """The source of the patch this mode uses on this backbone's class, and what the mode binds."""
    return gr.Code(value=patch_source(backbone, mode)), MODE_NOTES[mode]


# ## Running the pipeline


def _parse_box(text: str | None, name: str) -> tuple[int, ...] | None:
    if text is None or not str(text).strip():
        return None
    try:
        return tuple(int(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        raise ValueError(f"{name} must be four integers: top, left, bottom, right (or empty to draw it)") from None


def _require(image, name: str):
    if image is None:
        raise gr.Error(f"Please provide {name}: upload or paste an image, or pick an example.", print_exception=False)
    return image


def run_pair(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b) -> PairResult:
    """`snapmix_pair` on widget values: images required, boxes and seed parsed from what the user typed."""
    return snapmix_pair(
        _require(image_a, "Image A"),
        _require(image_b, "Image B"),
        backbone=backbone,
        weights=weights or "auto",
        mode=mode,
        target_a=target_a,
        target_b=target_b,
        beta=float(beta),
        seed=_seed(seed),
        box_a=_parse_box(box_a, "Box A"),
        box_b=_parse_box(box_b, "Box B"),
    )


def _seed(seed) -> int:
    if seed is None or float(seed) != int(float(seed)):
        raise ValueError(f"the seed must be a whole number, got {seed!r}")
    return int(float(seed))


def _status(res: PairResult) -> str:
    fallback = [s for s, flag in (("A", res.fallback_a), ("B", res.fallback_b)) if flag]
    flat = f"flat CAM of {' and '.join(fallback)}: area weights used" if fallback else "none"
    reused = "model run" if res.forward_passes else "CAMs reused from cache"
    warning = " ⚠️" if res.weights_kind == "random" else ""
    return (
        f"<div><b>{res.backbone}</b> ({get_spec(res.backbone).source}) · mode <b>{res.mode}</b> · "
        f"weights{warning}: {res.weights} · fallback: {flat} · boxes of seed {res.seed}, beta {res.beta:g} · "
        f'<span class="timing">{res.timings["total"]:.0f} ms ({reused})</span></div>'
    )


def _result_file(res: PairResult) -> str:
    """Write `to_dict()` to a small rotating folder (Gradio copies it into its own cache)."""
    text = json.dumps(res.to_dict(), indent=2)
    path = RESULTS_DIR / f"snapmix-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text)
    for old in sorted(RESULTS_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEEP_RESULT_FILES]:
        old.unlink(missing_ok=True)
    return str(path)


@user_errors
def on_run(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b, cmap, alpha):
    """Run a pair; returns the state first, then every output widget."""
    res = run_pair(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b)
    cam_a, cam_b = overlays(res, cmap=cmap, alpha=float(alpha))
    return (
        res,
        cam_a,
        cam_b,
        mixed_view(res),
        weights_html(res),
        dict(res.topk_a),
        dict(res.topk_b),
        _status(res),
        _result_file(res),
    )


@user_errors
def on_display(res: PairResult | None, cmap: str, alpha: float):
    """Re-render the overlays with a new colormap or opacity, without running the model."""
    if res is None:
        return gr.skip(), gr.skip()
    return overlays(res, cmap=cmap, alpha=float(alpha))


def on_new_boxes(seed) -> int:
    """The next seed: new boxes from the same cached CAMs."""
    return (_seed(seed) + 1) % 2**31 if seed is not None else 1
