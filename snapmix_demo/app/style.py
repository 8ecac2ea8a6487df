"""The app's CSS: the weights chart, the legend colours, and layout fixes found by the screenshot tests."""

from snapmix_demo.render import COLOR_A, COLOR_B

__all__ = ["CSS"]

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
