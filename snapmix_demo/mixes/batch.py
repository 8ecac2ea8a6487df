"""Any registered mix on a training batch: the model's maps computed only when the method reads them.

`mix_batch(x, y, model, method="snapmix", ...)` gives what `snapmix.snapmix_batch` gives (and, for
`snapmix`, the same bits): the probability gate is read first, so a batch left alone costs no CAM pass,
then the method's maps come from the one features -> CAM -> SPM route (`snapmix.model_maps`).
"""

import torch
from torch import Tensor, nn

from snapmix_demo.mixes.frame import MixResult
from snapmix_demo.mixes.params import PROB
from snapmix_demo.mixes.registry import apply_mix, get_mix
from snapmix_demo.snapmix import gate, model_maps

__all__ = ["mix_batch"]


def _would_mix(prob: float, generator: torch.Generator) -> bool:
    """The method's own first draw (the gate), read without consuming it."""
    state = generator.get_state()
    try:
        return gate(prob, generator)
    finally:
        generator.set_state(state)


def mix_batch(
    x: Tensor,
    y: Tensor,
    model: nn.Module,
    *,
    method: str = "snapmix",
    prob: float = 1.0,
    generator: torch.Generator,
    **params: object,
) -> MixResult:
    """Mix a training batch with any registered method, against a permutation of itself.

    Args:
        x: images (N, C, H, W), normalised as the model expects.
        y: integer labels (N,).
        model: a patched backbone, bare or wrapped (DDP, DataParallel, torch.compile); its mode is restored.
            Only read by methods that need CAMs (`MIXES[method].needs`).
        method: a key of `MIXES`.
        prob: probability of mixing this batch at all.
        generator: the only source of randomness.
        **params: the method's own parameters (e.g. `beta`, `top_k`); see `MIXES[method].params`.

    Returns:
        A `MixResult`: unpacks as `(x, y_b, rho_a, rho_b)` like `snapmix_batch`'s result, and also holds the
        mask and placement that describe the mix.

    Raises:
        InputError: an unknown method or parameter, or a value out of its range (a `ValueError`).

    Example:
        >>> from snapmix_demo import load_backbone
        >>> model = load_backbone("resnet18", weights="random")
        >>> x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
        >>> mix = mix_batch(x, y, model, method="fmix", generator=torch.Generator().manual_seed(0))
        >>> mix.method, mix.x.shape == x.shape, bool(torch.allclose(mix.rho_a + mix.rho_b, torch.ones(4)))
        ('fmix', True, True)
    """
    spec = get_mix(method)
    spec.check_names(params)
    prob = PROB.check(prob)
    if spec.needs == "nothing":
        return apply_mix(method, x, y, generator=generator, prob=prob, **params)
    if _would_mix(prob, generator):
        maps = model_maps(model, x, y, relu=spec.needs == "cam_relu")
        spm, degenerate = maps.spms, maps.degenerate
        if method == "attentive_cutmix":
            params.setdefault("grid", maps.grid)  # its cells are the feature map's
    else:  # the gate will leave the batch alone: no CAM pass, and maps that are never read
        spm, degenerate = x.new_zeros(len(x), *x.shape[-2:]).float(), torch.ones(len(x), dtype=torch.bool)
    return apply_mix(method, x, y, generator=generator, prob=prob, spm=spm, degenerate=degenerate, **params)
