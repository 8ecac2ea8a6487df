"""The Gradio app, split by concern.

`layout` (the page), `handlers` (widgets <-> core), `api` (the public endpoint), `examples`,
`playground` (the `@patch_to` tab), `style` (CSS) and `server` (how it is served).
"""

from snapmix_demo.app.examples import EXAMPLES
from snapmix_demo.app.layout import build_demo
from snapmix_demo.app.server import launch_kwargs

__all__ = ["EXAMPLES", "build_demo", "launch_kwargs"]
