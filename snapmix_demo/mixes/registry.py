"""Registry of mixing methods: declared facts about each, keyed by name, built like `backbones.BACKBONES`.

Each method is declared once (`MixSpec`): its paper, its rule for the mixed image and for the label
weights in one line each, what it needs from the model (nothing, the CAM, or the CAM of ReLU'd
features as the official SnapMix code computes it), its own parameters with their ranges, and its one
pure, batched, seeded function. The UI, the CLI, evaluation and training read `MIXES`; `get_mix` is the
only lookup and `apply_mix` the one way to call a method by name.
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from snapmix_demo.errors import InputError, excerpt
from snapmix_demo.mixes import area, saliency, semantic
from snapmix_demo.mixes.frame import MixResult
from snapmix_demo.mixes.params import Param

__all__ = ["MIXES", "MixSpec", "Paper", "apply_mix", "get_mix"]

Needs = Literal["nothing", "cam", "cam_relu"]


@dataclass(frozen=True)
class Paper:
    """Where a method was published."""

    authors: str  # "Zhang et al."
    title: str
    venue: str  # "ICLR", or "arXiv" for a preprint
    year: int
    url: str

    @property
    def cite(self) -> str:
        """Short citation, e.g. `Zhang et al., ICLR 2018`."""
        return f"{self.authors}, {self.venue} {self.year}"


@dataclass(frozen=True)
class MixSpec:
    """Declared facts about one mixing method."""

    # what it is
    name: str
    title: str
    paper: Paper
    # its rules, one line each
    image_rule: str
    label_rule: str
    # what it needs and takes
    needs: Needs  # "nothing", "cam" (SPMs of the linear CAM) or "cam_relu" (SPMs of CAMs of ReLU'd features)
    params: tuple[Param, ...]  # its own parameters; every method also takes `prob`
    fn: Callable[..., MixResult]  # fn(x, y, *, [spm, degenerate,] generator, prob, perm, **params)

    @property
    def defaults(self) -> dict[str, object]:
        """The method's own parameters with their paper defaults."""
        return {p.name: p.default for p in self.params}

    def check_names(self, params: dict[str, object]) -> None:
        """Refuse parameters this method does not take, naming the ones it does."""
        for name in params:
            if name not in self.defaults:
                takes = ", ".join(f"`{p}`" for p in self.defaults) or "none besides `prob`"
                raise InputError(name, f"is not a parameter of method `{self.name}`; it takes: {takes}")


def _paper(authors: str, title: str, venue: str, year: int, arxiv: str) -> Paper:
    return Paper(authors, title, venue, year, f"https://arxiv.org/abs/{arxiv}")


MIXUP = _paper("Zhang et al.", "mixup: Beyond Empirical Risk Minimization", "ICLR", 2018, "1710.09412")
CUTMIX = _paper(
    "Yun et al.",
    "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features",
    "ICCV",
    2019,
    "1905.04899",
)
SNAPMIX = _paper(
    "Huang et al.",
    "SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained Data",
    "AAAI",
    2021,
    "2012.04846",
)
RESIZEMIX = _paper(
    "Qin et al.",
    "ResizeMix: Mixing Data with Preserved Object Information and True Labels",
    "arXiv",
    2020,
    "2012.11101",
)
FMIX = _paper("Harris et al.", "FMix: Enhancing Mixed Sample Data Augmentation", "arXiv", 2020, "2002.12047")
ATTENTIVE = _paper(
    "Walawalkar et al.",
    "Attentive CutMix: An Enhanced Data Augmentation Approach for Deep Learning Based Image Classification",
    "ICASSP",
    2020,
    "2003.13048",
)
SALIENCYMIX = _paper(
    "Uddin et al.",
    "SaliencyMix: A Saliency Guided Data Augmentation Strategy for Better Regularization",
    "ICLR",
    2021,
    "2006.01791",
)
GUIDED = _paper(
    "Kang & Kim", "GuidedMixup: An Efficient Mixup Strategy Guided by Saliency Maps", "AAAI", 2023, "2306.16612"
)
TRANSMIX = _paper("Chen et al.", "TransMix: Attend to Mix for Vision Transformers", "CVPR", 2022, "2111.09833")
_SNAP_IMAGE = "B's crop at box B, resized into box A (boxes drawn independently)"
_SNAP_LABEL = "rho_a = 1 - SPM_A mass in box A, rho_b = SPM_B mass in box B; area if a map is degenerate"

