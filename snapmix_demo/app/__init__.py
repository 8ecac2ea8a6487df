"""The Gradio app, split by concern.

`layout` (the page), `handlers` (widgets <-> core), `api` (the public endpoint), `files` (the
downloads), `examples`, `explain` (captions and formulas), `spread` (the seeds view), `links`,
`playground` (the `@patch_to` tab) and `style` (CSS). `serving/` is how it faces the internet:
`server`, `settings`, the `guard` middleware with `bodies` and `fairness`, `upkeep` with `tempfiles`,
and `logs`.
"""

from snapmix_demo.app.examples import EXAMPLES
from snapmix_demo.app.layout import build_demo
from snapmix_demo.app.serving.server import launch_kwargs, serve

__all__ = ["EXAMPLES", "build_demo", "launch_kwargs", "serve"]
