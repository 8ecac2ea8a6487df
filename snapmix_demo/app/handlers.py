"""Event handlers: translate between the widgets and the core (`snapmix_pair`, `render`, `explain`); no layout, no math.

Events that take the images get Gradio's raw payloads (`RAW`): `gr.Image` would otherwise open every
upload with PIL before any handler runs, so a text file renamed `.png` or a header that claims 20000 x
20000 pixels would fail inside Gradio, with a bare "Error" on every output. Raw, the uploaded file goes
to the core's `imageio.load_image`, and a number such as the seed arrives as sent (`gr.Number` would
round 1.5 to 2) for the core to validate.

A run that fails does not raise: raising would stamp a bare "Error" on every output panel. It
clears the results and shows the message instead, above them and in a toast. What is on screen is
kept in a `Shown` state with the control values it was computed from, so that any later change of
a control can be compared with it and the results marked out of date.
"""

import base64
import functools
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from snapmix_demo.app.explain import (
    alt_texts,
    banner_html,
    caption_html,
    error_html,
    mixed_caption_html,
    status_html,
    topk_html,
    weights_html,
)
from snapmix_demo.app.files import write_result_files
from snapmix_demo.app.serving.settings import checkpoint_uploads
from snapmix_demo.app.spread import box_spread, spread_png
from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.errors import InputError, UserError
from snapmix_demo.exports import originals, result_files
from snapmix_demo.imageio import MAX_BYTES
from snapmix_demo.inputs import beta_value, prob_value, seed_text
from snapmix_demo.patches import accessor_source
from snapmix_demo.pipeline import PairResult, snapmix_pair
from snapmix_demo.render import COLORMAPS
from snapmix_demo.weights import available_weights, fetch_imagenet, imagenet_status, weights_classes
from snapmix_demo.weights.user import checkpoint_head_size, class_list, class_names

__all__ = [
    "BETA_RANGE",
    "CHART_PLACEHOLDER",
    "CHECKPOINT",
    "CHECKPOINT_TYPES",
    "FIELD_LABELS",
    "LAST_SEED",
    "MODE_NOTES",
    "PREDICTED",
    "RAW",
    "RAW_VIEW",
    "REQUEST",
    "RESULT_OUTPUTS",
    "TOP_PLACEHOLDERS",
    "VIEWS",
    "Shown",
    "backbone_choices",
    "class_choices",
    "class_source",
    "default_weights",
    "display_options",
    "first_view",
    "image_source",
    "message_for",
    "on_auto",
    "on_backbone",
    "on_banner",
    "on_check",
    "on_class_file",
    "on_class_text",
    "on_classes",
    "on_display",
    "on_example",
    "on_mode",
    "on_new_boxes",
    "on_run",
    "on_spread",
    "on_weights",
    "own_model",
    "page_beta",
    "patch_source",
    "run_pair",
    "upload_path",
    "user_classes",
    "weights_choices",
]

logger = logging.getLogger(__name__)

