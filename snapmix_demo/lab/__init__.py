"""The mixing lab: any registered mixing method on one pair of images, and every method on the same pair at once.

`mix_pair` and `compare_mixes` (`pair.py`) answer a `MixPair` or a `MixComparison` (`results.py`), with the truth
where the images' object masks are known (`truth.py`).
"""

from snapmix_demo.lab.pair import BOX_METHODS, PAIR_PERM, compare_mixes, mix_pair
from snapmix_demo.lab.results import MixComparison, MixPair
from snapmix_demo.lab.truth import EXAMPLES_DIR, known_objects

__all__ = [
    "BOX_METHODS",
    "EXAMPLES_DIR",
    "PAIR_PERM",
    "MixComparison",
    "MixPair",
    "compare_mixes",
    "known_objects",
    "mix_pair",
]
