"""The example pairs shown under the inputs: committed files, offline (credited in assets/README.md).

Each set carries the backbone and weights it is meant for, so clicking an example sets them too:
photos run on ImageNet weights, the shapes on the bundled shapes model. The shapes set is shown
only when such a model exists.
"""

from dataclasses import dataclass
from pathlib import Path

from snapmix_demo.pipeline import DEFAULT_BACKBONE
from snapmix_demo.weights import available_weights

__all__ = ["EXAMPLES", "EXAMPLES_DIR", "PHOTOS", "PHOTO_PAIRS", "SHAPES", "SHAPE_PAIRS", "ExampleSet", "example_sets"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"


def _pairs(*names: tuple[str, str]) -> list[list[str]]:
    return [[str(EXAMPLES_DIR / a), str(EXAMPLES_DIR / b)] for a, b in names]


PHOTO_PAIRS = _pairs(("cat.jpg", "coffee.jpg"), ("astronaut.jpg", "grace_hopper.jpg"))
SHAPE_PAIRS = _pairs(("shape_star.png", "shape_ring.png"), ("shape_cross.png", "shape_hexagon.png"))
EXAMPLES = [*PHOTO_PAIRS, *SHAPE_PAIRS]  # every committed pair, photos first


@dataclass(frozen=True)
class ExampleSet:
    """Pairs of images with the model they are meant for."""

    key: str  # used in elem_ids: `examples-<key>`
    title: str
    backbone: str
    weights: str
    pairs: list[list[str]]


PHOTOS = ExampleSet("photos", "Photos (ImageNet weights)", DEFAULT_BACKBONE, "imagenet", PHOTO_PAIRS)
SHAPES = ExampleSet("shapes", "Shapes (the bundled shapes model)", DEFAULT_BACKBONE, "shapes", SHAPE_PAIRS)


def example_sets() -> list[ExampleSet]:
    """The sets to show: the photos, then the shapes when a model that knows shapes is bundled."""
    return [PHOTOS, *([SHAPES] if "shapes" in available_weights(SHAPES.backbone) else [])]
