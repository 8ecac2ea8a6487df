"""A link that restores the view: the example pair by name, and every control, as the page's query string.

`?pair=cat.jpg,coffee.jpg&backbone=...&seed=7&...` opens the page with those values and runs them.
Only committed examples can be named (an uploaded image is never kept, so it cannot be linked to; the
link then restores the controls and says so). An own checkpoint is not restored either. Values are put
into the controls as they are and checked like typed values: a wrong one is named by the run.
"""

import functools
import hashlib
import html
import urllib.parse
from pathlib import Path

import gradio as gr

from snapmix_demo.app.choices import PREDICTED, class_choices, weights_choices
from snapmix_demo.app.examples import EXAMPLES, EXAMPLES_DIR
from snapmix_demo.app.requests import CHECKPOINT, VIEWS
from snapmix_demo.app.run import Shown
from snapmix_demo.backbones import BACKBONES
from snapmix_demo.patches import PATCH_MODES
from snapmix_demo.render import COLORMAPS

__all__ = ["LINKED", "OPENED", "link_html", "on_open"]

# The query keys, in the order `on_open` returns their controls (the two images come first, as `pair`).
LINKED = ("backbone", "weights", "mode", "target_a", "target_b", "beta", "seed", "box_a", "box_b")
DISPLAY = ("cmap", "alpha", "view")
OPENED = ("img_a", "img_b", *LINKED, *DISPLAY)  # the page's component names that `on_open` returns, in order
EXAMPLE_NAMES = sorted({Path(path).name for pair in EXAMPLES for path in pair})


@functools.cache
def _example_digest(name: str) -> str:
    return hashlib.sha256((EXAMPLES_DIR / name).read_bytes()).hexdigest()


def _example_name(source) -> str | None:
    """The committed example an image is (same name and same bytes as Gradio's copy of it), else None."""
    if not isinstance(source, str) or Path(source).name not in EXAMPLE_NAMES:
        return None
    try:
        same = hashlib.sha256(Path(source).read_bytes()).hexdigest() == _example_digest(Path(source).name)
    except OSError:
        return None
    return Path(source).name if same else None


def link_html(shown: Shown | None, cmap, alpha, view) -> str:
    """The link to what is on screen, and what it does not restore."""
    if shown is None or shown.result is None:
        return ""
    request = shown.request
    values = {name: getattr(request, name) for name in LINKED}
    query = {k: "" if v is None else str(v) for k, v in values.items() if k != "weights" or v != CHECKPOINT}
    names = [_example_name(source) for source in (request.image_a, request.image_b)]
    if all(names):
        query = {"pair": ",".join(names), **query}
    query |= dict(zip(DISPLAY, (cmap, alpha, view), strict=True))
    missing = []
    if not all(names):
        missing.append("your uploaded images (they are not kept: upload them again)")
    if values["weights"] == CHECKPOINT:
        missing.append("your own checkpoint and class names")
    said = f" It does not restore {' or '.join(missing)}." if missing else " It restores the example pair too."
    href = "?" + urllib.parse.urlencode(query)
    return (
        f'<div class="wnote"><a href="{html.escape(href)}" id="view-link">Link to this view</a>: the controls as '
        f"they are (backbone, weights, mode, classes, beta, seed, boxes, colormap, opacity, view).{html.escape(said)}"
        "</div>"
    )


def _choice(value: str | None, allowed) -> object:
    return value if value in allowed else gr.skip()


def _number(query: dict, key: str) -> object:
    """A slider's value from the query: a number when it reads as one, else the text (the run then names it)."""
    if key not in query:
        return gr.skip()
    try:
        return float(query[key])
    except ValueError:
        return query[key]


def on_open(request: gr.Request):
    """The controls a link names, set from the page's query string; absent or unknown names are left as they are.

    Returns: image A, image B, backbone, weights, mode, target A, target B, beta, seed, box A, box B, cmap,
    alpha, view.
    """
    query = dict(request.query_params) if request is not None else {}
    pair = (query.get("pair") or "").split(",")
    images = (
        [str(EXAMPLES_DIR / name) for name in pair]
        if len(pair) == 2 and all(name in EXAMPLE_NAMES for name in pair)
        else [gr.skip(), gr.skip()]
    )
    backbone = query.get("backbone") if query.get("backbone") in BACKBONES else None
    weights = query.get("weights")
    if backbone is not None:
        kinds = [value for _, value in weights_choices(backbone) if value != CHECKPOINT]
        weights = weights if weights in kinds else kinds[0]
        classes = class_choices(backbone, weights)
        radio = gr.Radio(choices=weights_choices(backbone), value=weights)
        targets = [gr.Dropdown(choices=classes, value=query.get(k, PREDICTED)) for k in ("target_a", "target_b")]
    else:
        radio, targets = gr.skip(), [gr.skip(), gr.skip()]
    typed = [_number(query, "beta"), *(query[k] if k in query else gr.skip() for k in ("seed", "box_a", "box_b"))]
    alpha = _number(query, "alpha")
    return (
        *images,
        backbone or gr.skip(),
        radio,
        _choice(query.get("mode"), PATCH_MODES),
        *targets,
        *typed,
        _choice(query.get("cmap"), COLORMAPS),
        alpha,
        _choice(query.get("view"), VIEWS),
    )
