"""Words and small HTML that explain a `PairResult`: captions, the weights with their formula, top-5, banners.

Pure functions of a result, like `render.py`: every number comes from the result (the pipeline
computed it), this module only words and formats it. Everything that came from a user or a model
(class names, messages) is HTML-escaped.
"""

import html

from snapmix_demo.backbones import get_spec
from snapmix_demo.pipeline import PairResult
from snapmix_demo.render import COLOR_A, COLOR_B
from snapmix_demo.snapmix import Box, box_area
from snapmix_demo.weights import weights_classes

__all__ = [
    "LOW_CONFIDENCE",
    "alt_texts",
    "banner_html",
    "caption_html",
    "error_html",
    "low_confidence",
    "mixed_caption_html",
    "status_html",
    "topk_html",
    "weights_html",
]

_GREY_A, _GREY_B = "#64748b", "#94a3b8"
_RANDOM = "random weights: this class means nothing"
# A predicted top-1 below this is flagged. Measured with the ImageNet Lite0 (benchmarks/results/confidence.txt):
# flat, noise and gradient images reach at most 0.13, the example photos 0.41-0.88; the astronaut, which has no
# ImageNet class, gets "football helmet" at 0.19 and is rightly flagged too.
LOW_CONFIDENCE = 0.2


def _esc(text: object) -> str:
    return html.escape(str(text))


def _side(res: PairResult, side: str) -> dict:
    """The facts of one side ("A" or "B") under one set of names."""
    s = side.lower()
    return {
        "label": getattr(res, f"label_{s}"),
        "prob": getattr(res, f"prob_{s}"),
        "chosen": getattr(res, f"chosen_{s}"),
        "share": getattr(res, f"share_{s}"),
        "rho": getattr(res, f"rho_{s}"),
        "box": getattr(res, f"box_{s}"),
        "color": COLOR_A if side == "A" else COLOR_B,
    }


def low_confidence(res: PairResult, side: str) -> bool:
    """The side's class is a trained model's prediction with a top-1 probability below `LOW_CONFIDENCE`."""
    f = _side(res, side)
    return res.weights_kind != "random" and not f["chosen"] and f["prob"] < LOW_CONFIDENCE


def _class_line(res: PairResult, side: str) -> str:
    f = _side(res, side)
    how = "chosen" if f["chosen"] else "predicted"
    if res.weights_kind == "random":
        return f'<span class="meaningless">{side}: {_esc(f["label"])}</span> ({how}, p = {f["prob"]:.2f}; {_RANDOM})'
    line = f'<b style="color:{f["color"]}">{side}: {_esc(f["label"])}</b> ({how}, p = {f["prob"]:.2f})'
    if low_confidence(res, side):
        line += (
            f' <span class="lowconf">⚠ low confidence (p &lt; {LOW_CONFIDENCE:.2f}): the model does not recognise '
            "this image; its CAM shows where a weak guess looks</span>"
        )
    return line


def caption_html(res: PairResult, side: str) -> str:
    """Caption of one CAM panel: the map's class, its probability, and what its box holds of it.

    For example "box A holds 68 % of A's CAM → A keeps 0.32".
    """
    f = _side(res, side)
    if not res.mixed_applied:
        share = "an empty box: nothing is pasted, so A keeps 1 and B gets 0"
    elif f["share"] is None:
        fallback = res.area_lambda if side == "A" else 1 - res.area_lambda
        share = f"{side}'s CAM is flat (degenerate): its weight falls back to the area share, {fallback:.2f}"
    elif side == "A":
        share = f"box A holds {f['share'] * 100:.0f} % of A's CAM → A keeps {f['rho']:.2f}"
    else:
        share = f"box B holds {f['share'] * 100:.0f} % of B's CAM → B gets {f['rho']:.2f}"
    return f'<div class="caption">{_class_line(res, side)}<br>{share}</div>'


def alt_texts(res: PairResult) -> dict[str, str]:
    """What each result picture shows, in words, for screen readers (plain text: Gradio sets it as `alt`)."""

    def cam(side: str, where: str) -> str:
        f = _side(res, side)
        held = "a flat map" if f["share"] is None else f"{f['share'] * 100:.0f} % of the map"
        return (
            f"Class activation map of image {side} for '{f['label']}', box {side} "
            f"{_box_text(f['box'])} ({where}) outlined: it holds {held}."
        )

    mixed = (
        f"Image A with box A {_box_text(res.box_a)} replaced by image B's box B {_box_text(res.box_b)}, outlined."
        if res.mixed_applied
        else "Image A unchanged: the box is empty."
    )
    return {"cam_a": cam("A", "where the patch lands"), "cam_b": cam("B", "where the patch is cut"), "mixed": mixed}


