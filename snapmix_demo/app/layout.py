"""The page: Gradio Blocks laid out top to bottom as the user reads it, and every listener wired at the end.

Each section is a small function that returns its components by name; `build_demo` puts the
sections together and `_wire` connects them to the handlers. How each control acts on the
results (re-run, re-render, or mark them out of date) is decided in `_wire`, and listed in the README.
"""

import dataclasses
from types import SimpleNamespace

import gradio as gr

from snapmix_demo.app import compare, handlers, links, playground
from snapmix_demo.app.api import api_inputs, compare_inputs, snapmix
from snapmix_demo.app.api import compare as compare_api
from snapmix_demo.app.choices import (
    MODE_NOTES,
    PREDICTED,
    backbone_choices,
    class_choices,
    default_weights,
    patch_source,
    weights_choices,
)
from snapmix_demo.app.examples import PHOTO_PAIRS, PHOTOS, ExampleSet, example_sets
from snapmix_demo.app.panels import results_area
from snapmix_demo.app.requests import BETA_RANGE, CHECKPOINT_TYPES, RAW, REQUEST, VIEWS, PairRequest
from snapmix_demo.app.run import RESULT_OUTPUTS, Shown, first_view
from snapmix_demo.app.serving.server import PIPELINE, QUEUE
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.pipeline import DEFAULT_BACKBONE
from snapmix_demo.render import COLORMAPS
from snapmix_demo.weights import user

__all__ = ["build_demo"]

FIRST_PAIR = PHOTO_PAIRS[0]  # cat + coffee: the first page shows its result, computed at start-up
CLASSES_TEXT_MAX_CHARS = 15_000  # pasted names travel with every run request, whose body is capped (64 KB)
INTRO = (
    "# SnapMix explorer\n"
    "SnapMix pastes a box of image <span class='legend-b'>B</span> into image "
    "<span class='legend-a'>A</span> and weighs the two labels by how much of each image's "
    "**class activation map** (CAM) the boxes hold, where CutMix uses the box **area**. "
    "Every backbone gets the same API through fastcore's `@patch_to`."
)


def _image(label: str, elem_id: str, value: str | None = None) -> gr.Image:
    """An image input; its events skip Gradio's preprocessing (`RAW`), so only our decoder reads the file."""
    return gr.Image(
        value,
        label=label,
        alt_text=label,
        type="filepath",
        image_mode=None,
        height=230,
        sources=["upload", "clipboard"],
        buttons=["fullscreen"],
        elem_id=elem_id,
        min_width=240,
    )


def _image_inputs(first: dict | None) -> dict:
    """Both image inputs (holding the first page's example when there is one) and the example sets."""
    a, b = FIRST_PAIR if first else (None, None)
    with gr.Row():
        img_a = _image("Image A (receives the patch)", "image-a", a)
        img_b = _image("Image B (the patch comes from it)", "image-b", b)
    examples = [
        (
            gr.Examples(
                chosen.pairs,
                inputs=[img_a, img_b],
                label=f"Examples: {chosen.title}",
                examples_per_page=4,
                elem_id=f"examples-{chosen.key}",
                cache_examples=False,
            ),
            chosen,
        )
        for chosen in example_sets()
    ]
    return {"img_a": img_a, "img_b": img_b, "examples": examples}


def _model_controls() -> dict:
    first = default_weights(DEFAULT_BACKBONE)
    backbone = gr.Dropdown(backbone_choices(), value=DEFAULT_BACKBONE, label="Backbone", elem_id="backbone")
    weights = gr.Radio(weights_choices(DEFAULT_BACKBONE), value=first, label="Weights", elem_id="weights")
    own = _own_checkpoint()
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
    return {"backbone": backbone, "weights": weights, **own, "mode": mode, "mode_note": mode_note, "source": source}


