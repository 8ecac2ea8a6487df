"""The public HTTP endpoint `/snapmix`: plain files and values in, the result's JSON facts out.

Its inputs are hidden components (`gr.File`, `gr.Textbox`, `gr.Number`), so the core decodes and
validates everything; every UI event is private, this is the one public endpoint.
"""

import gradio as gr

from snapmix_demo.app.handlers import PREDICTED, run_pair, user_errors
from snapmix_demo.pipeline import DEFAULT_BACKBONE

__all__ = ["api_inputs", "snapmix"]


@user_errors
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
) -> dict:
    """SnapMix two images; returns the result's facts (rho_a, rho_b, boxes, classes, ...) as JSON."""
    res = run_pair(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b)
    return res.to_dict()


def api_inputs() -> list[gr.components.Component]:
    """The endpoint's parameters, in order; their labels are the parameter names clients see."""
    return [
        gr.File(label="image_a", type="binary"),  # "filepath" leaves an empty temp file per call (Gradio 6.31)
        gr.File(label="image_b", type="binary"),
        gr.Textbox(DEFAULT_BACKBONE, label="backbone"),
        gr.Textbox("default", label="mode"),
        gr.Number(0, label="seed", precision=0),
        gr.Textbox("auto", label="weights"),
        gr.Textbox(PREDICTED, label="target_a"),
        gr.Textbox(PREDICTED, label="target_b"),
        gr.Number(5.0, label="beta"),
        gr.Textbox("", label="box_a"),
        gr.Textbox("", label="box_b"),
    ]
