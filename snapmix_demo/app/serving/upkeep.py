"""What the guard keeps per app, and the upkeep that runs beside the server while the app is up.

In the background: Gradio's temp folder is swept on a timer (and its size counted for the upload cap),
and queued jobs nobody waits for are dropped. Started and stopped by the app's lifespan.
"""

import asyncio
import contextlib
import logging

from snapmix_demo.app.serving import fairness
from snapmix_demo.app.serving.fairness import Clients
from snapmix_demo.app.serving.logs import Throttle
from snapmix_demo.app.serving.settings import ServerSettings
from snapmix_demo.app.serving.tempfiles import TempStore, forget_missing

__all__ = ["GuardState"]

logger = logging.getLogger("snapmix_demo.app.serving.guard")  # its lines are the guard's


class GuardState:
    """What the guard keeps per app: its settings, clients' joins and streams, the temp folder's room."""

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.clients = Clients()
        self.blocks = None  # the Gradio app and
        self.temp: TempStore | None = None  # its upload folder, once the app starts
        self.throttle = Throttle(logger)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        """While the app runs: sweep the temp folder and drop unattended jobs in the background."""
        self.blocks = blocks = app.get_blocks()
        self.temp = TempStore(app.uploaded_file_dir, self.settings.temp_cap, self.settings.temp_max_age_s)
        tasks = [
            asyncio.create_task(self._housekeeping(blocks)),
            asyncio.create_task(fairness.keep_dropping(blocks._queue, self.clients, self.settings.stream_grace_s)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _housekeeping(self, blocks) -> None:
        while True:
            await asyncio.to_thread(self.tidy, blocks)
            await asyncio.sleep(self.settings.sweep_every_s)

    def tidy(self, blocks) -> None:
        """Sweep old temp files (never the cached examples) and forget the deleted ones in Gradio's sets."""
        kept = {path for block in list(blocks.blocks.values()) for path in getattr(block, "keep_in_cache", ())}
        self.temp.sweep(kept)
        forget_missing(blocks.temp_file_sets)
