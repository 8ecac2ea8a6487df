"""`mix_batch`: every registered method on a real model's maps, SnapMix as `snapmix_batch` bit for bit."""

import pytest
import torch

from snapmix_demo import MIXES, mix_batch, snapmix_batch
from snapmix_demo.errors import InputError
from snapmix_demo.snapmix import model_maps


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def batch():
    g = gen(0)
    return torch.randn(3, 3, 64, 64, generator=g), torch.randint(0, 1000, (3,), generator=g)


@pytest.mark.parametrize("seed", range(4))
def test_snapmix_is_snapmix_batch_bit_for_bit_whatever_the_gate(built, batch, seed):
    x, y = batch
    ours = mix_batch(x, y, built("resnet18"), method="snapmix", prob=0.5, beta=5.0, generator=gen(seed))
    theirs = snapmix_batch(x, y, built("resnet18"), prob=0.5, beta=5.0, generator=gen(seed))
    assert ours.mixed == theirs.mixed, f"seed {seed}"
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), f"seed {seed}"


@pytest.mark.parametrize("method", sorted(MIXES))
@pytest.mark.parametrize("n", [1, 3])
def test_every_method_mixes_a_batch_on_a_real_model(built, batch, method, n):
    x, y = batch[0][:n], batch[1][:n]
    mix = mix_batch(x, y, built("resnet18"), method=method, generator=gen(1))
    assert mix.method == method and mix.x.shape == x.shape and mix.mask.shape == (n, 64, 64)
    assert bool(((mix.rho_a >= 0) & (mix.rho_a <= 1) & (mix.rho_b >= 0) & (mix.rho_b <= 1)).all()), method


def test_a_batch_the_gate_leaves_alone_runs_no_cam_pass(built, batch):
    model, calls = built("resnet18"), []
    hook = model.layer4.register_forward_hook(lambda *_: calls.append(1))  # the CAM pass runs extract_features
    try:
        mix = mix_batch(*batch, model, method="snapmix", prob=0.0, generator=gen(0))
        assert not mix.mixed and not calls, "no forward for a batch left alone"
        mix_batch(*batch, model, method="snapmix", prob=1.0, generator=gen(0))
        assert calls, "a mixed batch runs the CAM pass"
    finally:
        hook.remove()


def test_official_maps_relu_the_features_which_matters_only_for_heads_that_go_negative(built, batch):
    x, y = batch
    relu_head = built("resnet18")  # its features end in a ReLU: the official CAM is ours
    assert torch.equal(model_maps(relu_head, x, y, relu=True).spms, model_maps(relu_head, x, y).spms)
    silu_head = built("efficientnet_b0")  # SiLU features can be negative
    assert not torch.allclose(model_maps(silu_head, x, y, relu=True).spms, model_maps(silu_head, x, y).spms)
    mix = mix_batch(x, y, silu_head, method="snapmix_official", generator=gen(3))
    ours = mix_batch(x, y, silu_head, method="snapmix", generator=gen(3))
    assert (mix.box_a, mix.box_b) == (ours.box_a, ours.box_b) and torch.equal(mix.x, ours.x), "same mix"


def test_attentive_cutmix_takes_its_cells_from_the_feature_map(built, batch):
    x, y = batch
    mix = mix_batch(x, y, built("resnet18"), method="attentive_cutmix", top_k=1, generator=gen(0))
    # resnet18's map at 64 px is 2 x 2: one cell is a 32 x 32 quarter of each image
    assert mix.mask.sum(dim=(1, 2)).tolist() == [32 * 32] * len(x)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"method": "snapmx"}, "method"), ({"prob": 1.5}, "prob"), ({"beta": 0}, "beta"), ({"top_k": 3}, "top_k")],
)
def test_bad_values_name_their_field(built, batch, kwargs, field):
    with pytest.raises(InputError, match=f"^`{field}`"):
        mix_batch(*batch, built("resnet18"), generator=gen(0), **{"method": "snapmix", **kwargs})
