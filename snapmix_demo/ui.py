"""The Gradio app: two images in; CAMs, the SnapMix-mixed image and its label weights out.

Handlers only translate between widgets and the core (`snapmix_pair`, `render`); all
listeners are wired at the bottom of `build_demo`. Known input errors become a short
`gr.Error`; anything else is logged and the user sees a generic message.
"""

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import torch

from snapmix_demo import ui_playground
from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.imageio import MAX_BYTES
from snapmix_demo.patches import PATCH_MODES, accessor_source
from snapmix_demo.pipeline import DEFAULT_BACKBONE, PairResult, snapmix_pair
from snapmix_demo.render import COLOR_A, COLOR_B, COLORMAPS, mixed_view, overlays, weights_html
from snapmix_demo.weights import available_weights, weights_classes

__all__ = ["DEFAULT_BACKBONE", "EXAMPLES", "build_demo", "launch_kwargs"]

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = [
    [str(ASSETS / "examples" / a), str(ASSETS / "examples" / b)]
    for a, b in (
        ("shape_star.png", "shape_ring.png"),
        ("shape_cross.png", "shape_hexagon.png"),
        ("cat.jpg", "coffee.jpg"),
        ("astronaut.jpg", "grace_hopper.jpg"),
    )
]
PREDICTED = "predicted"
MODE_NOTES = {
    "default": "**default**: a plain method, bound to the *instance*: `model.get_fc()` returns the final Linear.",
    "cls_method": (
        "**cls_method**: bound to the *class*, so it can only state a class-level fact: `type(model).fc_path()` "
        "gives the Linear's dotted path, resolved with `model.get_submodule(path)`."
    ),
    "as_prop": "**as_prop**: a read-only *property* of the instance, read without parentheses: `model.fc_layer`.",
}
_RESULTS_DIR = Path(tempfile.mkdtemp(prefix="snapmix-results-"))
# Pipeline runs share one concurrency group. They are compute-bound: on 2 cores a clean load run gave the same
# throughput at limits 1 and 4 (benchmarks/bench_load.py), so one at a time keeps latency predictable. Uploads,
# downloads and the queue still overlap. Raise it on machines with more cores.
PIPELINE = {"concurrency_limit": int(os.environ.get("SNAPMIX_PIPELINE_CONCURRENCY", "1")), "concurrency_id": "pipeline"}
QUEUE_MAX_SIZE = 64
_KEEP_RESULT_FILES = 64

CSS = f"""
.wchart {{ font-size: 14px; line-height: 1.3; }}
.whead {{ font-weight: 600; margin: 8px 0 4px; }}
.wbar {{ display: grid; grid-template-columns: 15em 1fr 3.5em; gap: 8px; align-items: center; margin: 3px 0; }}
.wname {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.wtrack {{ background: var(--block-border-color); border-radius: 4px; height: 14px; overflow: hidden; }}
.wfill {{ display: block; height: 100%; border-radius: 4px; }}
.wval {{ text-align: right; font-variant-numeric: tabular-nums; }}
.wnote {{ margin-top: 8px; color: var(--body-text-color-subdued); font-size: 13px; }}
.legend-a {{ color: {COLOR_A}; font-weight: 600; }}
.legend-b {{ color: {COLOR_B}; font-weight: 600; }}
/* gr.HTML ignores min_width: on phones the status line takes the full width, the download button wraps below */
#status {{ font-size: 14px; min-width: min(320px, 100%) !important; }}
/* long block labels wrap clear of the icon buttons at the block's top right instead of running under them */
:is(#patch-source, #image-a, #image-b) > label[data-testid="block-label"] {{
  white-space: normal; max-width: calc(100% - 64px);
}}
:is(#cam-a, #cam-b, #mixed) > label[data-testid="block-label"] {{ white-space: normal; max-width: calc(100% - 40px); }}
"""


# ## Translating errors


def _user_errors(fn: Callable) -> Callable:
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


def _class_choices(backbone: str, weights: str) -> list[str]:
    return [PREDICTED, *weights_classes(backbone, weights)]


def _patch_source(backbone: str, mode: str) -> str:
    return accessor_source(_model_class(backbone), mode)