def mixed_caption_html(res: PairResult) -> str:
    """Caption of the mixed image: what was pasted where, and what CutMix would have said."""
    if not res.mixed_applied:
        return '<div class="caption">Nothing pasted (an empty box): the mixed image is A.</div>'
    return (
        '<div class="caption">A with box A replaced by B\'s box B, resized to fit. By area, CutMix would give '
        f"A {res.area_lambda:.2f} and B {1 - res.area_lambda:.2f}.</div>"
    )


def _bar(label: str, value: float, color: str, *, muted: bool = False) -> str:
    pct = max(0.0, min(1.0, value)) * 100
    name = f'<span class="wname{" meaningless" if muted else ""}">{_esc(label)}</span>'
    return (
        f'<div class="wbar">{name}'
        f'<span class="wtrack"><span class="wfill" style="width:{pct:.1f}%;background:{color}"></span></span>'
        f'<span class="wval">{value:.3f}</span></div>'
    )


def weights_html(res: PairResult) -> str:
    """SnapMix's label weights beside CutMix's area weights, then the formulas with the numbers filled in."""
    a, b = f"A: {res.label_a}", f"B: {res.label_b}"
    muted = res.weights_kind == "random"
    rows = ['<div class="wchart"><div class="whead">SnapMix (share of each CAM)</div>']
    if res.same_class:
        rows.append(_bar(f"A+B: {res.label_a}", res.rho_a + res.rho_b, COLOR_A, muted=muted))
    else:
        rows += [_bar(a, res.rho_a, COLOR_A, muted=muted), _bar(b, res.rho_b, COLOR_B, muted=muted)]
    rows.append('<div class="whead">CutMix (share of the area)</div>')
    if res.same_class:
        rows.append(_bar(f"A+B: {res.label_a}", 1.0, _GREY_A, muted=muted))
    else:
        rows += [_bar(a, res.area_lambda, _GREY_A, muted=muted), _bar(b, 1.0 - res.area_lambda, _GREY_B, muted=muted)]
    rows += [_formulas(res), _boxes(res), f'<div class="wnote">{_esc(_note(res))}</div></div>']
    return "".join(rows)


def _formulas(res: PairResult) -> str:
    """ρA, ρB and λ as their definitions, with this result's numbers in them."""
    height, width = res.image_a.height, res.image_a.width
    if not res.mixed_applied:
        lines = ["An empty box: nothing is pasted, so ρA = 1 and ρB = 0."]
    else:
        rho_a = (
            f"ρA = λ = {res.rho_a:.3f} (A's CAM is flat: the area share)"
            if res.share_a is None
            else f"ρA = 1 − ΣSPM_A[box A] = 1 − {res.share_a:.3f} = {res.rho_a:.3f}"
        )
        rho_b = (
            f"ρB = 1 − λ = {res.rho_b:.3f} (B's CAM is flat: the area share)"
            if res.share_b is None
            else f"ρB = ΣSPM_B[box B] = {res.rho_b:.3f}"
        )
        area = f"{box_area(res.box_a):,} / ({height} × {width})".replace(",", " ")
        lines = [rho_a, rho_b, f"CutMix: λ = 1 − |box A| / (H × W) = 1 − {area} = {res.area_lambda:.3f}"]
    return '<div class="wformula">' + "".join(f"<div>{_esc(line)}</div>" for line in lines) + "</div>"


def _boxes(res: PairResult) -> str:
    height, width = res.image_a.height, res.image_a.width
    return (
        f'<div class="wboxes"><span class="legend-a">box A</span> = {_box_text(res.box_a)}, '
        f'<span class="legend-b">box B</span> = {_box_text(res.box_b)}: (top, left, bottom, right) in the '
        f"{height} × {width} model input</div>"
    )


def _box_text(box: Box) -> str:
    return "(" + ", ".join(map(str, box)) + ")"


