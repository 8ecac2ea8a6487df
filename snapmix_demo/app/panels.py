"""The SnapMix tab's results area: the three pictures with captions, the weights chart, top-5, the spread, the files."""

import gradio as gr

from snapmix_demo.app.run import CHART_PLACEHOLDER, TOP_PLACEHOLDERS
from snapmix_demo.app.spread import SPREAD_SEEDS
from snapmix_demo.exports import FULL_MAX_SIDE

__all__ = ["results_area"]


def _picture(label: str, elem_id: str, first: tuple[str, str] | None) -> gr.Image:
    """A result picture; each result replaces its alt text with one that says what this picture shows."""
    path, alt = first or (None, label)
    return gr.Image(
        path,
        label=label,
        alt_text=alt,
        type="filepath",
        format="png",
        interactive=False,
        height=300,  # a two-line label above a 224-pixel picture
        elem_id=elem_id,
        buttons=["download", "fullscreen"],
    )


def _panel(label: str, elem_id: str, first: dict, name: str, caption_name: str) -> tuple[gr.Image, gr.HTML]:
    with gr.Column(min_width=240):
        picture = _picture(label, elem_id, first.get(name))
        caption = gr.HTML(first.get(caption_name, ""), elem_id=f"{elem_id}-caption", padding=False)
    return picture, caption


def results_area(first: dict | None) -> dict:
    """The results area, showing the first page's example result when there is one."""
    first = first or {}
    banner = gr.HTML(first.get("banner", ""), elem_id="banner", padding=False)
    with gr.Row():
        cam_a, caption_a = _panel("CAM of A, box A (where the patch lands)", "cam-a", first, "cam_a", "caption_a")
        cam_b, caption_b = _panel("CAM of B, box B (where the patch is cut)", "cam-b", first, "cam_b", "caption_b")
        mixed, caption_mixed = _panel("Mixed image (patch outlined)", "mixed", first, "mixed", "caption_mixed")
    with gr.Row():
        with gr.Column(min_width=320, scale=3):  # gr.HTML itself ignores min_width
            chart = gr.HTML(
                first.get("chart", CHART_PLACEHOLDER), label="Label weights", elem_id="weights-chart", container=True
            )
        with gr.Column(min_width=240, scale=2):
            top_a = gr.HTML(first.get("top_a", TOP_PLACEHOLDERS["A"]), elem_id="top-a", container=True)
            top_b = gr.HTML(first.get("top_b", TOP_PLACEHOLDERS["B"]), elem_id="top-b", container=True)
    status = gr.HTML(first.get("status", ""), elem_id="status")
    link = gr.HTML(first.get("link", ""), elem_id="link")
    return (
        {
            "banner": banner,
            "cam_a": cam_a,
            "caption_a": caption_a,
            "cam_b": cam_b,
            "caption_b": caption_b,
            "mixed": mixed,
            "caption_mixed": caption_mixed,
            "chart": chart,
            "top_a": top_a,
            "top_b": top_b,
            "status": status,
            "link": link,
        }
        | _spread()
        | _downloads(first)
    )


def _spread() -> dict:
    """The accordion that plots the pair's weights over many seeds' boxes, on request."""
    with gr.Accordion(f"Spread over {SPREAD_SEEDS} seeds' boxes (SnapMix vs CutMix)", open=False, elem_id="spread-box"):
        spread_button = gr.Button("Show the spread for the pair on screen", elem_id="spread-run")
        spread = gr.Image(
            label="SnapMix's weights against CutMix's, one point per seed",
            alt_text="The spread appears here",
            type="filepath",
            format="png",
            interactive=False,
            height=420,
            elem_id="spread",
            buttons=["download", "fullscreen"],
        )
        spread_note = gr.HTML("", elem_id="spread-note")
    return {"spread_button": spread_button, "spread": spread, "spread_note": spread_note}


def _downloads(first: dict) -> dict:
    """The accordion with the files of the result on screen."""
    with gr.Accordion("Downloads (.json, .png, .npy)", open=False, elem_id="downloads-accordion"):
        gr.Markdown(
            "`cam_a.png`, `cam_b.png`, `mixed.png` and the maps `spm_a.npy`, `spm_b.npy` are in the model-input "
            "frame (what the model saw, where the boxes are defined); `*_full.png` are the same pictures at each "
            f"image's own resolution (long side up to {FULL_MAX_SIDE} px); `result.json` holds the numbers and the "
            "input files' names.",
            elem_id="downloads-note",
        )
        downloads = gr.File(
            first.get("downloads"),
            label="Files of the result on screen",
            file_count="multiple",
            interactive=False,
            elem_id="downloads",
        )
    return {"downloads": downloads}
