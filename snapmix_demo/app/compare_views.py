"""The "Compare mixes" tab's words and pictures: pure functions of a `MixComparison` (no events, no Gradio).

A grid caption per method, the random-weights banner, the table of weights beside the truth, a method's rule
with this pair's numbers (as the SnapMix panel words its formula), and the chart of every method's weights.
"""

import html
import io

import numpy as np
from matplotlib.figure import Figure

from snapmix_demo.lab import MixComparison, MixPair
from snapmix_demo.mixes import MIXES
from snapmix_demo.render import COLOR_A, COLOR_B
from snapmix_demo.snapmix import box_mass

__all__ = [
    "RULE_PLACEHOLDER",
    "caption",
    "chart_alt",
    "chart_png",
    "compare_banner_html",
    "formula_lines",
    "method_html",
    "table_html",
]

RULE_PLACEHOLDER = "<div class='wnote'>Choose a method to see its rule with this pair's numbers.</div>"


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
    return float(box_mass(spm, box))


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


def chart_alt(cmp: MixComparison) -> str:
    """The chart's alt text: every method's two weights in words, and the truth's ticks where known."""
    parts = [f"{p.spec.title}: A {p.rho_a:.2f}, B {p.rho_b:.2f}" for p in cmp.pairs.values()]
    truth = " Black ticks mark the true shares." if cmp.truth_known else ""
    return "Bar chart of every method's label weights. " + "; ".join(parts) + "." + truth