@functools.cache
def _model_class(backbone: str) -> type:
    """The upstream class behind `backbone` (built once on the meta device: no weights, no memory)."""
    with torch.device("meta"):
        return type(get_spec(backbone).builder(num_classes=1))


def on_backbone(backbone: str):
    """New backbone: its available weights, class lists and patch source."""
    kinds = available_weights(backbone)
    classes = _class_choices(backbone, kinds[0])
    return (
        gr.Radio(choices=kinds, value=kinds[0]),
        gr.Dropdown(choices=classes, value=PREDICTED),
        gr.Dropdown(choices=classes, value=PREDICTED),
    )


def on_weights(backbone: str, weights: str):
    """New weights: the class lists follow them."""
    classes = _class_choices(backbone, weights)
    return gr.Dropdown(choices=classes, value=PREDICTED), gr.Dropdown(choices=classes, value=PREDICTED)


def on_mode(backbone: str, mode: str):
    """The source of the patch this mode uses on this backbone's class, and what the mode binds."""
    return gr.Code(value=_patch_source(backbone, mode)), MODE_NOTES[mode]


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


def _run(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b) -> PairResult:
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
    path = _RESULTS_DIR / f"snapmix-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text)
    for old in sorted(_RESULTS_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-_KEEP_RESULT_FILES]:
        old.unlink(missing_ok=True)
    return str(path)


@_user_errors
def on_run(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b, cmap, alpha):
    """Run a pair; returns the state first, then every output widget."""
    res = _run(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b)
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


@_user_errors
def on_display(res: PairResult | None, cmap: str, alpha: float):
    """Re-render the overlays with a new colormap or opacity, without running the model."""
    if res is None:
        return gr.skip(), gr.skip()
    return overlays(res, cmap=cmap, alpha=float(alpha))


def on_new_boxes(seed) -> int:
    """The next seed: new boxes from the same cached CAMs."""
    return (_seed(seed) + 1) % 2**31 if seed is not None else 1


