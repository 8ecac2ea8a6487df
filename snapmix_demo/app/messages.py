"""What the page says when something is refused: our errors worded for people, the fields by their labels."""

import html

import gradio as gr

from snapmix_demo.errors import InputError, UserError

__all__ = ["FIELD_LABELS", "GENERIC", "message_for", "toast"]

GENERIC = "Something went wrong on our side; it has been logged. Please try again."
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
    "mask_a": "Object mask of A",
    "mask_b": "Object mask of B",
}


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


def toast(message: str) -> None:
    """A warning toast (raising `gr.Error` would mark every output panel "Error"); toasts render HTML: escaped."""
    gr.Warning(html.escape(message))
