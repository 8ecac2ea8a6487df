"""Running a pair for the page: the core on a `PairRequest`, and every result output drawn from what it returns.

A run that fails does not raise: raising would stamp a bare "Error" on every output panel. It
clears the results and shows the message instead, above them and in a toast. What is on screen is
kept in a `Shown` state with the request it was computed from, so that any later change of a
control can be compared with it and the results marked out of date.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from snapmix_demo.app.choices import ensure_weights
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
from snapmix_demo.app.messages import GENERIC, message_for, toast
from snapmix_demo.app.requests import RAW_VIEW, PairRequest, display_options, image_source, own_model, page_beta
from snapmix_demo.errors import InputError, UserError
from snapmix_demo.exports import originals, result_files
from snapmix_demo.inputs import seed_text
from snapmix_demo.pipeline import PairResult, snapmix_pair
from snapmix_demo.weights import available_weights

__all__ = [
    "CHART_PLACEHOLDER",
    "RESULT_OUTPUTS",
    "TOP_PLACEHOLDERS",
    "Shown",
    "display_error",
    "first_view",
    "result_files_for",
    "run_outputs",
    "run_pair",
]

logger = logging.getLogger(__name__)

CHART_PLACEHOLDER = "<div class='wnote'>Run SnapMix to see the label weights.</div>"
TOP_PLACEHOLDERS = {side: f"<div class='wnote'>The top-5 classes of {side} appear after a run.</div>" for side in "AB"}
# What a run returns, in order, by the page's component names.
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


@dataclass(frozen=True)
class Shown:
    """What the results area shows: a result or an error, and the request it came from."""

    request: PairRequest
    result: PairResult | None = None
    error: str | None = None
    display: tuple | None = None  # the (cmap, alpha, view) it was drawn with, or failed on


def core_arguments(
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
) -> dict[str, object]:
    """Raw widget values as the core's keyword arguments, shared by the SnapMix run and the comparison.

    Image sources, the own model as this server allows it, the seed read as text (plain digits, as on the command
    line); the core decodes, validates and names the rest.
    """
    image_a, image_b = image_source(image_a), image_source(image_b)
    for image, field in ((image_a, "image_a"), (image_b, "image_b")):
        if image is None:
            raise InputError(field, "please upload or paste an image, or pick an example")
    checkpoint, classes = own_model(weights, checkpoint, classes)
    return {
        "image_a": image_a,
        "image_b": image_b,
        "backbone": backbone,
        "weights": weights or "auto",
        "mode": mode,
        "target_a": target_a,
        "target_b": target_b,
        "beta": beta,
        "seed": seed_text(seed),
        "box_a": box_a,
        "box_b": box_b,
        "checkpoint": checkpoint,
        "classes": classes,
    }  # fmt: skip


def run_pair(*values, **named) -> PairResult:
    """`snapmix_pair` on raw widget values (`core_arguments`'), as they came."""
    return snapmix_pair(**core_arguments(*values, **named))


def _input_name(source: str | bytes | None) -> str | None:
    """An input image's file name for `result.json` (never the server's path); a pasted image has none."""
    return Path(source).name if isinstance(source, str) else None


def _originals(request: PairRequest) -> tuple[Image.Image, Image.Image] | None:
    """Both input images decoded again for the full-resolution downloads (the result holds the model frame only)."""
    try:
        return originals((request.image_a, request.image_b))
    except ValueError:  # decoded once already for the run; should it fail now, only those downloads are left out
        return None


def result_files_for(shown: Shown, cmap: str, alpha: float, view: str) -> dict[str, str]:
    """The result's files as the display options draw them, written as its downloads (name -> path)."""
    contents = result_files(
        shown.result,
        cmap=cmap,
        alpha=float(alpha),
        raw=view == RAW_VIEW,
        names=(_input_name(shown.request.image_a), _input_name(shown.request.image_b)),
        originals=_originals(shown.request),
    )
    return write_result_files(contents)


def _views(shown: Shown, cmap: str, alpha: float, view: str) -> tuple:
    """Every output of a run, in `RESULT_OUTPUTS` order, for a result."""
    res = shown.result
    files, alt = result_files_for(shown, cmap, alpha, view), alt_texts(res)
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


def _failed(request: PairRequest, display: tuple, message: str) -> tuple:
    """Every output of a failed run: the old results cleared, the message above them and in a toast."""
    toast(message)
    cleared = (None, "", None, "", None, "", CHART_PLACEHOLDER, *TOP_PLACEHOLDERS.values(), "", None)
    return (Shown(request, error=message, display=display), error_html(message), *cleared)


def run_outputs(request: PairRequest, display: tuple, progress: gr.Progress) -> tuple:
    """Every output of a run of `request`, drawn with the (cmap, alpha, view) `display` options; never raises."""
    try:
        options = display_options(*display)
        page_beta(request.beta)
        ensure_weights(request.backbone, request.weights, progress)
        res = run_pair(**request.arguments())
    except UserError as e:  # InputError, ImageError, DownloadError: the message is for the user
        return _failed(request, display, message_for(e))
    except Exception:
        logger.exception("unexpected error while running a pair")
        return _failed(request, display, GENERIC)
    return _views(Shown(request, res, display=display), *options)


def display_error(display: tuple) -> str | None:
    """The banner for drawing options that cannot be drawn, else None."""
    try:
        display_options(*display)
    except InputError as e:
        return error_html(message_for(e), heading="Could not draw the maps.")
    return None


def first_view(request: PairRequest, display: tuple) -> dict[str, object] | None:
    """The outputs of one run, by `RESULT_OUTPUTS` name, as initial values for the first page; None if it fails.

    Run once at start-up on a committed example (no network: only weights at hand), so that the first page
    shows a result, as Spaces show cached examples. Pictures come as (path, alt text).
    """
    if request.weights not in available_weights(request.backbone):
        return None
    try:
        res = run_pair(**request.arguments())
    except Exception:
        logger.exception("the first page's example could not be computed; the page starts empty")
        return None
    shown = Shown(request, res, display=display)
    files, alt = result_files_for(shown, *display_options(*display)), alt_texts(res)
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
