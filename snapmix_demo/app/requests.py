"""The app's requests: one run's control values as a frozen `PairRequest`, built once from Gradio's values.

Events that take the images get Gradio's raw payloads (`RAW`): `gr.Image` would otherwise open every
upload with PIL before any handler runs, so a text file renamed `.png` or a header that claims 20000 x
20000 pixels would fail inside Gradio, with a bare "Error" on every output. Raw, the uploaded file goes
to the core's `imageio.load_image`, and a number such as the seed arrives as sent (`gr.Number` would
round 1.5 to 2) for the core to validate.
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass, fields

from snapmix_demo.app.serving.settings import checkpoint_uploads
from snapmix_demo.errors import InputError
from snapmix_demo.imageio import MAX_BYTES
from snapmix_demo.inputs import beta_value, prob_value
from snapmix_demo.render import COLORMAPS

__all__ = [
    "BETA_RANGE",
    "CHECKPOINT",
    "CHECKPOINT_TYPES",
    "RAW",
    "RAW_VIEW",
    "REQUEST",
    "VIEWS",
    "PairRequest",
    "chosen_classes",
    "class_source",
    "display_options",
    "image_source",
    "own_model",
    "page_beta",
    "page_values",
    "upload_path",
]

CHECKPOINT = "checkpoint"  # the weights choice "own checkpoint"
CHECKPOINT_TYPES = [".pth", ".pt", ".ckpt", ".bin", ".tar"]  # what torch.save writes under its usual names
RAW = {"preprocess": False}  # for events that take the images: see the module docstring
_MAX_DATA_URL_CHARS = (MAX_BYTES // 3 + 2) * 4  # base64 of one byte more than the decoder accepts
VIEWS = ("CAM overlay", "raw SPM")
RAW_VIEW = VIEWS[1]
BETA_RANGE = (0.1, 10.0)  # the beta slider's ends; the core takes any beta above 0
# What a run takes, by the page's component names; events that run also take the display options after them.
REQUEST = (
    *("img_a", "img_b", "backbone", "weights", "mode", "target_a", "target_b", "beta", "seed", "box_a", "box_b"),
    *("checkpoint", "classes_file", "classes_text"),
)


@dataclass(frozen=True)
class PairRequest:
    """One run's values under `run_pair`'s names, so that two requests compare equal when they would agree.

    Built from the page by `from_page`: the images as sources, blank boxes None, the class list the file or
    the pasted names, and an own checkpoint and its classes only while "own checkpoint" is chosen.
    """

    image_a: str | bytes | None
    image_b: str | bytes | None
    backbone: str
    weights: str
    mode: str
    target_a: object
    target_b: object
    beta: object
    seed: object
    box_a: object = None
    box_b: object = None
    checkpoint: str | None = None
    classes: object = None  # an uploaded class file's payload, or the pasted names

    @classmethod
    def from_page(cls, values: Sequence) -> "PairRequest":
        """The request of the `REQUEST` components' values, in that order."""
        page = dict(zip(REQUEST, values, strict=True))
        own = page["weights"] == CHECKPOINT
        return cls(
            image_a=image_source(page["img_a"]),
            image_b=image_source(page["img_b"]),
            backbone=page["backbone"],
            weights=page["weights"],
            mode=page["mode"],
            target_a=page["target_a"],
            target_b=page["target_b"],
            beta=page["beta"],
            seed=page["seed"],
            box_a=_blank_as_none(page["box_a"]),  # a box field not yet shown sends None, later ""
            box_b=_blank_as_none(page["box_b"]),
            checkpoint=upload_path(page["checkpoint"]) if own else None,
            classes=chosen_classes(page["classes_file"], page["classes_text"]) if own else None,
        )

    def arguments(self) -> dict[str, object]:
        """The request as `run_pair`'s keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def page_values(values: Sequence) -> tuple[PairRequest, tuple]:
    """The `REQUEST` values followed by the display options: the request, and (cmap, alpha, view) as typed."""
    *request, cmap, alpha, view = values
    return PairRequest.from_page(request), (cmap, alpha, view)


def _blank_as_none(value):
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def image_source(payload: dict | str | bytes | None) -> str | bytes | None:
    """What the core decodes from an image input's raw payload: the uploaded file's path, a data URL's bytes."""
    if not isinstance(payload, dict):
        return payload
    url = payload.get("url") or ""
    if url.startswith("data:"):
        encoded = url.partition(",")[2][:_MAX_DATA_URL_CHARS]
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
    return payload.get("path")


def upload_path(payload: dict | str | None) -> str | None:
    """The server path of an uploaded file from its raw payload (Gradio checked that it was uploaded)."""
    return payload.get("path") if isinstance(payload, dict) else payload


def chosen_classes(classes_file, classes_text):
    """The class list in use: an uploaded file, else the pasted names (each clears the other when given)."""
    return classes_file if classes_file is not None else classes_text


def class_source(value: dict | str | None) -> list[str] | str | None:
    """What the core reads the class names from: an uploaded text file's path, or pasted text's non-empty lines.

    Raises:
        InputError: a value that is neither text nor a file.
    """
    if value is None or isinstance(value, dict):
        return upload_path(value)
    if not isinstance(value, str):
        raise InputError("classes", "give the class names as text, one per line, or as a text file")
    return [line.strip() for line in value.splitlines() if line.strip()] or None


def own_model(weights: str, checkpoint, classes) -> tuple[str | None, list[str] | str | None]:
    """The checkpoint's path and the class names of a request, checked against what this server allows."""
    path, names = upload_path(checkpoint), class_source(classes)
    if (path is not None or weights == CHECKPOINT) and not checkpoint_uploads():
        raise InputError("checkpoint", "this server does not take checkpoints (SNAPMIX_CHECKPOINT_UPLOADS=off)")
    if weights == CHECKPOINT and path is None:
        raise InputError("checkpoint", f"please upload your checkpoint ({', '.join(CHECKPOINT_TYPES)})")
    if names is not None and path is None:
        raise InputError("classes", "class names go with your own checkpoint: upload one, or leave them empty")
    return path, names


def display_options(cmap, alpha, view) -> tuple[str, float, str]:
    """The drawing options as typed, checked: a known colormap and view, an opacity from 0 to 1 (`prob_value`).

    Raises:
        InputError: naming `cmap`, `alpha` or `view`.
    """
    if cmap not in COLORMAPS:
        raise InputError("cmap", f"choose one of: {', '.join(COLORMAPS)}")
    if view not in VIEWS:
        raise InputError("view", f"choose one of: {', '.join(VIEWS)}")
    return cmap, prob_value(alpha, "alpha"), view


def page_beta(beta) -> float:
    """The beta the page takes: the core's rule (a number above 0) within the slider's `BETA_RANGE`."""
    value = beta_value(beta)
    low, high = BETA_RANGE
    if not low <= value <= high:
        raise InputError("beta", f"must be from {low:g} to {high:g} here (the slider's range), got {value:g}")
    return value
