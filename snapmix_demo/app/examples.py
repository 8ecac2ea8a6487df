"""The example pairs shown under the inputs: committed files, offline (credited in assets/README.md)."""

from pathlib import Path

__all__ = ["EXAMPLES", "EXAMPLES_DIR"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
EXAMPLES = [
    [str(EXAMPLES_DIR / a), str(EXAMPLES_DIR / b)]
    for a, b in (
        ("shape_star.png", "shape_ring.png"),
        ("shape_cross.png", "shape_hexagon.png"),
        ("cat.jpg", "coffee.jpg"),
        ("astronaut.jpg", "grace_hopper.jpg"),
    )
]
