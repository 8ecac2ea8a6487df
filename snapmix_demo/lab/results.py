"""What the lab answers: one method on one pair (`MixPair`), and every method on it (`MixComparison`)."""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from snapmix_demo.boxes import Box
from snapmix_demo.mixes import MIXES, MixSpec
from snapmix_demo.results import class_facts

__all__ = ["MixComparison", "MixPair"]


@dataclass(frozen=True)
class MixPair:
    """One method on one pair: the mixed image, B's share of every pixel, the two label weights and the truth.

    Pictures and maps are in the model-input frame, as in `PairResult`.
    """

    method: str
    image_a: Image.Image
    image_b: Image.Image
    mixed: Image.Image
    mask: np.ndarray  # (H, W) float32 in [0, 1]: B's share of each pixel of the mixed image
    rho_a: float  # the method's weight of A's label
    rho_b: float  # and of B's
    area_b: float  # the mask's mean: B's share of the pixels
    fallback_a: bool  # A's map was degenerate (flat), so the method fell back to area (or a random draw)
    fallback_b: bool
    spm_a: np.ndarray | None  # the map the method read of A (None: it reads none, or A's is flat)
    spm_b: np.ndarray | None
    box_a: Box | None  # where B's pixels land, for the box methods
    box_b: Box | None  # where they are cut from
    true_a: float | None  # the share of A's object kept in the mixed image; None where the masks are unknown
    true_b: float | None  # the share of B's object carried into it (above 1 where a crop of B is enlarged)
    params: dict[str, object]  # the method's own parameters as used (its defaults filled in)
    class_a: int
    class_b: int
    label_a: str
    label_b: str
    prob_a: float
    prob_b: float
    chosen_a: bool
    chosen_b: bool
    backbone: str
    mode: str
    weights: str
    weights_kind: str
    seed: int
    forward_passes: int
    engine: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def spec(self) -> MixSpec:
        """The method's declared facts (paper, rules, needs)."""
        return MIXES[self.method]

    @property
    def error_a(self) -> float | None:
        """rho_a minus the truth of A (None where it is unknown)."""
        return None if self.true_a is None else self.rho_a - self.true_a

    @property
    def error_b(self) -> float | None:
        """rho_b minus the truth of B, clipped at 1 as the evaluation clips it (no label deserves more than all)."""
        return None if self.true_b is None else self.rho_b - min(self.true_b, 1.0)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe facts of the result (no pixels)."""
        spec = self.spec
        return {
            "method": self.method,
            "title": spec.title,
            "paper": spec.paper.cite,
            "paper_url": spec.paper.url,
            "image_rule": spec.image_rule,
            "label_rule": spec.label_rule,
            "needs": spec.needs,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "rho_a": self.rho_a,
            "rho_b": self.rho_b,
            "rho_sum": self.rho_a + self.rho_b,
            "area_b": self.area_b,
            "fallback_a": self.fallback_a,
            "fallback_b": self.fallback_b,
            "box_a": None if self.box_a is None else list(self.box_a),
            "box_b": None if self.box_b is None else list(self.box_b),
            "true_a": self.true_a,
            "true_b": self.true_b,
            "error_a": self.error_a,
            "error_b": self.error_b,
            "backbone": self.backbone,
            "mode": self.mode,
            "weights": self.weights,
            "weights_kind": self.weights_kind,
            "seed": self.seed,
            "input_size": [self.image_a.height, self.image_a.width],
            **class_facts(self),
            "forward_passes": self.forward_passes,
            "engine": self.engine,
            "timings_ms": dict(self.timings),
        }


@dataclass(frozen=True)
class MixComparison:
    """Every method's `MixPair` on the same pair, seed, backbone and classes, in `MIXES` order."""

    pairs: dict[str, MixPair]
    forward_passes: int  # forwards run for the whole comparison (0 or 1: the analyses are shared and cached)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def first(self) -> MixPair:
        """Any one of the results, for the facts they share (images, classes, backbone, seed)."""
        return next(iter(self.pairs.values()))

    @property
    def truth_known(self) -> bool:
        """Whether both images' object masks are known (and not empty), so each method's error can be measured."""
        return self.first.true_a is not None and self.first.true_b is not None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe facts: what the methods share, then each method's own (its `MixPair.to_dict` less those)."""
        shared = (
            "backbone", "mode", "weights", "weights_kind", "seed", "input_size", "class_a", "class_b",
            "label_a", "label_b", "prob_a", "prob_b", "chosen_a", "chosen_b", "engine",
        )  # fmt: skip
        first = self.first.to_dict()
        methods = {}
        for name, pair in self.pairs.items():
            facts = pair.to_dict()
            methods[name] = {k: v for k, v in facts.items() if k not in shared and k not in ("forward_passes",)}
        return {
            **{k: first[k] for k in shared},
            "truth_known": self.truth_known,
            "forward_passes": self.forward_passes,
            "timings_ms": dict(self.timings),
            "methods": methods,
        }
