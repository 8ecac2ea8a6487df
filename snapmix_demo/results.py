"""What `snapmix_pair` answers: the pair's two sides (`Side`) and the pair itself (`PairResult`)."""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from snapmix_demo.boxes import Box

__all__ = ["PairResult", "Side", "class_facts"]


def class_facts(result: object) -> dict[str, object]:
    """Both sides' class, label, probability and whether it was chosen, as every `to_dict` writes them."""
    return {
        f"{fact}_{side}": getattr(result, f"{fact}_{side}")
        for fact in ("class", "label", "prob", "chosen")
        for side in "ab"
    }


@dataclass(frozen=True)
class Side:
    """One image of a pair as its result shows it: in the model-input frame, its box, its class and its weight."""

    image: Image.Image
    box: Box  # A: where the patch lands; B: where it is cut from
    spm: np.ndarray | None  # the semantic percent map (sums to 1); None when the CAM is flat
    share: float | None  # the share of the map inside the box; None when the map is flat
    rho: float  # the label weight: 1 - share for A, share for B (area where the map is flat)
    cls: int
    label: str
    prob: float  # probability of `cls`: the class whose CAM weighs this side
    chosen: bool  # `cls` was chosen by the caller (False: the top-1 prediction)
    topk: list[tuple[str, float]]

    @property
    def fallback(self) -> bool:
        """The map was flat, so the weight is the box's area."""
        return self.spm is None


@dataclass(frozen=True)
class PairResult:
    """One SnapMix pair: its two sides, the mixed image, CutMix's area weight, and provenance."""

    a: Side
    b: Side
    mixed: Image.Image
    area_lambda: float  # CutMix's weight of A: the share of its area outside box A
    mixed_applied: bool  # False when a box is empty, so nothing was pasted
    backbone: str
    mode: str
    weights: str
    weights_kind: str
    seed: int
    beta: float
    forward_passes: int
    engine: str  # what ran the backbone's forward: "torch", "onnxruntime" (or both, "onnxruntime+torch")
    timings: dict[str, float] = field(default_factory=dict)

    def side(self, name: str) -> Side:
        """Side "A" or "B"."""
        return {"A": self.a, "B": self.b}[name]

    # The flat names of the public API (the README, `to_dict`'s keys): each side's facts as `<fact>_a`, `<fact>_b`.
    image_a = property(lambda self: self.a.image)
    image_b = property(lambda self: self.b.image)
    box_a = property(lambda self: self.a.box)
    box_b = property(lambda self: self.b.box)
    spm_a = property(lambda self: self.a.spm)
    spm_b = property(lambda self: self.b.spm)
    share_a = property(lambda self: self.a.share)
    share_b = property(lambda self: self.b.share)
    rho_a = property(lambda self: self.a.rho)
    rho_b = property(lambda self: self.b.rho)
    fallback_a = property(lambda self: self.a.fallback)
    fallback_b = property(lambda self: self.b.fallback)
    class_a = property(lambda self: self.a.cls)
    class_b = property(lambda self: self.b.cls)
    label_a = property(lambda self: self.a.label)
    label_b = property(lambda self: self.b.label)
    prob_a = property(lambda self: self.a.prob)
    prob_b = property(lambda self: self.b.prob)
    chosen_a = property(lambda self: self.a.chosen)
    chosen_b = property(lambda self: self.b.chosen)
    topk_a = property(lambda self: self.a.topk)
    topk_b = property(lambda self: self.b.topk)

    @property
    def same_class(self) -> bool:
        """Both sides carry one label, whose natural weight is `rho_a + rho_b`."""
        return self.class_a == self.class_b

    def to_dict(self) -> dict[str, object]:
        """JSON-safe facts of the result (no pixels)."""
        return {
            "backbone": self.backbone,
            "mode": self.mode,
            "weights": self.weights,
            "weights_kind": self.weights_kind,
            "seed": self.seed,
            "beta": self.beta,
            "input_size": [self.image_a.height, self.image_a.width],
            "box_a": list(self.box_a),
            "box_b": list(self.box_b),
            "rho_a": self.rho_a,
            "rho_b": self.rho_b,
            "area_lambda": self.area_lambda,
            "cutmix_b": 1.0 - self.area_lambda,
            "fallback_a": self.fallback_a,
            "fallback_b": self.fallback_b,
            "mixed_applied": self.mixed_applied,
            **class_facts(self),
            "share_a": self.share_a,
            "share_b": self.share_b,
            "same_class": self.same_class,
            "combined_weight": self.rho_a + self.rho_b if self.same_class else None,
            "topk_a": [[label, p] for label, p in self.topk_a],
            "topk_b": [[label, p] for label, p in self.topk_b],
            "forward_passes": self.forward_passes,
            "engine": self.engine,
            "timings_ms": dict(self.timings),
        }