def _own_checkpoint() -> dict:
    """A user's fine-tuned checkpoint of the chosen backbone and its class names; shown while "own checkpoint" is."""
    limit = f"{user.CHECKPOINT_MAX_BYTES / 2**20:g} MB"
    with gr.Column(visible=False, elem_id="own-checkpoint") as own:
        gr.Markdown(
            f"Your checkpoint of the backbone above ({', '.join(CHECKPOINT_TYPES)}; up to {limit}; loaded with "
            "`weights_only=True`) and its class names in the order of its outputs (without them: class 0, "
            f"class 1, ...); paste up to {CLASSES_TEXT_MAX_CHARS:,} characters, upload longer lists.",
            elem_id="own-note",
        )
        checkpoint = gr.File(label="Checkpoint", file_types=CHECKPOINT_TYPES, height=110, elem_id="checkpoint")
        classes_file = gr.File(label="Class names (.txt)", file_types=[".txt"], height=110, elem_id="classes-file")
        classes_text = gr.Textbox(
            label="...or paste the class names, one per line",
            placeholder="sparrow\nfinch\n...",
            lines=3,
            max_lines=8,
            max_length=CLASSES_TEXT_MAX_CHARS,
            elem_id="classes-text",
        )
    return {"own": own, "checkpoint": checkpoint, "classes_file": classes_file, "classes_text": classes_text}


def _target(label: str, elem_id: str, classes: list[str]) -> gr.Dropdown:
    return gr.Dropdown(classes, value=PREDICTED, label=label, filterable=True, allow_custom_value=True, elem_id=elem_id)


def _options() -> dict:
    classes = class_choices(DEFAULT_BACKBONE, default_weights(DEFAULT_BACKBONE))
    with gr.Accordion("Classes, boxes and randomness", open=False, elem_id="options"):
        with gr.Row():
            target_a = _target("Class of A (CAM target)", "target-a", classes)
            target_b = _target("Class of B (CAM target)", "target-b", classes)
            beta = gr.Slider(
                *BETA_RANGE, value=5.0, step=0.1, label="beta of Beta(beta, beta) box sizes", elem_id="beta"
            )
        with gr.Row():
            box_a = gr.Textbox(
                label="Box A: top, left, bottom, right (empty: drawn; Enter applies)",
                placeholder="e.g. 40 40 160 180",
                elem_id="box-a",
                max_length=80,
            )
            box_b = gr.Textbox(
                label="Box B: top, left, bottom, right (empty: drawn; Enter applies)",
                placeholder="e.g. 0, 60, 120, 200",
                elem_id="box-b",
                max_length=80,
            )
    return {"target_a": target_a, "target_b": target_b, "beta": beta, "box_a": box_a, "box_b": box_b}


def _run_row() -> dict:
    with gr.Row(equal_height=True):
        seed = gr.Textbox(  # text, not gr.Number: a float would round seeds past 2**53 and take `1e3`
            "0", label="Seed of the boxes", max_lines=1, max_length=40, elem_id="seed", scale=1, min_width=120
        )
        new_boxes = gr.Button("New boxes (next seed)", elem_id="new-boxes", scale=1, min_width=120)
        run = gr.Button("Run SnapMix", variant="primary", elem_id="run", scale=2, min_width=120)
    with gr.Row(equal_height=True):
        cmap = gr.Dropdown(list(COLORMAPS), value="jet", label="Colormap", elem_id="cmap", scale=1, min_width=120)
        alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity", elem_id="alpha", scale=2, min_width=160)
        view = gr.Radio(list(VIEWS), value=VIEWS[0], label="CAM panels show", elem_id="view", scale=2, min_width=200)
    return {"seed": seed, "new_boxes": new_boxes, "run": run, "cmap": cmap, "alpha": alpha, "view": view}


def _api() -> dict:
    """The hidden components behind the public `/snapmix` and `/compare` endpoints."""
    with gr.Group(visible=False):
        inputs = api_inputs()
        output = gr.JSON(label="result")
        trigger = gr.Button("api")
        compared = compare_inputs()
        compared_output = gr.JSON(label="comparison")
        compared_trigger = gr.Button("compare")
    return {
        "api_inputs": inputs,
        "api_output": output,
        "api_trigger": trigger,
        "compare_inputs": compared,
        "compare_output": compared_output,
        "compare_trigger": compared_trigger,
    }


