"""The public HTTP endpoint `/snapmix`: plain files and values in, the result's JSON facts out.

Its inputs are hidden components (`gr.File`, `gr.Textbox`, `gr.Number`) whose event skips Gradio's
preprocessing, so every value reaches the core as it was sent: the core decodes and validates everything
and its messages name the parameters (`` `seed`: must be a whole number ...``). Every UI event is
private; this is the one public endpoint.

A user's own model comes last, so gradio_client calls written before it keep working (the client fills in
defaults; a raw request sends every value): `checkpoint` (a file) and `classes`, its class names as text,
one per line, or as a text file (`handle_file`) when the list is longer than a request's 64 KB of text allows.
"""

import html
import logging

import gradio as gr
from gradio_client import handle_file

from snapmix_demo.app.handlers import GENERIC, PREDICTED, message_for, run_pair
from snapmix_demo.pipeline import DEFAULT_BACKBONE

__all__ = ["EXAMPLE_IMAGE", "api_inputs", "snapmix"]

# The picture the "Use via API" page's sample sends (the one gr.Image's own samples use); gr.File's is a PDF.
EXAMPLE_IMAGE = "https://raw.githubusercontent.com/gradio-app/gradio/main/test/test_files/bus.png"


class _ImageFile(gr.File):
    """An image parameter as a plain file (so only our decoder reads it), with an image as its API sample."""

    def example_payload(self):
        """What the API page's sample code sends: an image, not gr.File's PDF."""
        return handle_file(EXAMPLE_IMAGE)

    def example_value(self):
        """The sample as a value."""
        return EXAMPLE_IMAGE


class _OptionalFile(gr.File):
    """An optional file parameter whose API sample leaves it out."""

    def example_payload(self):
        """None: the sample sends no checkpoint."""
        return None

    def example_value(self):
        """None: the sample sends no checkpoint."""
        return None


logger = logging.getLogger(__name__)


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
        request = (image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b)
        res = run_pair(*request, checkpoint, classes)
    except ValueError as e:  # the core's messages are for the user; <, > and & escaped (Gradio shows errors as HTML)
        raise gr.Error(html.escape(message_for(e, labels={}), quote=False), print_exception=False) from None
    except Exception:
        logger.exception("unexpected error in /snapmix")
        raise gr.Error(GENERIC) from None
    return res.to_dict()


def api_inputs() -> list[gr.components.Component]:
    """The endpoint's parameters, in order; their labels are the parameter names clients see."""
    return [
        _ImageFile(label="image_a"),
        _ImageFile(label="image_b"),
        gr.Textbox(DEFAULT_BACKBONE, label="backbone"),
        gr.Textbox("default", label="mode"),
        gr.Number(0, label="seed", precision=0),
        gr.Textbox("auto", label="weights"),
        gr.Textbox(PREDICTED, label="target_a"),
        gr.Textbox(PREDICTED, label="target_b"),
        gr.Number(5.0, label="beta"),
        gr.Textbox("", label="box_a"),
        gr.Textbox("", label="box_b"),
        _OptionalFile(label="checkpoint"),
        gr.Textbox("", label="classes"),
    ]
