"""Choices that follow the backbone, its weights and a user's checkpoint: weights, target classes, patch source."""

import functools
from collections.abc import Callable

import gradio as gr
import torch

from snapmix_demo.app.requests import CHECKPOINT, class_source, upload_path
from snapmix_demo.app.serving.settings import checkpoint_uploads
from snapmix_demo.backbones import BACKBONES, get_spec
from snapmix_demo.patches import accessor_source
from snapmix_demo.weights import available_weights, fetch_imagenet, imagenet_status, weights_classes
from snapmix_demo.weights.user import checkpoint_head_size, class_list, class_names

__all__ = [
    "MODE_NOTES",
    "PREDICTED",
    "backbone_choices",
    "class_choices",
    "default_weights",
    "ensure_weights",
    "model_widgets",
    "patch_source",
    "targets",
    "user_classes",
    "weights_choices",
]

PREDICTED = "predicted"
MODE_NOTES = {
    "default": "**default**: a plain method, bound to the *instance*: `model.get_fc()` returns the final Linear.",
    "cls_method": (
        "**cls_method**: bound to the *class*, so it can only state a class-level fact: `type(model).fc_path()` "
        "gives the Linear's dotted path, resolved with `model.get_submodule(path)`."
    ),
    "as_prop": "**as_prop**: a read-only *property* of the instance, read without parentheses: `model.fc_layer`.",
}


def backbone_choices() -> list[tuple[str, str]]:
    """Dropdown entries grouped by library: (shown label, registry key)."""
    specs = sorted(BACKBONES.values(), key=lambda s: (s.source, s.name))
    return [(f"{s.name} ({s.source})", s.name) for s in specs]


def weights_choices(backbone: str) -> list[tuple[str, str]]:
    """Weights radio entries: ImageNet (with its download size when it must be fetched), shapes, random, own.

    "own checkpoint" is offered unless the server turned checkpoint uploads off.
    """
    spec = get_spec(backbone)
    status = imagenet_status(spec)
    imagenet = "ImageNet" if status != "download" else f"ImageNet (download, {spec.download_mb:.0f} MB)"
    kinds = [(imagenet, "imagenet")]
    if "shapes" in available_weights(spec):
        kinds.append(("shapes (bundled)", "shapes"))
    own = [("own checkpoint", CHECKPOINT)] if checkpoint_uploads() else []
    return [*kinds, ("random", "random"), *own]


def default_weights(backbone: str) -> str:
    """The best weights at hand without a download."""
    return available_weights(backbone)[0]


def class_choices(backbone: str, weights: str, checkpoint=None, classes=None) -> list[str]:
    """Target-class choices for a backbone with given weights: "predicted", then its class names."""
    if weights == CHECKPOINT:
        return [PREDICTED, *user_classes(backbone, checkpoint, classes)]
    return [PREDICTED, *weights_classes(backbone, weights)]


def user_classes(backbone: str, checkpoint, classes) -> tuple[str, ...]:
    """The classes of the user's checkpoint as far as the controls tell, for the target lists.

    The class list, else `class 0` ... from the checkpoint's head; none while neither can be read (a run then
    says why).
    """
    try:
        names = class_list(class_source(classes))
        path = upload_path(checkpoint)
        if names or path is None:
            return names or ()
        return class_names(None, checkpoint_head_size(path, backbone))
    except (ValueError, KeyError):
        return ()


def patch_source(backbone: str, mode: str) -> str:
    """Source of the patch that `mode` uses on `backbone`'s class."""
    return accessor_source(_model_class(backbone), mode)


@functools.cache
def _model_class(backbone: str) -> type:
    """The upstream class behind `backbone` (built once on the meta device: no weights, no memory)."""
    with torch.device("meta"):
        return type(get_spec(backbone).builder(num_classes=1))


def targets(choices: list[str], *values: str) -> tuple:
    """Target dropdowns with new choices, each keeping its value while the choices still hold it."""
    return tuple(gr.Dropdown(choices=choices, value=v if v in choices else PREDICTED) for v in values)


def model_widgets(backbone: str, weights: str, checkpoint=None, classes=None) -> tuple:
    """Weights radio, both target lists (reset to "predicted") and the own-checkpoint controls' visibility."""
    choices = class_choices(backbone, weights, checkpoint, classes)
    return (
        gr.Radio(choices=weights_choices(backbone), value=weights),
        *targets(choices, PREDICTED, PREDICTED),
        gr.Column(visible=weights == CHECKPOINT),
    )


def _download_progress(progress: gr.Progress, backbone: str) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        shown = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        progress(done / total if total else None, desc=f"Downloading the ImageNet weights of {backbone}: {shown}")

    return report


def ensure_weights(backbone: str, weights: str, progress: gr.Progress) -> None:
    """Download ImageNet weights that are asked for and not here yet, with a progress bar."""
    if weights == "imagenet" and imagenet_status(backbone) == "download":
        fetch_imagenet(backbone, progress=_download_progress(progress, backbone))