def _pick(ui: SimpleNamespace, names: tuple[str, ...]) -> list:
    return [getattr(ui, name) for name in names]


def _wire(ui: SimpleNamespace) -> None:
    """Every listener, in one place. Per control: re-run (cheap), re-render (no model), or mark out of date."""
    request, display, outputs = _pick(ui, REQUEST), _pick(ui, ("cmap", "alpha", "view")), _pick(ui, RESULT_OUTPUTS)
    private = {"api_visibility": "private"}
    run = {**private, **RAW, **PIPELINE}
    check = {"fn": handlers.on_banner, "inputs": [ui.state, *request, *display], "outputs": ui.banner, **private, **RAW}

    def then_check(event) -> None:  # a run's banner is re-checked against the controls as they are now
        checked = event.then(**check, concurrency_id="check")
        checked.then(links.link_html, [ui.state, *display], ui.link, **private, **RAW)  # raw: any typed opacity

    then_check(ui.run.click(handlers.on_run, [*request, *display], outputs, **run))
    new_seed = ui.new_boxes.click(handlers.on_new_boxes, ui.seed, ui.seed, **private)
    then_check(new_seed.then(handlers.on_run, [*request, *display], outputs, **run))
    for examples, chosen in ui.examples:
        _wire_examples(ui, examples, chosen, [*request, *display], outputs, then_check)
    # Cheap changes re-run at once (the analysis cache makes them cheap); typing only marks the results stale.
    auto = [ui.img_a.input, ui.img_b.input, ui.mode.input, ui.target_a.input, ui.target_b.input, ui.beta.change]
    auto += [ui.seed.submit, ui.seed.blur, ui.box_a.submit, ui.box_a.blur, ui.box_b.submit, ui.box_b.blur]
    rerun_inputs = [ui.state, *request, *display]
    then_check(gr.on(auto, handlers.on_auto, rerun_inputs, outputs, trigger_mode="always_last", **run))
    gr.on([c.change for c in request], **check, trigger_mode="always_last", concurrency_id="check")
    redraw = gr.on(  # raw: a typed opacity reaches `display_options` as typed (the slider would raise its own Error)
        [ui.cmap.change, ui.alpha.change, ui.view.change],
        handlers.on_display,
        [ui.state, *display, *request],
        [ui.cam_a, ui.cam_b, ui.downloads, ui.banner],
        trigger_mode="always_last",
        **private,
        **RAW,
    )
    then_check(redraw.then(handlers.on_auto, rerun_inputs, outputs, **run))  # a run that failed on a bad opacity
    opened = ui.demo.load(links.on_open, None, _pick(ui, links.OPENED), **private)  # a link's query string
    opened = opened.then(handlers.on_mode, [ui.backbone, ui.mode], [ui.source, ui.mode_note], **private)
    then_check(opened.then(handlers.on_auto, rerun_inputs, outputs, **run))
    _wire_model(ui)
    ui.mode.change(handlers.on_mode, [ui.backbone, ui.mode], [ui.source, ui.mode_note], **private)
    ui.spread_button.click(handlers.on_spread, ui.state, [ui.spread, ui.spread_note], **private)
    ui.api_trigger.click(snapmix, ui.api_inputs, ui.api_output, api_name="snapmix", **RAW, **PIPELINE)
    compare.wire(ui, ui.compare_tab, request, PIPELINE)
    ui.compare_trigger.click(compare_api, ui.compare_inputs, ui.compare_output, api_name="compare", **RAW, **PIPELINE)


