"""Fair queueing: who a client is, how many jobs it holds, and dropping jobs whose client never came for them.

Gradio's queue has one global size limit, so one client could fill it; and it runs a job even when
nobody opened the stream that would carry its result. This module is the only one that reads the
queue's insides (`gradio.queueing.Queue`): its waiting lists, its running jobs, `clean_events`.
Gradio should offer both (a per-client share and dropping unattended jobs); until then this does.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator

from starlette.datastructures import Headers
from starlette.types import Scope

from snapmix_demo.app.serving.logs import Throttle

__all__ = ["Clients", "client_ip", "drop_unattended", "held_jobs"]

logger = logging.getLogger(__name__)
_throttle = Throttle(logger)


def client_ip(scope: Scope, proxy_hops: int) -> str:
    """The client's address: the peer's, or the one `proxy_hops` trusted proxies put in X-Forwarded-For.

    Only the entries the trusted proxies appended count; anything left of them came from the client.
    """
    if proxy_hops > 0:
        forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops]
    client = scope.get("client")
    return client[0] if client else "unknown"


def _jobs(queue) -> Iterator:
    """Every job the queue holds: waiting, then running."""
    for waiting in queue.event_queue_per_concurrency_id.values():
        yield from waiting.queue
    for running in queue.active_jobs:
        yield from running or ()


def held_jobs(queue, proxy_hops: int) -> tuple[Counter, Counter]:
    """Jobs held (waiting or running) per (session hash, event index) and per client address.

    A session's share counts per event: the page keeps several different events in flight at once
    (a run, its banner check, a redraw), but never repeats one that is still pending (Gradio's
    trigger modes), so only a client calling one endpoint over and over meets the share.
    """
    sessions, ips = Counter(), Counter()
    for event in _jobs(queue):
        sessions[event.session_hash, event.fn._id] += 1
        ips[client_ip(event.request.scope, proxy_hops)] += 1
    return sessions, ips


class Clients:
    """Joins in flight (accepted by the guard, not yet in Gradio's queue) and result streams open, per key."""

    def __init__(self):
        self.joining: Counter = Counter()
        self.streams: Counter = Counter()

    def attended(self, event) -> bool:
        """Whether someone has a result stream open for `event` (by its session, or by its id for /call)."""
        return self.streams[event.session_hash] > 0 or self.streams[event._id] > 0


async def drop_unattended(queue, clients: Clients, grace_s: float) -> int:
    """Remove waiting jobs older than `grace_s` whose client has no result stream open; returns how many."""
    now = time.monotonic()
    gone = {
        event.session_hash
        for waiting in list(queue.event_queue_per_concurrency_id.values())
        for event in list(waiting.queue)
        if now - event.enqueue_time >= grace_s and not clients.attended(event)
    }
    before = len(queue)
    for session in gone:
        await queue.clean_events(session_hash=session)
    dropped = before - len(queue)
    if dropped:
        _throttle.log("dropped", logging.INFO, "dropped %d queued jobs nobody was waiting for", dropped)
    return dropped


async def keep_dropping(queue, clients: Clients, grace_s: float, every_s: float = 1.0) -> None:
    """Run `drop_unattended` every `every_s` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        await drop_unattended(queue, clients, grace_s)
