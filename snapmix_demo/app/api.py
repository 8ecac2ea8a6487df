"""The public HTTP endpoints `/snapmix` and `/compare`: plain files and values in, the result's JSON facts out.

Their inputs are hidden components (`gr.File`, `gr.Textbox`, `gr.Number`) whose event skips Gradio's
preprocessing, so every value reaches the core as it was sent: the core decodes and validates everything
and its messages name the parameters (`` `seed`: must be a whole number ...``). Every UI event is
private; these are the only public endpoints.

A user's own model comes last, so gradio_client calls written before it keep working (the client fills in
defaults; a raw request sends every value): `checkpoint` (a file) and `classes`, its class names as text,
one per line, or as a text file (`handle_file`) when the list is longer than a request's 64 KB of text allows.

`/compare` takes `/snapmix`'s parameters and `methods` (`all`, or names separated by commas), then optionally
`mask_a` and `mask_b` (the images' object masks as pictures), and returns `MixComparison.to_dict()`: every
method's weights on the pair (and the truth, where the masks are given or known).
"""

import html
import logging

import gradio as gr
from gradio_client import handle_file

from snapmix_demo.app.choices import PREDICTED
from snapmix_demo.app.compare import run_compare
from snapmix_demo.app.messages import GENERIC, message_for
from snapmix_demo.app.run import run_pair
from snapmix_demo.errors import InputError, UserError
from snapmix_demo.pipeline import DEFAULT_BACKBONE

__all__ = ["EXAMPLE_IMAGE", "api_inputs", "compare", "compare_inputs", "snapmix"]

logger = logging.getLogger(__name__)

# The picture the "Use via API" page's sample sends (the one gr.Image's own samples use); gr.File's is a PDF.
EXAMPLE_IMAGE = "https://raw.githubusercontent.com/gradio-app/gradio/main/test/test_files/bus.png"


def _with_sample(component: gr.File, sample: str | None) -> gr.File:
    """`component` with `sample` as what the "Use via API" page sends (gr.File's own is a PDF from the web).

    Set on the instance: a subclass of a Gradio component would make Gradio write a `.pyi` stub beside this file.
    """
    component.example_payload = lambda: None if sample is None else handle_file(sample)
    component.example_value = lambda: sample
    return component


def snapmix(
    image_a: bytes,
    image_b: bytes,
    backbone: str,
    mode: str,
    seed: float,
    weights: str,
    target_a: str,
    target_b: str,
    beta: float,
    box_a: str,
    box_b: str,
    checkpoint: bytes | None = None,
    classes: str | None = None,
) -> dict:
    """SnapMix two images; returns the result's facts (rho_a, rho_b, boxes, classes, ...) as JSON.

    `checkpoint` is an uploaded checkpoint of `backbone`; `classes` its class names, as text (one per line) or an
    uploaded text file.
    """
    try:
        model = {"backbone": backbone, "weights": weights, "mode": mode, "checkpoint": checkpoint, "classes": classes}
        pair = {"target_a": target_a, "target_b": target_b, "beta": beta, "seed": seed, "box_a": box_a, "box_b": box_b}
        res = run_pair(image_a, image_b, **model, **pair)
    except UserError as e:  # the core's messages are for the user; <, > and & escaped (Gradio shows errors as HTML)
        raise gr.Error(html.escape(message_for(e, labels={}), quote=False), print_exception=False) from None
    except Exception:
        logger.exception("unexpected error in /snapmix")
        raise gr.Error(GENERIC) from None
    return res.to_dict()


def _methods(text: object) -> list[str] | None:
    """`all` or blank: every method (None); else the names, separated by commas or spaces."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "all")):
        return None
    if not isinstance(text, str):
        raise InputError("methods", "give `all`, or method names separated by commas")
    return [name for name in text.replace(",", " ").split() if name]


def compare(
    image_a: bytes,
    image_b: bytes,
    backbone: str,
    mode: str,
    seed: float,
    weights: str,
    target_a: str,
    target_b: str,
    beta: float,
    box_a: str,
    box_b: str,
    methods: str = "all",
    checkpoint: bytes | None = None,
    classes: str | None = None,
    mask_a: bytes | None = None,
    mask_b: bytes | None = None,
) -> dict:
    """Every mixing method (or `methods`, comma-separated) on two images; returns each method's weights as JSON.

    `beta`, `box_a` and `box_b` are SnapMix's, as in `/snapmix`; the other methods take their papers' parameters.
    `mask_a` and `mask_b` are the images' object masks (pictures, white = the object): each weight's truth.
    """
    try:
        model = {"backbone": backbone, "weights": weights, "mode": mode, "checkpoint": checkpoint, "classes": classes}
        pair = {"target_a": target_a, "target_b": target_b, "beta": beta, "seed": seed, "box_a": box_a, "box_b": box_b}
        res = run_compare(image_a, image_b, **model, **pair, methods=_methods(methods), masks=(mask_a, mask_b))
    except UserError as e:
        raise gr.Error(html.escape(message_for(e, labels={}), quote=False), print_exception=False) from None
    except Exception:
        logger.exception("unexpected error in /compare")
        raise gr.Error(GENERIC) from None
    return res.to_dict()


def compare_inputs() -> list[gr.components.Component]:
    """`/compare`'s parameters: `/snapmix`'s, with `methods` before the own checkpoint's two, then the object masks."""
    inputs = api_inputs()
    masks = [_with_sample(gr.File(label=f"mask_{side}"), None) for side in "ab"]
    return [*inputs[:11], gr.Textbox("all", label="methods"), *inputs[11:], *masks]


def api_inputs() -> list[gr.components.Component]:
    """The endpoint's parameters, in order; their labels are the parameter names clients see."""
    return [
        _with_sample(gr.File(label="image_a"), EXAMPLE_IMAGE),
        _with_sample(gr.File(label="image_b"), EXAMPLE_IMAGE),
        gr.Textbox(DEFAULT_BACKBONE, label="backbone"),
        gr.Textbox("default", label="mode"),
        gr.Number(0, label="seed", precision=0),
        gr.Textbox("auto", label="weights"),
        gr.Textbox(PREDICTED, label="target_a"),
        gr.Textbox(PREDICTED, label="target_b"),
        gr.Number(5.0, label="beta"),
        gr.Textbox("", label="box_a"),
        gr.Textbox("", label="box_b"),
        _with_sample(gr.File(label="checkpoint"), None),
        gr.Textbox("", label="classes"),
    ]
