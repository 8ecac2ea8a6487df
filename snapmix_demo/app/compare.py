"""The "Compare mixes" tab: the SnapMix tab's pair, backbone, classes, seed and beta through every mixing method.

Each method's mixed image sits in a grid captioned with its two label weights; one chart shows every
method's weights for A and B (and, where the images' object masks are known, the true shares); a table
gives the numbers with each weight's error against the truth; choosing a method shows its rules with this
pair's numbers. One forward per image (the SnapMix tab's cached analyses), then milliseconds per method.
This module holds the tab and its events; `compare_views` draws the words and pictures.
"""

import io
import logging

import gradio as gr

from snapmix_demo.app.choices import ensure_weights
from snapmix_demo.app.compare_views import (
    caption,
    chart_alt,
    chart_png,
    compare_banner_html,
    method_html,
    table_html,
)
from snapmix_demo.app.explain import error_html
from snapmix_demo.app.files import write_result_files
from snapmix_demo.app.messages import GENERIC, message_for, toast
from snapmix_demo.app.requests import RAW, PairRequest, image_source, page_beta
from snapmix_demo.app.run import core_arguments
from snapmix_demo.errors import UserError
from snapmix_demo.lab import MixComparison, compare_mixes
from snapmix_demo.mixes import MIXES

__all__ = ["COMPARE_OUTPUTS", "build", "on_compare", "on_method", "on_select", "run_compare", "wire"]

logger = logging.getLogger(__name__)

COMPARE_OUTPUTS = ("compare_state", "compare_banner", "gallery", "compare_chart", "compare_table", "rule")
INTRO = (
    "Every mixing method on the pair of the **SnapMix** tab, with its backbone, weights, classes, seed and beta: "
    "one forward per image (cached), then milliseconds per method. Where the images' object masks are known "
    "(the shapes examples, or masks you give below) each weight is set beside the **truth**, the share of each "
    "object that the mix keeps."
)
TABLE_PLACEHOLDER = "<div class='wnote'>Press <b>Compare every method</b> to mix this pair every way.</div>"


# ## Running


def run_compare(*values, methods=None, masks=(None, None), **named) -> MixComparison:
    """`compare_mixes` on raw widget values (`run.core_arguments`'), as they came; `masks` the two object masks."""
    objects = None if masks == (None, None) else tuple(image_source(m) for m in masks)
    return compare_mixes(**core_arguments(*values, **named), methods=methods, objects=objects)


def on_compare(method: str, mask_a, mask_b, *values, progress=gr.Progress()):  # noqa: B008
    """Compare every method on the SnapMix tab's `REQUEST` values; every output of the tab, never raising."""
    request = PairRequest.from_page(values)
    try:
        page_beta(request.beta)
        ensure_weights(request.backbone, request.weights, progress)
        cmp = run_compare(**request.arguments(), masks=(mask_a, mask_b))
    except UserError as e:
        return _failed(message_for(e))
    except Exception:
        logger.exception("unexpected error while comparing the mixes")
        return _failed(GENERIC)
    return _views(cmp, method)


def on_method(cmp: MixComparison | None, method: str):
    """The chosen method's rule with this pair's numbers (no model run)."""
    return method_html(cmp, method)


def on_select(cmp: MixComparison | None, evt: gr.SelectData):
    """A picture of the grid chosen: its method becomes the chosen one."""
    if cmp is None or evt.index is None:
        return gr.skip()
    names = list(cmp.pairs)
    return names[evt.index] if 0 <= evt.index < len(names) else gr.skip()


def _failed(message: str) -> tuple:
    toast(message)
    return None, error_html(message, heading="Could not compare the mixes."), None, None, TABLE_PLACEHOLDER, ""


def _views(cmp: MixComparison, method: str) -> tuple:
    files = {f"mixed_{name}.png": _png(pair.mixed) for name, pair in cmp.pairs.items()}
    files["weights_by_method.png"] = chart_png(cmp)
    paths = write_result_files(files)
    gallery = [(paths[f"mixed_{name}.png"], caption(pair)) for name, pair in cmp.pairs.items()]
    chart = gr.Image(paths["weights_by_method.png"], alt_text=chart_alt(cmp))
    return cmp, compare_banner_html(cmp), gallery, chart, table_html(cmp), method_html(cmp, method)


def _png(img) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


# ## The tab


def build() -> dict:
    """The tab's components by name (inside a `gr.Tab`)."""
    gr.Markdown(INTRO, elem_id="compare-intro")
    with gr.Row(equal_height=True):
        run = gr.Button("Compare every method", variant="primary", elem_id="compare-run", scale=1, min_width=160)
        method = gr.Dropdown(
            [(spec.title, name) for name, spec in MIXES.items()],
            value="snapmix",
            label="Method whose rule to show",
            elem_id="compare-method",
            scale=2,
            min_width=200,
        )
    banner = gr.HTML("", elem_id="compare-banner", padding=False)
    gallery = gr.Gallery(
        label="Mixed images (A receives B), each method's weights in its caption",
        columns=5,
        height="auto",
        object_fit="contain",
        allow_preview=True,
        interactive=False,
        elem_id="compare-gallery",
    )
    masks = _mask_inputs()
    with gr.Row():
        with gr.Column(min_width=300, scale=3):
            chart = gr.Image(
                label="Label weights by method",
                alt_text="The chart appears here",
                type="filepath",
                format="png",
                interactive=False,
                elem_id="compare-chart",
                buttons=["download", "fullscreen"],
            )
        with gr.Column(min_width=300, scale=2):
            table = gr.HTML(TABLE_PLACEHOLDER, elem_id="compare-table", container=True)
            rule = gr.HTML(method_html(None, "snapmix"), elem_id="compare-rule", container=True)
    return {
        "compare_run": run,
        "compare_method": method,
        "mask_a": masks[0],
        "mask_b": masks[1],
        "compare_banner": banner,
        "gallery": gallery,
        "compare_chart": chart,
        "compare_table": table,
        "rule": rule,
    }


def _mask_inputs() -> tuple[gr.Image, gr.Image]:
    """The two object masks of the truth, for images other than the shapes examples (closed until wanted)."""
    with gr.Accordion("Your own truth: the images' object masks", open=False, elem_id="compare-masks"):
        gr.Markdown(
            "A black-and-white picture per image, white where its object is, of the image's shape (a "
            "generated shapes image's mask, or one you drew). With both, each weight is set beside the share "
            "of its object that the mix keeps.",
            elem_classes="wnote",
        )
        with gr.Row():
            return tuple(
                gr.Image(
                    label=f"Object mask of {side.upper()}",
                    type="filepath",
                    sources=["upload", "clipboard"],
                    height=160,
                    min_width=140,
                    elem_id=f"mask-{side}",
                )
                for side in "ab"
            )


def wire(ui, tab: gr.Tab, request: list, pipeline: dict) -> None:
    """Run on the button and when the tab is opened; a chosen method (or picture) shows its rule."""
    private = {"api_visibility": "private"}
    outputs = [getattr(ui, name) for name in COMPARE_OUTPUTS]
    inputs = [ui.compare_method, ui.mask_a, ui.mask_b, *request]
    run = {"fn": on_compare, "inputs": inputs, "outputs": outputs, **private, **RAW}
    ui.compare_run.click(**run, **pipeline)
    tab.select(**run, **pipeline)
    ui.compare_method.change(on_method, [ui.compare_state, ui.compare_method], ui.rule, **private)
    ui.gallery.select(on_select, ui.compare_state, ui.compare_method, **private)