def _note(res: PairResult) -> str:
    """One sentence on why the two weights need not add up to 1, for this pair."""
    if not res.mixed_applied:
        return "Nothing was pasted, so the label stays A's."
    total = res.rho_a + res.rho_b
    if res.same_class:
        return (
            f"Both images are '{res.label_a}': one label with weight ρA + ρB = {total:.3f}, not renormalised to 1 "
            "(the official code counts it twice)."
        )
    fallback = [side for side, flag in (("A", res.fallback_a), ("B", res.fallback_b)) if flag]
    if fallback:
        return f"The CAM of {' and '.join(fallback)} is flat, so its weight falls back to the area share."
    if f"{total:.3f}" == "1.000":
        return (
            "ρA + ρB = 1.000 here by coincidence: each weight is measured on its own image's CAM, and SnapMix "
            "never renormalises them."
        )
    return (
        f"ρA + ρB = {total:.3f}, not 1: ρA is measured on A's CAM where the patch lands, ρB on B's CAM where it "
        "was cut, so the two need not add up; SnapMix never renormalises them."
    )


def topk_html(res: PairResult, side: str) -> str:
    """The five most probable classes of one image; under random weights, marked as meaningless."""
    topk = res.topk_a if side == "A" else res.topk_b
    color = COLOR_A if side == "A" else COLOR_B
    muted = res.weights_kind == "random"
    head = f"Top-5 of {side}" + (" (random weights: meaningless)" if muted else "")
    rows = [_bar(label, p, _GREY_B if muted else color, muted=muted) for label, p in topk]
    return f'<div class="wchart topk"><div class="whead">{head}</div>{"".join(rows)}</div>'


def banner_html(res: PairResult | None, *, stale: bool) -> str:
    """What must be said above the results before anything else: results out of date, or random weights."""
    parts = []
    if stale:
        parts.append(
            '<div class="banner stale"><b>Out of date.</b> The controls have changed since these results were '
            "computed: press <b>Run SnapMix</b> to update them.</div>"
        )
    if res is not None and res.weights_kind == "shapes":
        shapes = ", ".join(weights_classes(res.backbone, "shapes"))
        parts.append(
            '<div class="banner random"><b>Shapes model.</b> These weights know only eight procedural shapes '
            f"({_esc(shapes)}) drawn on synthetic backgrounds: on any other picture their classes "
            "and maps say which shape it looks most like, nothing more.</div>"
        )
    if res is not None and res.weights_kind == "random":
        parts.append(
            f'<div class="banner random"><b>Random weights.</b> {_esc(res.backbone)} runs on random weights here, '
            "so its classes, probabilities and maps mean nothing: only the arithmetic is real. Choose ImageNet "
            "weights (or another backbone) to see what a trained model sees.</div>"
        )
    return "".join(parts)


def error_html(message: str, *, stale: bool = False, heading: str = "Could not run SnapMix.") -> str:
    """The message of a run that failed, shown where the results would be.

    `stale`: the controls have changed since, so the message may no longer hold: it is marked out of date.
    """
    if stale:
        return (
            f'<div class="banner error stale"><b>Out of date.</b> The last run failed with the controls as they '
            f"were then ({_esc(message)}); they have changed since: press <b>Run SnapMix</b> to try again.</div>"
        )
    return f'<div class="banner error"><b>{_esc(heading)}</b> {_esc(message)}</div>'


def status_html(res: PairResult) -> str:
    """One line of provenance: backbone, mode, weights, fallbacks, seed and beta, time taken and the engine."""
    fallback = [s for s, flag in (("A", res.fallback_a), ("B", res.fallback_b)) if flag]
    flat = f"flat CAM of {' and '.join(fallback)}: area weights used" if fallback else "none"
    reused = "model run" if res.forward_passes else "CAMs reused from cache"
    warning = " ⚠️" if res.weights_kind == "random" else ""
    return (
        f"<div><b>{_esc(res.backbone)}</b> ({get_spec(res.backbone).source}) · mode <b>{_esc(res.mode)}</b> · "
        f"weights{warning}: {_esc(res.weights)} · fallback: {flat} · boxes of seed {res.seed}, beta {res.beta:g} · "
        f'<span class="timing">{res.timings["total"]:.0f} ms ({reused}, engine: {_esc(res.engine)})</span></div>'
    )