def _wire_model(ui: SimpleNamespace) -> None:
    """Backbone, weights and the own checkpoint's files: the weights choices and target lists follow them.

    They may download weights or read a checkpoint (for its number of classes): one at a time, files raw.
    """
    files = {"api_visibility": "private", "concurrency_id": "weights", **RAW}
    own = [ui.checkpoint, ui.classes_file, ui.classes_text]
    model_widgets = [ui.weights, ui.target_a, ui.target_b, ui.own]
    ui.backbone.input(handlers.on_backbone, [ui.backbone, ui.weights, *own], model_widgets, **files).then(
        handlers.on_mode, [ui.backbone, ui.mode], [ui.source, ui.mode_note], api_visibility="private"
    )
    ui.weights.input(handlers.on_weights, [ui.backbone, ui.weights, *own], model_widgets, **files)
    chosen, targets = [ui.backbone, ui.weights, ui.checkpoint], [ui.target_a, ui.target_b]
    gr.on(
        [ui.checkpoint.upload, ui.checkpoint.clear, ui.classes_file.clear],
        handlers.on_classes,
        [*chosen, ui.classes_file, ui.classes_text, *targets],
        targets,
        **files,
    )
    ui.classes_file.upload(
        handlers.on_class_file, [*chosen, ui.classes_file, *targets], [ui.classes_text, *targets], **files
    )
    ui.classes_text.change(  # not .input: a paste does not fire it; an emptied box falls back to the file
        handlers.on_class_text,
        [*chosen, ui.classes_file, ui.classes_text, *targets],
        [ui.classes_file, *targets],
        trigger_mode="always_last",
        **files,
    )


def _wire_examples(ui, examples: gr.Examples, chosen: ExampleSet, run_inputs, outputs, then_check) -> None:
    """An example sets its images, then its backbone and weights (class lists reset), then runs."""
    private = {"api_visibility": "private"}
    model = [ui.backbone, ui.weights, ui.target_a, ui.target_b, ui.own, ui.source]
    set_model = examples.load_input_event.then(
        lambda mode: handlers.on_example(chosen.backbone, chosen.weights, mode), ui.mode, model, **private
    )
    then_check(set_model.then(handlers.on_run, run_inputs, outputs, **private, **RAW, **PIPELINE))


def _first() -> dict | None:
    """The first page's result: the first photo example with the controls' defaults (see `run.first_view`)."""
    model = {"backbone": DEFAULT_BACKBONE, "weights": PHOTOS.weights, "mode": "default"}
    request = PairRequest(*FIRST_PAIR, **model, target_a=PREDICTED, target_b=PREDICTED, beta=5.0, seed="0")
    return first_view(request, ("jet", 0.5, VIEWS[0]))


def _first_state(first: dict | None, ui: SimpleNamespace) -> Shown | None:
    """The first result as shown, its images named as the page will send them (Gradio's cached copies)."""
    if first is None:
        return None
    shown = first["state"]
    request = dataclasses.replace(shown.request, image_a=ui.img_a.value["path"], image_b=ui.img_b.value["path"])
    return dataclasses.replace(shown, request=request)


def build_demo() -> gr.Blocks:
    """The whole app; `server.launch_kwargs()` gives its theme, CSS and safe server settings."""
    first = _first()  # before the Blocks: nothing in it may create a component
    with gr.Blocks(title="SnapMix explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("SnapMix"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    inputs = _image_inputs(first)
                with gr.Column(scale=2, min_width=300):
                    controls = _model_controls()
            ui = SimpleNamespace(**inputs, **controls, **_options(), **_run_row(), **results_area(first))
        with gr.Tab("Compare mixes", elem_id="compare-tab") as compare_tab:
            ui.__dict__.update(compare.build())
        with gr.Tab("@patch_to playground", elem_id="playground-tab"):
            playground.build()
        ui.compare_tab = compare_tab
        ui.compare_state = gr.State(None)
        ui.state = gr.State(_first_state(first, ui))
        ui.link.value = links.link_html(ui.state.value, "jet", 0.5, VIEWS[0])
        ui.demo = demo
        ui.__dict__.update(_api())
        _wire(ui)
    return demo.queue(**QUEUE)
