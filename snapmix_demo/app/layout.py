"""The page: Gradio Blocks laid out top to bottom as the user reads it, and every listener wired at the end.

Each section is a small function that returns its components by name; `build_demo` puts
the sections together and `_wire` connects them to the handlers.
"""

from types import SimpleNamespace

import gradio as gr

from snapmix_demo.app import handlers, playground
from snapmix_demo.app.api import api_inputs, snapmix
from snapmix_demo.app.examples import EXAMPLES
from snapmix_demo.app.handlers import MODE_NOTES, PREDICTED, backbone_choices, class_choices, patch_source
from snapmix_demo.app.server import PIPELINE, QUEUE
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.pipeline import DEFAULT_BACKBONE
from snapmix_demo.render import COLORMAPS
from snapmix_demo.weights import available_weights

__all__ = ["build_demo"]

INTRO = (
    "# SnapMix explorer\n"
    "SnapMix pastes a box of image <span class='legend-b'>B</span> into image "
    "<span class='legend-a'>A</span> and weighs the two labels by how much of each image's "
    "**class activation map** (CAM) the boxes hold, where CutMix uses the box **area**. "
    "Every backbone gets the same API through fastcore's `@patch_to`."
)


def _image(label: str, elem_id: str) -> gr.Image:
    """An image input that hands the core a file path: our decoder, not Gradio's, reads it."""
    return gr.Image(
        label=label,
        type="filepath",
        image_mode=None,
        height=230,
        sources=["upload", "clipboard"],
        buttons=["fullscreen"],
        elem_id=elem_id,
        min_width=240,
    )


def _image_inputs() -> dict:
    with gr.Row():
        img_a = _image("Image A (receives the patch)", "image-a")
        img_b = _image("Image B (the patch comes from it)", "image-b")
    examples = gr.Examples(
        EXAMPLES,
        inputs=[img_a, img_b],
        label="Examples (offline)",
        examples_per_page=4,
        elem_id="examples",
        cache_examples=False,
    )
    return {"img_a": img_a, "img_b": img_b, "examples": examples}


def _model_controls() -> dict:
    first_weights = available_weights(DEFAULT_BACKBONE)
    with gr.Row():
        backbone = gr.Dropdown(
            backbone_choices(), value=DEFAULT_BACKBONE, label="Backbone", elem_id="backbone", scale=3
        )
        weights = gr.Radio(first_weights, value=first_weights[0], label="Weights", elem_id="weights", scale=2)
    mode = gr.Radio(list(PATCH_MODES), value="default", label="@patch_to mode", elem_id="mode")
    mode_note = gr.Markdown(MODE_NOTES["default"], elem_id="mode-note")
    source = gr.Code(
        patch_source(DEFAULT_BACKBONE, "default"),
        language="python",
        label="The patch this mode uses (snapmix_demo/patches.py)",
        interactive=False,
        elem_id="patch-source",
        max_lines=9,
        wrap_lines=True,
    )
    return {"backbone": backbone, "weights": weights, "mode": mode, "mode_note": mode_note, "source": source}


def _target(label: str, elem_id: str, classes: list[str]) -> gr.Dropdown:
    return gr.Dropdown(classes, value=PREDICTED, label=label, filterable=True, allow_custom_value=True, elem_id=elem_id)


def _options() -> dict:
    classes = class_choices(DEFAULT_BACKBONE, available_weights(DEFAULT_BACKBONE)[0])
    with gr.Accordion("Classes, boxes and randomness", open=False, elem_id="options"):
        with gr.Row():
            target_a = _target("Class of A (CAM target)", "target-a", classes)
            target_b = _target("Class of B (CAM target)", "target-b", classes)
            beta = gr.Slider(0.1, 10, value=5.0, step=0.1, label="beta of Beta(beta, beta) box sizes", elem_id="beta")
        with gr.Row():
            box_a = gr.Textbox(
                label="Box A: top, left, bottom, right (empty: drawn)",
                placeholder="e.g. 40, 40, 160, 180",
                elem_id="box-a",
            )
            box_b = gr.Textbox(
                label="Box B: top, left, bottom, right (empty: drawn)",
                placeholder="e.g. 0, 60, 120, 200",
                elem_id="box-b",
            )
    return {"target_a": target_a, "target_b": target_b, "beta": beta, "box_a": box_a, "box_b": box_b}