MIXES: dict[str, MixSpec] = {
    "mixup": MixSpec(
        "mixup",
        "Mixup",
        MIXUP,
        "every pixel (1 - lam) of B",
        "lam and 1 - lam",
        "nothing",
        area.MIXUP_PARAMS,
        area.mixup,
    ),
    "cutmix": MixSpec(
        "cutmix",
        "CutMix",
        CUTMIX,
        "B's pixels in one box, at the same place",
        "the area shares",
        "nothing",
        area.CUTMIX_PARAMS,
        area.cutmix,
    ),
    "snapmix": MixSpec(
        "snapmix", "SnapMix", SNAPMIX, _SNAP_IMAGE, _SNAP_LABEL, "cam", semantic.SNAPMIX_PARAMS, semantic.snapmix
    ),
    "snapmix_official": MixSpec(
        "snapmix_official",
        "SnapMix (official CAMs)",
        SNAPMIX,
        _SNAP_IMAGE,
        _SNAP_LABEL + " (maps of ReLU'd features)",
        "cam_relu",
        semantic.SNAPMIX_PARAMS,
        semantic.snapmix_official,
    ),
    "resizemix": MixSpec(
        "resizemix",
        "ResizeMix",
        RESIZEMIX,
        "the whole of B shrunk into one box",
        "the area shares",
        "nothing",
        area.RESIZEMIX_PARAMS,
        area.resizemix,
    ),
    "fmix": MixSpec(
        "fmix",
        "FMix",
        FMIX,
        "B where a low-frequency Fourier image is highest",
        "the mask's mean",
        "nothing",
        area.FMIX_PARAMS,
        area.fmix,
    ),
    "attentive_cutmix": MixSpec(
        "attentive_cutmix",
        "Attentive CutMix",
        ATTENTIVE,
        "B's top-k CAM cells of the grid, at the same place",
        "k / cells",
        "cam",
        saliency.ATTENTIVE_PARAMS,
        saliency.attentive_cutmix,
    ),
    "saliencymix": MixSpec(
        "saliencymix",
        "SaliencyMix",
        SALIENCYMIX,
        "B's box centred on its CAM's peak, at the same place",
        "the area shares",
        "cam",
        saliency.SALIENCYMIX_PARAMS,
        saliency.saliencymix,
    ),
    "guidedmixup": MixSpec(
        "guidedmixup",
        "GuidedMixup",
        GUIDED,
        "each pixel s_b / (s_a + s_b) of B",
        "the mask's mean",
        "cam",
        saliency.GUIDEDMIXUP_PARAMS,
        saliency.guidedmixup,
    ),
    "transmix": MixSpec(
        "transmix",
        "TransMix (CNN)",
        TRANSMIX,
        "B's pixels in one box, at the same place",
        "mean of the area share and B's share of CAM mass",
        "cam",
        semantic.TRANSMIX_PARAMS,
        semantic.transmix,
    ),
}


def get_mix(name: str) -> MixSpec:
    """The spec of mixing method `name`; a miss names the choices and the closest match."""
    if isinstance(name, str) and name in MIXES:
        return MIXES[name]
    close = difflib.get_close_matches(str(name)[:64], MIXES, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise InputError("method", f"unknown method `{excerpt(name)}`{hint}; choose one of: {', '.join(sorted(MIXES))}")


def apply_mix(
    name: str,
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator,
    prob: float = 1.0,
    perm: Tensor | None = None,
    spm: Tensor | None = None,
    degenerate: Tensor | None = None,
    **params: object,
) -> MixResult:
    """Mix a batch (N, C, H, W) with method `name`: its own function, fed the maps only if it needs them.

    Methods that need no map ignore `spm`/`degenerate`; the others refuse to run without them. For
    `snapmix_official` pass SPMs of CAMs computed on ReLU'd features.
    """
    spec = get_mix(name)
    spec.check_names(params)
    maps = {} if spec.needs == "nothing" else {"spm": spm, "degenerate": degenerate}
    return spec.fn(x, y, generator=generator, prob=prob, perm=perm, **maps, **params)
