"""The app's CSS: weights chart, captions, banners, legend colours, and layout fixes found by the screenshot tests."""

from snapmix_demo.render import COLOR_A, COLOR_B

__all__ = ["CSS", "PAGE_JS", "PICTURES"]

PICTURES = ("#image-a", "#image-b", "#cam-a", "#cam-b", "#mixed", "#spread", "#mask-a", "#mask-b")  # every gr.Image
# on the page but the comparison chart (its label has a row of its own, without their fixed height)
_PICTURES = f":is({', '.join(PICTURES)})"

CSS = f"""
.wchart {{ font-size: 14px; line-height: 1.3; }}
.whead {{ font-weight: 600; margin: 8px 0 4px; }}
.wbar {{ display: grid; grid-template-columns: minmax(0, 13em) minmax(60px, 1fr) 3.5em; gap: 8px; align-items: center;
  margin: 3px 0; }}
.wname {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.wtrack {{ background: var(--block-border-color); border-radius: 4px; height: 14px; overflow: hidden; }}
.wfill {{ display: block; height: 100%; border-radius: 4px; }}
.wval {{ text-align: right; font-variant-numeric: tabular-nums; }}
.wformula {{ margin-top: 10px; font-family: var(--font-mono); font-size: 12.5px; line-height: 1.5; }}
.wboxes {{ margin-top: 6px; font-size: 13px; }}
.wnote {{ margin-top: 8px; color: var(--body-text-color-subdued); font-size: 13px; }}
.lowconf {{ color: #9a3412; font-weight: 600; }}
.meaningless {{ color: var(--body-text-color-subdued); font-style: italic; }}
.caption {{ font-size: 13px; line-height: 1.45; padding: 2px 4px; }}
.legend-a {{ color: {COLOR_A}; font-weight: 600; }}
.legend-b {{ color: {COLOR_B}; font-weight: 600; }}
.banner {{ padding: 8px 12px; border: 1px solid; border-radius: 8px; margin: 2px 0; font-size: 14px; }}
.banner.error {{ background: #fef2f2; border-color: #fca5a5; color: #991b1b; }}
.banner.stale {{ background: #fffbeb; border-color: #fcd34d; color: #92400e; }}
.banner.random {{ background: #fff7ed; border-color: #fdba74; color: #9a3412; }}
/* the banner above the results takes no room while it has nothing to say */
:is(#banner, #playground-banner):not(:has(.banner)) {{ display: none; }}
/* results computed from other controls than those on screen are dimmed until the next run */
.gradio-container:has(#banner .stale) :is(#cam-a, #cam-b, #mixed, #weights-chart, #top-a, #top-b) {{ opacity: 0.45; }}
/* one height for every mode's note and patch source: switching modes never moves the results */
#mode-note {{ min-height: 72px; }}
#patch-source .cm-editor {{ height: 160px; }}
/* the playground's output lines up in columns */
.mono textarea {{ font-family: var(--font-mono) !important; }}
/* gr.HTML ignores min_width: on phones the status line takes the full width */
#status {{ font-size: 14px; min-width: min(320px, 100%) !important; }}
/* long block labels wrap clear of the icon buttons at the block's top right instead of running under them */
#patch-source > label[data-testid="block-label"] {{ white-space: normal; max-width: calc(100% - 64px); }}
/* pictures: the label takes its own row above the picture (Gradio floats it over the top of the image), and the
   icon buttons sit in that row at the block's top right, so neither covers a pixel of the picture */
{_PICTURES} {{ display: flex; flex-direction: column; }}
{_PICTURES} > label[data-testid="block-label"] {{
  position: static; flex: none; align-self: flex-start; margin: var(--block-label-margin);
  white-space: normal; max-width: calc(100% - 72px);
}}
{_PICTURES} > :not(label):not([data-testid="status-tracker"]) {{ flex: 1 1 0; min-height: 0; }}
{_PICTURES} .image-container {{ position: static; }}
/* the downloads list is read-only: gr.File draws a "Remove this file" button on every row even when not
   interactive, and one click would drop result.json until the next run */
#downloads td:has(> .label-clear-button), #downloads .label-clear-button {{ display: none !important; }}
/* toasts at the bottom right: at the top they covered the Backbone dropdown and the weights, the very controls a
   failed download asks the user to change */
.toast-wrap {{ top: auto !important; bottom: var(--size-4); flex-direction: column-reverse; }}
/* the examples' headers wrap and the two columns share the width: no sideways scrolling on phones */
[id^="examples-"] table {{ width: 100%; table-layout: fixed; }}
[id^="examples-"] th {{ white-space: normal !important; }}
/* Compare mixes: the chart's label takes its own row above the chart (whose height follows its width) */
#compare-chart > label[data-testid="block-label"] {{ position: static; margin: var(--block-label-margin); }}
/* Compare mixes: captions wrap instead of being cut off; the table's numbers stack with their truth and error */
#compare-gallery .caption-label {{ white-space: normal; text-overflow: clip; max-width: calc(100% - 8px);
  font-size: 12px; line-height: 1.25; }}
.ctable table {{ width: 100%; font-size: 13px; border-collapse: collapse; table-layout: fixed; }}
.ctable th, .ctable td {{ padding: 4px 5px; vertical-align: top; overflow-wrap: break-word; }}
.ctable th:first-child {{ width: 38%; }}
.ctable .cnum {{ display: block; font-weight: 600; font-variant-numeric: tabular-nums; }}
.ctable .ctruth {{ display: block; font-size: 12px; color: var(--body-text-color-subdued); }}
/* phones: a weight's name above its bar, so the bar keeps the full width */
@media (max-width: 560px) {{
  .wbar {{ grid-template-columns: minmax(0, 1fr) 3.5em; row-gap: 2px; }}
  .wname {{ grid-column: 1 / -1; }}
  #compare-gallery .grid-container {{ grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }}
}}
"""

# Run once when the page loads, then on every change of the page:
# - gr.Examples draws its thumbnails with an empty alt: each gets its side and file name;
# - an uploaded animated GIF would preview animated, though only its first frame is used: the preview shows that
#   frame (drawn once into a canvas at load, when the browser shows the first frame) and says so.
PAGE_JS = """() => {
  const name = (src) => decodeURIComponent(src.split('?')[0].split('/').pop());
  const freeze = (img) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    canvas.getContext('2d').drawImage(img, 0, 0);
    img.dataset.gif = img.src;
    img.src = canvas.toDataURL('image/png');
    img.title = 'An animated GIF: only its first frame is used, shown here';
  };
  const tidy = () => {
    document.querySelectorAll('[id^="examples-"] td img:not([alt*="Example"])').forEach((img) => {
      const side = img.closest('td').cellIndex === 0 ? 'A' : 'B';
      img.alt = `Example, image ${side}: ${name(img.src)}`;
    });
    document.querySelectorAll('#image-a img, #image-b img').forEach((img) => {
      if (!/\\.gif$/i.test(name(img.src)) || img.dataset.gif === img.src) return;
      if (img.complete && img.naturalWidth) freeze(img);
      else img.addEventListener('load', () => freeze(img), {once: true});
    });
  };
  new MutationObserver(tidy).observe(document.body, {childList: true, subtree: true, attributes: true,
                                                      attributeFilter: ['src']});
  tidy();
}"""
