"""The "Compare mixes" tab: the SnapMix tab's pair, backbone, classes, seed and beta through every mixing method.

Each method's mixed image sits in a grid captioned with its two label weights; one chart shows every
method's weights for A and B (and, where the images' object masks are known, the true shares); a table
gives the numbers with each weight's error against the truth; choosing a method shows its rules with this
pair's numbers. One forward per image (the SnapMix tab's cached analyses), then milliseconds per method.
"""

import html
import io
import logging

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from snapmix_demo.app.choices import ensure_weights
from snapmix_demo.app.explain import error_html
from snapmix_demo.app.files import write_result_files
from snapmix_demo.app.messages import GENERIC, message_for, toast
from snapmix_demo.app.requests import RAW, PairRequest, image_source, page_beta
from snapmix_demo.app.run import core_arguments
from snapmix_demo.errors import UserError
from snapmix_demo.lab import MixComparison, MixPair, compare_mixes
from snapmix_demo.mixes import MIXES
from snapmix_demo.render import COLOR_A, COLOR_B

__all__ = [
    "COMPARE_OUTPUTS",
    "build",
    "chart_png",
    "compare_banner_html",
    "formula_lines",
    "method_html",
    "on_compare",
    "on_method",
    "run_compare",
    "table_html",
    "wire",
]

logger = logging.getLogger(__name__)

COMPARE_OUTPUTS = ("compare_state", "compare_banner", "gallery", "compare_chart", "compare_table", "rule")
INTRO = (
    "Every mixing method on the pair of the **SnapMix** tab, with its backbone, weights, classes, seed and beta: "
    "one forward per image (cached), then milliseconds per method. Where the images' object masks are known "
    "(the shapes examples, or masks you give below) each weight is set beside the **truth**, the share of each "
    "object that the mix keeps."
)
RULE_PLACEHOLDER = "<div class='wnote'>Choose a method to see its rule with this pair's numbers.</div>"
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
    chart = gr.Image(paths["weights_by_method.png"], alt_text=_chart_alt(cmp))
    return cmp, compare_banner_html(cmp), gallery, chart, table_html(cmp), method_html(cmp, method)


def _png(img) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


# ## Words and pictures


def _esc(text: object) -> str:
    return html.escape(str(text))


def caption(pair: MixPair) -> str:
    """A grid caption: the method and its two weights, e.g. `CutMix · A 0.64 · B 0.36`."""
    return f"{pair.spec.title} · A {pair.rho_a:.2f} · B {pair.rho_b:.2f}"


def compare_banner_html(cmp: MixComparison) -> str:
    """Random weights: the CAM-guided methods' weights mean nothing; a shapes model on photos: little."""
    first = cmp.first
    guided = [p.spec.title for p in cmp.pairs.values() if p.spec.needs != "nothing"]
    if first.weights_kind == "random" and guided:
        return (
            f'<div class="banner random"><b>Random weights.</b> {_esc(first.backbone)} runs on random weights '
            f"here, so the maps that the CAM-guided methods read ({_esc(', '.join(guided))}) are noise, and their "
            "label weights mean nothing: only the area methods' weights and the arithmetic are real.</div>"
        )
    return ""


def _truth_cell(weight: float, truth: float | None, error: float | None) -> str:
    if truth is None:
        return f'<span class="cnum">{weight:.3f}</span>'
    return f'<span class="cnum">{weight:.3f}</span><span class="ctruth">true {truth:.3f} · error {error:+.3f}</span>'