@_user_errors
def snapmix(
    image_a: str,
    image_b: str,
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
    res = _run(image_a, image_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b)
    return res.to_dict()


# ## Layout


def build_demo() -> gr.Blocks:
    """The whole app; `launch_kwargs()` gives its theme, CSS and safe server settings."""
    first_weights = available_weights(DEFAULT_BACKBONE)
    classes = _class_choices(DEFAULT_BACKBONE, first_weights[0])
    with gr.Blocks(title="SnapMix explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "# SnapMix explorer\n"
            "SnapMix pastes a box of image <span class='legend-b'>B</span> into image "
            "<span class='legend-a'>A</span> and weighs the two labels by how much of each image's "
            "**class activation map** (CAM) the boxes hold, where CutMix uses the box **area**. "
            "Every backbone gets the same API through fastcore's `@patch_to`."
        )
        with gr.Tab("SnapMix"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    with gr.Row():
                        img_a = gr.Image(
                            label="Image A (receives the patch)",
                            type="filepath",
                            image_mode=None,
                            height=230,
                            sources=["upload", "clipboard"],
                            buttons=["fullscreen"],
                            elem_id="image-a",
                            min_width=240,
                        )
                        img_b = gr.Image(
                            label="Image B (the patch comes from it)",
                            type="filepath",
                            image_mode=None,
                            height=230,
                            sources=["upload", "clipboard"],
                            buttons=["fullscreen"],
                            elem_id="image-b",
                            min_width=240,
                        )
                    examples = gr.Examples(
                        EXAMPLES,
                        inputs=[img_a, img_b],
                        label="Examples (offline)",
                        examples_per_page=4,
                        elem_id="examples",
                        cache_examples=False,
                    )
                with gr.Column(scale=2):
                    with gr.Row():
                        backbone = gr.Dropdown(
                            backbone_choices(), value=DEFAULT_BACKBONE, label="Backbone", elem_id="backbone", scale=3
                        )
                        weights = gr.Radio(
                            first_weights, value=first_weights[0], label="Weights", elem_id="weights", scale=2
                        )
                    mode = gr.Radio(list(PATCH_MODES), value="default", label="@patch_to mode", elem_id="mode")
                    mode_note = gr.Markdown(MODE_NOTES["default"], elem_id="mode-note")
                    source = gr.Code(
                        _patch_source(DEFAULT_BACKBONE, "default"),
                        language="python",
                        label="The patch this mode uses (snapmix_demo/patches.py)",
                        interactive=False,
                        elem_id="patch-source",
                        max_lines=9,
                        wrap_lines=True,
                    )
            with gr.Accordion("Classes, boxes and randomness", open=False, elem_id="options"):
                with gr.Row():
                    target_a = gr.Dropdown(
                        classes,
                        value=PREDICTED,
                        label="Class of A (CAM target)",
                        filterable=True,
                        allow_custom_value=True,
                        elem_id="target-a",
                    )
                    target_b = gr.Dropdown(
                        classes,
                        value=PREDICTED,
                        label="Class of B (CAM target)",
                        filterable=True,
                        allow_custom_value=True,
                        elem_id="target-b",
                    )
                    beta = gr.Slider(
                        0.1, 10, value=5.0, step=0.1, label="beta of Beta(beta, beta) box sizes", elem_id="beta"
                    )
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
            with gr.Row(equal_height=True):
                seed = gr.Number(0, precision=0, label="Seed of the boxes", minimum=0, elem_id="seed", scale=1)
                new_boxes = gr.Button("New boxes (next seed)", elem_id="new-boxes", scale=1)
                run = gr.Button("Run SnapMix", variant="primary", elem_id="run", scale=2)
                cmap = gr.Dropdown(list(COLORMAPS), value="jet", label="Colormap", elem_id="cmap", scale=1)
                alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity", elem_id="alpha", scale=1)
            with gr.Row():
                cam_a = gr.Image(
                    label="CAM of A, box A (where the patch lands)",
                    format="png",
                    interactive=False,
                    height=260,
                    elem_id="cam-a",
                    min_width=240,
                    buttons=["download"],
                )
                cam_b = gr.Image(
                    label="CAM of B, box B (where the patch is cut)",
                    format="png",
                    interactive=False,
                    height=260,
                    elem_id="cam-b",
                    min_width=240,
                    buttons=["download"],
                )
                mixed = gr.Image(
                    label="Mixed image (patch outlined)",
                    format="png",
                    interactive=False,
                    height=260,
                    elem_id="mixed",
                    min_width=240,
                    buttons=["download"],
                )
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
        with gr.Tab("@patch_to playground", elem_id="playground-tab"):
            ui_playground.build()
        state = gr.State(None)

        # Hidden inputs of the HTTP endpoint: plain files and values, decoded and validated by the core.
        with gr.Group(visible=False):
            api_inputs = [
                gr.File(label="image_a"),
                gr.File(label="image_b"),
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
            api_output = gr.JSON(label="result")
            api_trigger = gr.Button("api")

        run_inputs = [img_a, img_b, backbone, weights, mode, target_a, target_b, beta, seed, box_a, box_b, cmap, alpha]
        run_outputs = [state, cam_a, cam_b, mixed, chart, top_a, top_b, status, result_file]
        private = {"api_visibility": "private"}
        run.click(on_run, run_inputs, run_outputs, **private, **PIPELINE)
        new_boxes.click(on_new_boxes, seed, seed, **private).then(
            on_run, run_inputs, run_outputs, **private, **PIPELINE
        )
        examples.load_input_event.then(on_run, run_inputs, run_outputs, **private, **PIPELINE)
        gr.on([cmap.change, alpha.release], on_display, [state, cmap, alpha], [cam_a, cam_b], **private)
        backbone.change(on_backbone, backbone, [weights, target_a, target_b], **private).then(
            on_mode, [backbone, mode], [source, mode_note], **private
        )
        weights.input(on_weights, [backbone, weights], [target_a, target_b], **private)
        mode.change(on_mode, [backbone, mode], [source, mode_note], **private)
        api_trigger.click(snapmix, api_inputs, api_output, api_name="snapmix", **PIPELINE)
    return demo.queue(max_size=QUEUE_MAX_SIZE)


def launch_kwargs() -> dict:
    """Theme, CSS and server settings shared by `app.py` and the tests (no share link, bounded uploads)."""
    return {
        "theme": gr.themes.Soft(),
        "css": CSS,
        "footer_links": ["api"],
        "max_file_size": MAX_BYTES,
        "allowed_paths": [str(_RESULTS_DIR)],  # only the app's own result files, wherever the temp dir points now
    }