def _run_row() -> dict:
    with gr.Row(equal_height=True):
        seed = gr.Number(0, precision=0, label="Seed of the boxes", minimum=0, elem_id="seed", scale=1)
        new_boxes = gr.Button("New boxes (next seed)", elem_id="new-boxes", scale=1)
        run = gr.Button("Run SnapMix", variant="primary", elem_id="run", scale=2)
        cmap = gr.Dropdown(list(COLORMAPS), value="jet", label="Colormap", elem_id="cmap", scale=1)
        alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity", elem_id="alpha", scale=1)
    return {"seed": seed, "new_boxes": new_boxes, "run": run, "cmap": cmap, "alpha": alpha}


def _picture(label: str, elem_id: str) -> gr.Image:
    return gr.Image(
        label=label, format="png", interactive=False, height=260, elem_id=elem_id, min_width=240, buttons=["download"]
    )


def _results() -> dict:
    with gr.Row():
        cam_a = _picture("CAM of A, box A (where the patch lands)", "cam-a")
        cam_b = _picture("CAM of B, box B (where the patch is cut)", "cam-b")
        mixed = _picture("Mixed image (patch outlined)", "mixed")
    with gr.Row():
        with gr.Column(scale=4):
            chart = gr.HTML(
                "<div class='wnote'>Run SnapMix to see the label weights.</div>",
                label="Label weights",
                elem_id="weights-chart",
                container=True,
            )
        top_a = gr.Label(num_top_classes=5, label="Top-5 of A", elem_id="top-a", scale=2, min_width=240)
        top_b = gr.Label(num_top_classes=5, label="Top-5 of B", elem_id="top-b", scale=2, min_width=240)
    with gr.Row():
        status = gr.HTML("", elem_id="status")
        result_file = gr.DownloadButton(
            "Download result.json", value=None, elem_id="result-json", size="sm", scale=0, min_width=200
        )
    return {
        "cam_a": cam_a,
        "cam_b": cam_b,
        "mixed": mixed,
        "chart": chart,
        "top_a": top_a,
        "top_b": top_b,
        "status": status,
        "result_file": result_file,
    }


def _api() -> dict:
    """The hidden components behind the public `/snapmix` endpoint."""
    with gr.Group(visible=False):
        inputs = api_inputs()
        output = gr.JSON(label="result")
        trigger = gr.Button("api")
    return {"api_inputs": inputs, "api_output": output, "api_trigger": trigger}


def _wire(ui: SimpleNamespace) -> None:
    """Every listener, in one place: the pipeline events share one concurrency group."""
    run_inputs = [ui.img_a, ui.img_b, ui.backbone, ui.weights, ui.mode, ui.target_a, ui.target_b, ui.beta]
    run_inputs += [ui.seed, ui.box_a, ui.box_b, ui.cmap, ui.alpha]
    run_outputs = [ui.state, ui.cam_a, ui.cam_b, ui.mixed, ui.chart, ui.top_a, ui.top_b, ui.status, ui.result_file]
    private = {"api_visibility": "private"}
    ui.run.click(handlers.on_run, run_inputs, run_outputs, **private, **PIPELINE)
    ui.new_boxes.click(handlers.on_new_boxes, ui.seed, ui.seed, **private).then(
        handlers.on_run, run_inputs, run_outputs, **private, **PIPELINE
    )
    ui.examples.load_input_event.then(handlers.on_run, run_inputs, run_outputs, **private, **PIPELINE)
    gr.on(
        [ui.cmap.change, ui.alpha.release],
        handlers.on_display,
        [ui.state, ui.cmap, ui.alpha],
        [ui.cam_a, ui.cam_b],
        **private,
    )
    ui.backbone.change(handlers.on_backbone, ui.backbone, [ui.weights, ui.target_a, ui.target_b], **private).then(
        handlers.on_mode, [ui.backbone, ui.mode], [ui.source, ui.mode_note], **private
    )
    ui.weights.input(handlers.on_weights, [ui.backbone, ui.weights], [ui.target_a, ui.target_b], **private)
    ui.mode.change(handlers.on_mode, [ui.backbone, ui.mode], [ui.source, ui.mode_note], **private)
    ui.api_trigger.click(snapmix, ui.api_inputs, ui.api_output, api_name="snapmix", **PIPELINE)


def build_demo() -> gr.Blocks:
    """The whole app; `server.launch_kwargs()` gives its theme, CSS and safe server settings."""
    with gr.Blocks(title="SnapMix explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("SnapMix"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    inputs = _image_inputs()
                with gr.Column(scale=2):
                    controls = _model_controls()
            ui = SimpleNamespace(**inputs, **controls, **_options(), **_run_row(), **_results())
        with gr.Tab("@patch_to playground", elem_id="playground-tab"):
            playground.build()
        ui.state = gr.State(None)
        ui.__dict__.update(_api())
        _wire(ui)
    return demo.queue(**QUEUE)