def table_html(cmp: MixComparison) -> str:
    """Every method's two weights; with the truth known, each weight's true share and error under it."""
    first = cmp.first
    muted = first.weights_kind == "random"
    head = (
        f'<tr><th>Method</th><th class="legend-a">A: {_esc(first.label_a)}</th>'
        f'<th class="legend-b">B: {_esc(first.label_b)}</th></tr>'
    )
    rows = []
    for pair in cmp.pairs.values():
        meaningless = muted and pair.spec.needs != "nothing"
        name = f'<span class="meaningless">{_esc(pair.spec.title)}</span>' if meaningless else _esc(pair.spec.title)
        truth_b = None if pair.true_b is None else min(pair.true_b, 1.0)
        rows.append(
            f"<tr><td>{name}</td><td>{_truth_cell(pair.rho_a, pair.true_a, pair.error_a)}</td>"
            f"<td>{_truth_cell(pair.rho_b, truth_b, pair.error_b)}</td></tr>"
        )
    if cmp.truth_known:
        mae = {name: (abs(p.error_a) + abs(p.error_b)) / 2 for name, p in cmp.pairs.items()}
        best = min(mae, key=mae.get)
        note = (
            "The truth is the share of each object that the mix keeps (the same mix applied to the object masks; "
            f"B's clipped at 1). On this pair {_esc(MIXES[best].title)} comes closest (mean error "
            f"{mae[best]:.3f}); one pair is an anecdote: the README's table measures the methods over a thousand."
        )
    else:
        note = (
            "The truth is known only where the images' object masks are: pick a shapes example, or give both "
            "images' object masks below, to see each weight's error."
        )
    return (
        f'<div class="ctable"><table>{head}{"".join(rows)}</table>'
        f"<div class=\"wnote\">{note} Seed {first.seed}; SnapMix's boxes are the SnapMix tab's.</div></div>"
    )


def method_html(cmp: MixComparison | None, method: str) -> str:
    """A method's paper and rules, and its weights on this pair, as the SnapMix panel words its formula."""
    if method not in MIXES:
        return RULE_PLACEHOLDER
    spec = MIXES[method]
    paper = (
        f'<div class="whead">{_esc(spec.title)}</div><div>{_esc(spec.paper.title)}: '
        f'<a href="{_esc(spec.paper.url)}" target="_blank" rel="noopener">{_esc(spec.paper.cite)}</a></div>'
    )
    rules = [f"Image: {spec.image_rule}.", f"Labels: {spec.label_rule}."]
    if cmp is None or method not in cmp.pairs:
        lines = rules
    else:
        pair = cmp.pairs[method]
        lines = [*rules, *_numbers(pair)]
    body = "".join(f"<div>{_esc(line)}</div>" for line in lines)
    return f'<div class="wchart">{paper}<div class="wformula">{body}</div></div>'


def _numbers(pair: MixPair) -> list[str]:
    """This pair's numbers in the method's label rule."""
    params = ", ".join(f"{k} = {_param(v)}" for k, v in pair.params.items()) or "none"
    lines = [f"Parameters: {params}; seed {pair.seed}."]
    if pair.box_a is not None:
        lines.append(f"Box in A = {tuple(pair.box_a)}, from B = {tuple(pair.box_b)} (top, left, bottom, right).")
    lines.append(f"B's share of the pixels = mean(mask) = {pair.area_b:.3f}.")
    flat = [s for s, f in (("A", pair.fallback_a), ("B", pair.fallback_b)) if f]
    if flat:
        lines.append(f"The map of {' and '.join(flat)} is flat: the method fell back to area (or a random draw).")
    else:
        lines += formula_lines(pair)
    lines.append(f"ρA = {pair.rho_a:.3f}, ρB = {pair.rho_b:.3f}, ρA + ρB = {pair.rho_a + pair.rho_b:.3f}.")
    if pair.true_a is not None and pair.true_b is not None:
        more = " (more pixels than it had: B's crop is enlarged; counted as 1)" if pair.true_b > 1 else ""
        lines.append(
            f"Truth: A keeps {pair.true_a:.3f} of its object, B brings {pair.true_b:.3f} of its own{more}; "
            f"errors {pair.error_a:+.3f} and {pair.error_b:+.3f}."
        )
    return lines


def _mass(spm: np.ndarray, box: tuple[int, int, int, int]) -> float:
    top, left, bottom, right = box
    return float(spm[top:bottom, left:right].sum(dtype=np.float64))


