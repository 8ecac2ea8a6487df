"""Gradio's queue protocol spoken by hand (upload, join, result stream), as a flood or a probe would speak it.

gradio_client hides what these tests are about: one session per request, joins without a stream,
headers of our choosing. Every call here has a timeout; every stream read stops at its first end.
"""

import json
import uuid
from pathlib import Path

import httpx

API = "gradio_api"
# The /snapmix endpoint's parameters after the two images, in order, with the values these tests send: a raw
# request sends every one, where gradio_client fills in the defaults.
_DEFAULTS = {
    "backbone": "resnet18",
    "mode": "default",
    "seed": 0,
    "weights": "random",
    "target_a": "predicted",
    "target_b": "predicted",
    "beta": 5.0,
    "box_a": "",
    "box_b": "",
    "checkpoint": None,
    "classes": "",
}


def values(**changes: object) -> list:
    """The values after the two images, in the endpoint's order, with `changes` by parameter name."""
    assert changes.keys() <= _DEFAULTS.keys(), f"not a parameter of /snapmix: {changes.keys() - _DEFAULTS.keys()}"
    return list({**_DEFAULTS, **changes}.values())


VALUES = values()


def new_session() -> str:
    return uuid.uuid4().hex[:11]


def upload(http: httpx.Client, base: str, path: str | Path, **headers: str) -> dict:
    """Upload one file; returns the FileData a join refers to it by."""
    with open(path, "rb") as f:
        answer = http.post(f"{base}{API}/upload", files=[("files", (Path(path).name, f))], headers=headers)
    answer.raise_for_status()
    return {"path": answer.json()[0], "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def join(http: httpx.Client, base: str, fn_index: int, data: list, session: str, **headers: str) -> httpx.Response:
    """Put one job in the queue; the answer holds its event id, or why it was refused."""
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    return http.post(f"{base}{API}/queue/join", json=body, headers=headers)


def outcome(http: httpx.Client, base: str, session: str) -> tuple[dict | None, list[dict]]:
    """Read the session's result stream to its first completed job: (that message, every message before it)."""
    seen = []
    with http.stream("GET", f"{base}{API}/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                return message, seen
            seen.append(message)
    return None, seen