PREDICTED = "predicted"
CHECKPOINT = "checkpoint"  # the weights choice "own checkpoint"
CHECKPOINT_TYPES = [".pth", ".pt", ".ckpt", ".bin", ".tar"]  # what torch.save writes under its usual names
RAW = {"preprocess": False}  # for events that take the images: see the module docstring
_MAX_DATA_URL_CHARS = (MAX_BYTES // 3 + 2) * 4  # base64 of one byte more than the decoder accepts
VIEWS = ("CAM overlay", "raw SPM")
BETA_RANGE = (0.1, 10.0)  # the beta slider's ends; the core takes any beta above 0
LAST_SEED = 2**63 - 1
RAW_VIEW = VIEWS[1]
CHART_PLACEHOLDER = "<div class='wnote'>Run SnapMix to see the label weights.</div>"
TOP_PLACEHOLDERS = {side: f"<div class='wnote'>The top-5 classes of {side} appear after a run.</div>" for side in "AB"}
GENERIC = "Something went wrong on our side; it has been logged. Please try again."
MODE_NOTES = {
    "default": "**default**: a plain method, bound to the *instance*: `model.get_fc()` returns the final Linear.",
    "cls_method": (
        "**cls_method**: bound to the *class*, so it can only state a class-level fact: `type(model).fc_path()` "
        "gives the Linear's dotted path, resolved with `model.get_submodule(path)`."
    ),
    "as_prop": "**as_prop**: a read-only *property* of the instance, read without parentheses: `model.fc_layer`.",
}
# What a run takes, by the page's component names (`run_pair`'s order), then the display options; and what
# it returns, in order.
REQUEST = (
    *("img_a", "img_b", "backbone", "weights", "mode", "target_a", "target_b", "beta", "seed", "box_a", "box_b"),
    *("checkpoint", "classes_file", "classes_text"),
)
RESULT_OUTPUTS = (
    "state",
    "banner",
    "cam_a",
    "caption_a",
    "cam_b",
    "caption_b",
    "mixed",
    "caption_mixed",
    "chart",
    "top_a",
    "top_b",
    "status",
    "downloads",
)
# The core's argument names, as the page labels those fields.
FIELD_LABELS = {
    "image_a": "Image A",
    "image_b": "Image B",
    "mode": "@patch_to mode",
    "target_a": "Class of A",
    "target_b": "Class of B",
    "beta": "beta",
    "seed": "Seed of the boxes",
    "cmap": "Colormap",
    "alpha": "Overlay opacity",
    "view": "CAM panels show",
    "box_a": "Box A",
    "box_b": "Box B",
    "checkpoint": "Checkpoint",
    "classes": "Class names",
}


@dataclass(frozen=True)
class Shown:
    """What the results area shows: a result or an error, and the control values it came from."""

    request: tuple
    result: PairResult | None = None
    error: str | None = None
    display: tuple | None = None  # the (cmap, alpha, view) it was drawn with, or failed on


# ## Messages


def message_for(error: Exception, labels: dict[str, str] = FIELD_LABELS) -> str:
    """A user-facing sentence for one of our `UserError`s; any other exception gets the generic message.

    An `InputError` is named by its field's label (else `field`).
    """
    if isinstance(error, InputError):
        text = f"{labels.get(error.field, f'`{error.field}`')}: {error.problem}"
    elif isinstance(error, UserError):
        text = str(error)
    else:  # not ours to word (a ValueError from numpy or torch too): the callers log it
        return GENERIC
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _toast(message: str) -> None:
    """A warning toast (raising `gr.Error` would mark every output panel "Error"); toasts render HTML: escaped."""
    gr.Warning(html.escape(message))


# ## Choices that follow the backbone and its weights


def backbone_choices() -> list[tuple[str, str]]:
    """Dropdown entries grouped by library: (shown label, registry key)."""
    specs = sorted(BACKBONES.values(), key=lambda s: (s.source, s.name))
    return [(f"{s.name} ({s.source})", s.name) for s in specs]


def weights_choices(backbone: str) -> list[tuple[str, str]]:
    """Weights radio entries: ImageNet (with its download size when it must be fetched), shapes, random, own.

    "own checkpoint" is offered unless the server turned checkpoint uploads off.
    """
    status = imagenet_status(backbone)
    imagenet = "ImageNet" if status != "download" else f"ImageNet (download, {get_spec(backbone).download_mb:.0f} MB)"
    kinds = [(imagenet, "imagenet")]
    if "shapes" in available_weights(backbone):
        kinds.append(("shapes (bundled)", "shapes"))
    own = [("own checkpoint", CHECKPOINT)] if checkpoint_uploads() else []
    return [*kinds, ("random", "random"), *own]


def default_weights(backbone: str) -> str:
    """The best weights at hand without a download."""
    return available_weights(backbone)[0]


def class_choices(backbone: str, weights: str, checkpoint=None, classes=None) -> list[str]:
    """Target-class choices for a backbone with given weights: "predicted", then its class names."""
    if weights == CHECKPOINT:
        return [PREDICTED, *user_classes(backbone, checkpoint, classes)]
    return [PREDICTED, *weights_classes(backbone, weights)]


def user_classes(backbone: str, checkpoint, classes) -> tuple[str, ...]:
    """The classes of the user's checkpoint as far as the controls tell, for the target lists.

    The class list, else `class 0` ... from the checkpoint's head; none while neither can be read (a run then
    says why).
    """
    try:
        names = class_list(class_source(classes))
        path = upload_path(checkpoint)
        if names or path is None:
            return names or ()
        return class_names(None, checkpoint_head_size(path, backbone))
    except (ValueError, KeyError):
        return ()


def patch_source(backbone: str, mode: str) -> str:
    """Source of the patch that `mode` uses on `backbone`'s class."""
    return accessor_source(_model_class(backbone), mode)


@functools.cache
def _model_class(backbone: str) -> type:
    """The upstream class behind `backbone` (built once on the meta device: no weights, no memory)."""
    with torch.device("meta"):
        return type(get_spec(backbone).builder(num_classes=1))


def _targets(choices: list[str], *values: str) -> tuple:
    """Target dropdowns with new choices, each keeping its value while the choices still hold it."""
    return tuple(gr.Dropdown(choices=choices, value=v if v in choices else PREDICTED) for v in values)


def _model_widgets(backbone: str, weights: str, checkpoint=None, classes=None) -> tuple:
    """Weights radio, both target lists (reset to "predicted") and the own-checkpoint controls' visibility."""
    choices = class_choices(backbone, weights, checkpoint, classes)
    return (
        gr.Radio(choices=weights_choices(backbone), value=weights),
        *_targets(choices, PREDICTED, PREDICTED),
        gr.Column(visible=weights == CHECKPOINT),
    )


def _chosen_classes(classes_file, classes_text):
    """The class list in use: an uploaded file, else the pasted names (each clears the other when given)."""
    return classes_file if classes_file is not None else classes_text


def on_backbone(backbone: str, weights: str, checkpoint, classes_file, classes_text):
    """New backbone: its best weights at hand (an own checkpoint stays chosen), class lists, checkpoint controls."""
    if weights != CHECKPOINT:
        weights = default_weights(backbone)
    return _model_widgets(backbone, weights, checkpoint, _chosen_classes(classes_file, classes_text))


def on_example(backbone: str, weights: str, mode: str):
    """An example's model: backbone, weights, class lists reset to "predicted", patch source."""
    return (backbone, *_model_widgets(backbone, weights), patch_source(backbone, mode))


def on_classes(backbone: str, weights: str, checkpoint, classes_file, classes_text, target_a: str, target_b: str):
    """A new checkpoint or class list: the target lists follow its classes, keeping chosen targets that remain."""
    if weights != CHECKPOINT:
        return gr.skip(), gr.skip()
    choices = class_choices(backbone, weights, checkpoint, _chosen_classes(classes_file, classes_text))
    return _targets(choices, target_a, target_b)


def on_class_file(backbone: str, weights: str, checkpoint, classes_file, target_a: str, target_b: str):
    """A class list file was uploaded: it replaces any pasted names, and the target lists follow it."""
    return "", *on_classes(backbone, weights, checkpoint, classes_file, "", target_a, target_b)


def on_class_text(backbone: str, weights: str, checkpoint, classes_file, classes_text, target_a: str, target_b: str):
    """Pasted or typed names replace an uploaded class file; the target lists follow the class list in use."""
    typed = bool(classes_text and classes_text.strip())
    cleared = None if typed and classes_file is not None else gr.skip()
    in_use = None if typed else classes_file
    return cleared, *on_classes(backbone, weights, checkpoint, in_use, classes_text, target_a, target_b)


def _download_progress(progress: gr.Progress, backbone: str) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        shown = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        progress(done / total if total else None, desc=f"Downloading the ImageNet weights of {backbone}: {shown}")

    return report


def _ensure_weights(backbone: str, weights: str, progress: gr.Progress) -> None:
    """Download ImageNet weights that are asked for and not here yet, with a progress bar."""
    if weights == "imagenet" and imagenet_status(backbone) == "download":
        fetch_imagenet(backbone, progress=_download_progress(progress, backbone))


def on_weights(backbone: str, weights: str, checkpoint, classes_file, classes_text, progress=gr.Progress()):  # noqa: B008
    """New weights: ImageNet weights not here yet are downloaded now; the class lists follow the weights.

    A failed download says why in a toast and falls back to the best weights at hand.
    """
    try:
        _ensure_weights(backbone, weights, progress)
    except ValueError as e:  # DownloadError
        _toast(message_for(e))
        weights = default_weights(backbone)
    return _model_widgets(backbone, weights, checkpoint, _chosen_classes(classes_file, classes_text))


def on_mode(backbone: str, mode: str):
    """The source of the patch this mode uses on this backbone's class, and what the mode binds."""
    return gr.Code(value=patch_source(backbone, mode)), MODE_NOTES[mode]


# ## Running the pipeline


def image_source(payload: dict | str | bytes | None) -> str | bytes | None:
    """What the core decodes from an image input's raw payload: the uploaded file's path, a data URL's bytes."""
    if not isinstance(payload, dict):
        return payload
    url = payload.get("url") or ""
    if url.startswith("data:"):
        encoded = url.partition(",")[2][:_MAX_DATA_URL_CHARS]
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
    return payload.get("path")


def upload_path(payload: dict | str | None) -> str | None:
    """The server path of an uploaded file from its raw payload (Gradio checked that it was uploaded)."""
    return payload.get("path") if isinstance(payload, dict) else payload


def class_source(value: dict | str | None) -> list[str] | str | None:
    """What the core reads the class names from: an uploaded text file's path, or pasted text's non-empty lines.

    Raises:
        InputError: a value that is neither text nor a file.
    """
    if value is None or isinstance(value, dict):
        return upload_path(value)
    if not isinstance(value, str):
        raise InputError("classes", "give the class names as text, one per line, or as a text file")
    return [line.strip() for line in value.splitlines() if line.strip()] or None


def own_model(weights: str, checkpoint, classes) -> tuple[str | None, list[str] | str | None]:
    """The checkpoint's path and the class names of a request, checked against what this server allows."""
    path, names = upload_path(checkpoint), class_source(classes)
    if (path is not None or weights == CHECKPOINT) and not checkpoint_uploads():
        raise InputError("checkpoint", "this server does not take checkpoints (SNAPMIX_CHECKPOINT_UPLOADS=off)")
    if weights == CHECKPOINT and path is None:
        raise InputError("checkpoint", f"please upload your checkpoint ({', '.join(CHECKPOINT_TYPES)})")
    if names is not None and path is None:
        raise InputError("classes", "class names go with your own checkpoint: upload one, or leave them empty")
    return path, names


def _request(values: tuple) -> tuple:
    """The `REQUEST` values as `run_pair` takes them, so that two requests compare equal when they would agree.

    The images become sources, blank boxes None, the class list is the file or the pasted names, and an own
    checkpoint and its classes count only while chosen.
    """
    image_a, image_b, backbone, weights, *rest, box_a, box_b, checkpoint, classes_file, classes_text = values
    own = (
        (upload_path(checkpoint), _chosen_classes(classes_file, classes_text)) if weights == CHECKPOINT else (None,) * 2
    )
    boxes = (_blank_as_none(box_a), _blank_as_none(box_b))  # a box field not yet shown sends None, later ""
    return (image_source(image_a), image_source(image_b), backbone, weights, *rest, *boxes, *own)


def _blank_as_none(value):
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def run_pair(
    image_a,
    image_b,
    backbone,
    weights,
    mode,
    target_a,
    target_b,
    beta,
    seed,
    box_a,
    box_b,
    checkpoint=None,
    classes=None,
) -> PairResult:
    """`snapmix_pair` on raw widget values, as they came: the core decodes, validates and names what it refuses."""
    image_a, image_b = image_source(image_a), image_source(image_b)
    for image, field in ((image_a, "image_a"), (image_b, "image_b")):
        if image is None:
            raise InputError(field, "please upload or paste an image, or pick an example")
    checkpoint, classes = own_model(weights, checkpoint, classes)
    return snapmix_pair(
        image_a,
        image_b,
        backbone=backbone,
        weights=weights or "auto",
        mode=mode,
        target_a=target_a,
        target_b=target_b,
        beta=beta,
        seed=seed_text(seed),  # the page's seed is text: plain digits, as on the command line
        box_a=box_a,
        box_b=box_b,
        checkpoint=checkpoint,
        classes=classes,
    )


def display_options(cmap, alpha, view) -> tuple[str, float, str]:
    """The drawing options as typed, checked: a known colormap and view, an opacity from 0 to 1 (`prob_value`).

    Raises:
        InputError: naming `cmap`, `alpha` or `view`.
    """
    if cmap not in COLORMAPS:
        raise InputError("cmap", f"choose one of: {', '.join(COLORMAPS)}")
    if view not in VIEWS:
        raise InputError("view", f"choose one of: {', '.join(VIEWS)}")
    return cmap, prob_value(alpha, "alpha"), view


def page_beta(beta) -> float:
    """The beta the page takes: the core's rule (a number above 0) within the slider's `BETA_RANGE`."""
    value = beta_value(beta)
    low, high = BETA_RANGE
    if not low <= value <= high:
        raise InputError("beta", f"must be from {low:g} to {high:g} here (the slider's range), got {value:g}")
    return value


def _input_name(source: str | bytes | None) -> str | None:
    """An input image's file name for `result.json` (never the server's path); a pasted image has none."""
    return Path(source).name if isinstance(source, str) else None


def _originals(request: tuple) -> tuple[Image.Image, Image.Image] | None:
    """Both input images decoded again for the full-resolution downloads (the result holds the model frame only)."""
    try:
        return originals(request[:2])
    except ValueError:  # decoded once already for the run; should it fail now, only those downloads are left out
        return None


def _files(shown: Shown, cmap: str, alpha: float, view: str) -> dict[str, str]:
    """The result's files as the display options draw them, written as its downloads (name -> path)."""
    contents = result_files(
        shown.result,
        cmap=cmap,
        alpha=float(alpha),
        raw=view == RAW_VIEW,
        names=(_input_name(shown.request[0]), _input_name(shown.request[1])),
        originals=_originals(shown.request),
    )
    return write_result_files(contents)


def _views(shown: Shown, cmap: str, alpha: float, view: str) -> tuple:
    """Every output of a run, in `RESULT_OUTPUTS` order, for a result."""
    res = shown.result
    files, alt = _files(shown, cmap, alpha, view), alt_texts(res)
    return (
        shown,
        banner_html(res, stale=False),
        gr.Image(files["cam_a.png"], alt_text=alt["cam_a"]),
        caption_html(res, "A"),
        gr.Image(files["cam_b.png"], alt_text=alt["cam_b"]),
        caption_html(res, "B"),
        gr.Image(files["mixed.png"], alt_text=alt["mixed"]),
        mixed_caption_html(res),
        weights_html(res),
        topk_html(res, "A"),
        topk_html(res, "B"),
        status_html(res),
        list(files.values()),
    )


def _failed(request: tuple, display: tuple, message: str) -> tuple:
    """Every output of a failed run: the old results cleared, the message above them and in a toast."""
    _toast(message)
    cleared = (None, "", None, "", None, "", CHART_PLACEHOLDER, *TOP_PLACEHOLDERS.values(), "", None)
    return (Shown(request, error=message, display=display), error_html(message), *cleared)


def on_run(*values, progress=gr.Progress()):  # noqa: B008 (Gradio's progress idiom)
    """Run a pair on the `REQUEST` values and the display options; every output, never raising."""
    return _run(_request(values[:-3]), values[-3:], progress)


def _run(request: tuple, display: tuple, progress: gr.Progress) -> tuple:
    """Every output of a run of `request`, drawn with the (cmap, alpha, view) `display` options."""
    try:
        options = display_options(*display)
        page_beta(request[7])
        _ensure_weights(request[2], request[3], progress)
        res = run_pair(*request)
    except UserError as e:  # InputError, ImageError, DownloadError: the message is for the user
        return _failed(request, display, message_for(e))
    except Exception:
        logger.exception("unexpected error while running a pair")
        return _failed(request, display, GENERIC)
    return _views(Shown(request, res, display=display), *options)


def on_auto(shown: Shown | None, *values, progress=gr.Progress()):  # noqa: B008
    """Re-run after a cheap change: with both images, when the request differs from what is shown.

    A run that failed on its drawing options re-runs once they are valid again.
    """
    request, display = _request(values[:-3]), values[-3:]
    if request[0] is None or request[1] is None:
        return (gr.skip(),) * len(RESULT_OUTPUTS)
    redraw = shown is not None and shown.result is None and shown.display != display and not _display_error(display)
    if shown is not None and shown.request == request and not redraw:
        return (gr.skip(),) * len(RESULT_OUTPUTS)
    return _run(request, display, progress)


def on_check(shown: Shown | None, *request) -> str:
    """The banner above the results: results whose controls have changed are out of date, and so is an error."""
    if shown is None:
        return ""
    stale = _request(request) != shown.request
    if shown.error is not None:
        return error_html(shown.error, stale=stale)
    return banner_html(shown.result, stale=stale)


def _display_error(display: tuple) -> str | None:
    """The banner for drawing options that cannot be drawn, else None."""
    try:
        display_options(*display)
    except InputError as e:
        return error_html(message_for(e), heading="Could not draw the maps.")
    return None


def on_banner(shown: Shown | None, *values) -> str:
    """`on_check` on the `REQUEST` values, unless the drawing options (the last three values) are wrong: that first."""
    return _display_error(values[-3:]) or on_check(shown, *values[:-3])


def on_display(shown: Shown | None, cmap, alpha, view, *request):
    """Re-draw the maps with a new colormap, opacity or view, without running the model; a bad value is named.

    Returns the two CAM pictures, the downloads and the banner.
    """
    try:
        options = display_options(cmap, alpha, view)
    except InputError as e:
        _toast(message_for(e))
        return gr.skip(), gr.skip(), gr.skip(), _display_error((cmap, alpha, view))
    if shown is None or shown.result is None:
        return gr.skip(), gr.skip(), gr.skip(), on_check(shown, *request)
    files, alt = _files(shown, *options), alt_texts(shown.result)
    return (
        gr.Image(files["cam_a.png"], alt_text=alt["cam_a"]),
        gr.Image(files["cam_b.png"], alt_text=alt["cam_b"]),
        list(files.values()),
        on_check(shown, *request),
    )


def on_spread(shown: Shown | None):
    """The spread over `SPREAD_SEEDS` seeds' boxes for the pair on screen, from its cached CAMs (no model run)."""
    if shown is None or shown.result is None:
        message = "Run SnapMix first: the spread is computed from the CAMs of the pair on screen."
        _toast(message)
        return None, f'<div class="wnote">{html.escape(message)}</div>'
    res = shown.result
    spread = box_spread(res)
    path = write_result_files({"spread.png": spread_png(res, spread)})["spread.png"]
    above = float(np.mean(spread.rho_a + spread.rho_b > 1))
    note = (
        f"{len(spread.seeds)} seeds' boxes (0 to {len(spread.seeds) - 1}, beta {res.beta:g}), weighed on this pair's "
        f"cached CAMs: ρA + ρB is above 1 for {above:.0%} of them; CutMix's weights always add up to 1 "
        "(points on the diagonal would mean SnapMix agrees with the area)."
    )
    alt = (
        f"Scatter of SnapMix's weights against CutMix's area weights for {len(spread.seeds)} seeds: "
        f"ρA of {res.label_a} in blue, ρB of {res.label_b} in orange, the seed on screen circled."
    )
    return gr.Image(path, alt_text=alt), f'<div class="wnote">{html.escape(note)}</div>'


def first_view(request: tuple, display: tuple) -> dict[str, object] | None:
    """The outputs of one run, by `RESULT_OUTPUTS` name, as initial values for the first page; None if it fails.

    Run once at start-up on a committed example (no network: only weights at hand), so that the first page
    shows a result, as Spaces show cached examples. Pictures come as (path, alt text).
    """
    if request[3] not in available_weights(request[2]):
        return None
    try:
        res = run_pair(*request)
    except Exception:
        logger.exception("the first page's example could not be computed; the page starts empty")
        return None
    shown = Shown(request, res, display=display)
    files, alt = _files(shown, *display_options(*display)), alt_texts(res)
    return {
        "state": shown,
        "banner": banner_html(res, stale=False),
        **{name: (files[f"{name}.png"], alt[name]) for name in ("cam_a", "cam_b", "mixed")},
        "caption_a": caption_html(res, "A"),
        "caption_b": caption_html(res, "B"),
        "caption_mixed": mixed_caption_html(res),
        "chart": weights_html(res),
        "top_a": topk_html(res, "A"),
        "top_b": topk_html(res, "B"),
        "status": status_html(res),
        "downloads": list(files.values()),
    }


def on_new_boxes(seed):
    """The next seed: new boxes from the same cached CAMs. After the last seed, 2**63 - 1, comes 0 again.

    A bad seed is left for the run to report.
    """
    try:
        value = seed_text(seed)
    except InputError:
        return gr.skip()
    if value == LAST_SEED:
        _toast(f"{FIELD_LABELS['seed']}: {LAST_SEED} is the last seed (2^63 - 1); starting again from 0.")
        return "0"
    return str(value + 1)