def formula_lines(pair: MixPair) -> list[str]:
    """The method's label rule with this pair's numbers in it, as the SnapMix panel writes its formulas."""
    height, width = pair.mask.shape
    cells = height * width
    name = pair.method
    if name in ("snapmix", "snapmix_official"):
        kept, moved = _mass(pair.spm_a, pair.box_a), _mass(pair.spm_b, pair.box_b)
        return [f"ρA = 1 − ΣSPM_A[box A] = 1 − {kept:.3f} = {1 - kept:.3f}", f"ρB = ΣSPM_B[box B] = {moved:.3f}"]
    if name == "mixup":
        return [f"λ ~ Beta({_param(pair.params['beta'])}, {_param(pair.params['beta'])}) drew λ = {pair.rho_a:.3f}"]
    if name in ("cutmix", "saliencymix", "resizemix") and pair.box_a is not None:
        top, left, bottom, right = pair.box_a
        area = (bottom - top) * (right - left)
        return [f"ρB = |box| / (H × W) = {area} / ({height} × {width}) = {area / cells:.3f}, ρA = 1 − ρB"]
    if name == "attentive_cutmix":
        rows, cols = pair.params["grid"]
        k = pair.params["top_k"] if pair.params["top_k"] is not None else round(pair.rho_b * rows * cols)
        return [f"ρB = k / cells = {k} / ({rows} × {cols}) = {k / (rows * cols):.3f}, ρA = 1 − ρB"]
    if name in ("fmix", "guidedmixup"):
        return [f"ρB = mean(mask) = {pair.area_b:.3f}, ρA = 1 − ρB"]
    if name == "transmix":
        box, weight = pair.box_a, pair.params["area_weight"]
        area = (box[2] - box[0]) * (box[3] - box[1]) / cells
        kept, moved = 1 - _mass(pair.spm_a, box), _mass(pair.spm_b, box)
        cam = moved / (kept + moved) if kept + moved > 0 else area
        return [
            f"CAM share of B = ΣSPM_B[box] / (ΣSPM_A[outside] + ΣSPM_B[box]) = {moved:.3f} / ({kept:.3f} + "
            f"{moved:.3f}) = {cam:.3f}",
            f"ρB = {weight:g} × area {area:.3f} + {1 - weight:g} × CAM share {cam:.3f} = "
            f"{weight * area + (1 - weight) * cam:.3f}, ρA = 1 − ρB",
        ]
    return []


def _param(value: object) -> str:
    if isinstance(value, tuple):
        return " × ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def chart_png(cmp: MixComparison) -> bytes:
    """Every method's ρA and ρB as horizontal bars, the true shares as black ticks where known."""
    pairs = list(cmp.pairs.values())
    first = cmp.first
    fig = Figure(figsize=(5.6, 0.42 * len(pairs) + 1.5), dpi=100)
    ax = fig.add_subplot()
    rows = np.arange(len(pairs))[::-1]
    height = 0.38
    muted = first.weights_kind == "random"
    for i, (row, pair) in enumerate(zip(rows, pairs, strict=True)):
        alpha = 0.35 if muted and pair.spec.needs != "nothing" else 1.0
        ax.barh(row + height / 2, pair.rho_a, height, color=COLOR_A, alpha=alpha, label="ρA" if i == 0 else None)
        ax.barh(row - height / 2, pair.rho_b, height, color=COLOR_B, alpha=alpha, label="ρB" if i == 0 else None)
        if pair.true_a is not None and pair.true_b is not None:
            truth = "true share" if i == 0 else None
            ax.plot([pair.true_a] * 2, [row, row + height], color="black", lw=2, label=truth)
            ax.plot([min(pair.true_b, 1.0)] * 2, [row - height, row], color="black", lw=2)
    ax.set_yticks(rows, [p.spec.title for p in pairs], fontsize=9)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("label weight")
    ax.set_title(f"A: {first.label_a}   B: {first.label_b}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=3, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _chart_alt(cmp: MixComparison) -> str:
    parts = [f"{p.spec.title}: A {p.rho_a:.2f}, B {p.rho_b:.2f}" for p in cmp.pairs.values()]
    truth = " Black ticks mark the true shares." if cmp.truth_known else ""
    return "Bar chart of every method's label weights. " + "; ".join(parts) + "." + truth


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
