"""Event handlers: what each control's event does, translating between the widgets and the core; no layout, no math.

The values come from Gradio as the page's components hold them (`requests.REQUEST`, then the display
options); each handler turns them into a `PairRequest` once and leaves the work to `choices` (what the
model controls offer) and `run` (running a pair and drawing its outputs).
"""

import html

import gradio as gr
import numpy as np

from snapmix_demo.app.choices import (
    MODE_NOTES,
    class_choices,
    default_weights,
    ensure_weights,
    model_widgets,
    patch_source,
    targets,
)
from snapmix_demo.app.explain import alt_texts, banner_html, error_html
from snapmix_demo.app.files import write_result_files
from snapmix_demo.app.messages import FIELD_LABELS, message_for, toast
from snapmix_demo.app.requests import CHECKPOINT, PairRequest, chosen_classes, display_options, page_values
from snapmix_demo.app.run import RESULT_OUTPUTS, Shown, display_error, result_files_for, run_outputs
from snapmix_demo.app.spread import box_spread, spread_png
from snapmix_demo.errors import InputError
from snapmix_demo.inputs import seed_text

__all__ = [
    "LAST_SEED",
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
]

LAST_SEED = 2**63 - 1


# ## The model controls: the weights choices and target lists follow them


def on_backbone(backbone: str, weights: str, checkpoint, classes_file, classes_text):
    """New backbone: its best weights at hand (an own checkpoint stays chosen), class lists, checkpoint controls."""
    if weights != CHECKPOINT:
        weights = default_weights(backbone)
    return model_widgets(backbone, weights, checkpoint, chosen_classes(classes_file, classes_text))


def on_example(backbone: str, weights: str, mode: str):
    """An example's model: backbone, weights, class lists reset to "predicted", patch source."""
    return (backbone, *model_widgets(backbone, weights), patch_source(backbone, mode))


def on_classes(backbone: str, weights: str, checkpoint, classes_file, classes_text, target_a: str, target_b: str):
    """A new checkpoint or class list: the target lists follow its classes, keeping chosen targets that remain."""
    if weights != CHECKPOINT:
        return gr.skip(), gr.skip()
    choices = class_choices(backbone, weights, checkpoint, chosen_classes(classes_file, classes_text))
    return targets(choices, target_a, target_b)


def on_class_file(backbone: str, weights: str, checkpoint, classes_file, target_a: str, target_b: str):
    """A class list file was uploaded: it replaces any pasted names, and the target lists follow it."""
    return "", *on_classes(backbone, weights, checkpoint, classes_file, "", target_a, target_b)


def on_class_text(backbone: str, weights: str, checkpoint, classes_file, classes_text, target_a: str, target_b: str):
    """Pasted or typed names replace an uploaded class file; the target lists follow the class list in use."""
    typed = bool(classes_text and classes_text.strip())
    cleared = None if typed and classes_file is not None else gr.skip()
    in_use = None if typed else classes_file
    return cleared, *on_classes(backbone, weights, checkpoint, in_use, classes_text, target_a, target_b)


def on_weights(backbone: str, weights: str, checkpoint, classes_file, classes_text, progress=gr.Progress()):  # noqa: B008
    """New weights: ImageNet weights not here yet are downloaded now; the class lists follow the weights.

    A failed download says why in a toast and falls back to the best weights at hand.
    """
    try:
        ensure_weights(backbone, weights, progress)
    except ValueError as e:  # DownloadError
        toast(message_for(e))
        weights = default_weights(backbone)
    return model_widgets(backbone, weights, checkpoint, chosen_classes(classes_file, classes_text))


def on_mode(backbone: str, mode: str):
    """The source of the patch this mode uses on this backbone's class, and what the mode binds."""
    return gr.Code(value=patch_source(backbone, mode)), MODE_NOTES[mode]


# ## Runs, and what marks their results out of date


def on_run(*values, progress=gr.Progress()):  # noqa: B008 (Gradio's progress idiom)
    """Run a pair on the `REQUEST` values and the display options; every output, never raising."""
    return run_outputs(*page_values(values), progress)


def on_auto(shown: Shown | None, *values, progress=gr.Progress()):  # noqa: B008
    """Re-run after a cheap change: with both images, when the request differs from what is shown.

    A run that failed on its drawing options re-runs once they are valid again.
    """
    request, display = page_values(values)
    if request.image_a is None or request.image_b is None:
        return (gr.skip(),) * len(RESULT_OUTPUTS)
    redraw = shown is not None and shown.result is None and shown.display != display and not display_error(display)
    if shown is not None and shown.request == request and not redraw:
        return (gr.skip(),) * len(RESULT_OUTPUTS)
    return run_outputs(request, display, progress)


def on_check(shown: Shown | None, *request) -> str:
    """The banner above the results: results whose controls have changed are out of date, and so is an error."""
    if shown is None:
        return ""
    stale = PairRequest.from_page(request) != shown.request
    if shown.error is not None:
        return error_html(shown.error, stale=stale)
    return banner_html(shown.result, stale=stale)


def on_banner(shown: Shown | None, *values) -> str:
    """`on_check` on the `REQUEST` values, unless the drawing options (the last three values) are wrong: that first."""
    *request, cmap, alpha, view = values
    return display_error((cmap, alpha, view)) or on_check(shown, *request)


def on_display(shown: Shown | None, cmap, alpha, view, *request):
    """Re-draw the maps with a new colormap, opacity or view, without running the model; a bad value is named.

    Returns the two CAM pictures, the downloads and the banner.
    """
    try:
        options = display_options(cmap, alpha, view)
    except InputError as e:
        toast(message_for(e))
        return gr.skip(), gr.skip(), gr.skip(), display_error((cmap, alpha, view))
    if shown is None or shown.result is None:
        return gr.skip(), gr.skip(), gr.skip(), on_check(shown, *request)
    files, alt = result_files_for(shown, *options), alt_texts(shown.result)
    return (
        gr.Image(files["cam_a.png"], alt_text=alt["cam_a"]),
        gr.Image(files["cam_b.png"], alt_text=alt["cam_b"]),
        list(files.values()),
        on_check(shown, *request),
    )


# ## What the result on screen offers: the spread over seeds, the next seed


def on_spread(shown: Shown | None):
    """The spread over `SPREAD_SEEDS` seeds' boxes for the pair on screen, from its cached CAMs (no model run)."""
    if shown is None or shown.result is None:
        message = "Run SnapMix first: the spread is computed from the CAMs of the pair on screen."
        toast(message)
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


def on_new_boxes(seed):
    """The next seed: new boxes from the same cached CAMs. After the last seed, 2**63 - 1, comes 0 again.

    A bad seed is left for the run to report.
    """
    try:
        value = seed_text(seed)
    except InputError:
        return gr.skip()
    if value == LAST_SEED:
        toast(f"{FIELD_LABELS['seed']}: {LAST_SEED} is the last seed (2^63 - 1); starting again from 0.")
        return "0"
    return str(value + 1)
