"""The registry of mixing methods: declared facts, one lookup with a helpful miss, parameters checked alike."""

import math

import pytest
import torch

from snapmix_demo.mixes import MIXES, MixResult, apply_mix, get_mix
from tests.mixes._batches import batch, gen

NAMES = sorted(MIXES)


def test_registry_holds_the_methods_of_the_issue():
    expected = {
        "mixup",
        "cutmix",
        "snapmix",
        "snapmix_official",
        "resizemix",
        "fmix",
        "attentive_cutmix",
        "saliencymix",
        "guidedmixup",
        "transmix",
    }
    assert expected <= set(MIXES), f"missing: {expected - set(MIXES)}"


@pytest.mark.parametrize("name", NAMES)
def test_every_spec_declares_its_facts(name):
    spec = MIXES[name]
    assert spec.name == name
    assert spec.paper.authors and spec.paper.venue and 2017 <= spec.paper.year <= 2023, spec.paper
    assert spec.paper.url.startswith("https://arxiv.org/abs/"), spec.paper.url
    for rule in (spec.image_rule, spec.label_rule):
        assert rule and "\n" not in rule and len(rule) < 120, f"{name}: one line please, got {rule!r}"
    assert spec.needs in ("nothing", "cam", "cam_relu")
    for param in spec.params:
        assert param.check(param.default) == param.default, f"{name}: default of `{param.name}` must be valid"


def test_needs_follow_the_papers():
    needs = {name: MIXES[name].needs for name in NAMES}
    assert {n for n, v in needs.items() if v == "nothing"} == {"mixup", "cutmix", "resizemix", "fmix"}
    assert needs["snapmix_official"] == "cam_relu"
    assert MIXES["cutmix"].paper.cite == "Yun et al., ICCV 2019"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 5])
def test_every_method_mixes_a_batch(name, n):
    x, y, spm, deg = batch(n)
    mix = apply_mix(name, x, y, generator=gen(3), spm=spm, degenerate=deg)
    assert isinstance(mix, MixResult) and mix.method == name and mix.mixed
    mixed, y_b, rho_a, rho_b = mix
    assert mix[0] is mixed and mix[3] is rho_b, "indexes like the 4-tuple it unpacks as"
    assert mixed.shape == x.shape and y_b.shape == (n,) and rho_a.shape == (n,) == rho_b.shape
    assert mix.mask.shape == (n, *x.shape[-2:]) and 0 <= float(mix.mask.min()) <= float(mix.mask.max()) <= 1
    assert ((rho_a >= 0) & (rho_a <= 1) & (rho_b >= 0) & (rho_b <= 1)).all(), (rho_a, rho_b)
    assert torch.equal(y_b, y[mix.perm])


@pytest.mark.parametrize("name", NAMES)
def test_every_method_is_seeded(name):
    x, y, spm, deg = batch(6)
    first, again, other = (apply_mix(name, x, y, generator=gen(s), spm=spm, degenerate=deg) for s in (7, 7, 8))
    assert all(torch.equal(p, q) for p, q in zip(first, again, strict=True)), f"{name}: same seed, other output"
    assert torch.equal(first.mask, again.mask) and torch.equal(first.perm, again.perm)
    assert not torch.equal(first.x, other.x), f"{name}: another seed must give another mix"


@pytest.mark.parametrize("name", NAMES)
def test_probability_zero_leaves_the_batch_as_it_is(name):
    x, y, spm, deg = batch(3)
    mix = apply_mix(name, x, y, generator=gen(0), prob=0.0, spm=spm, degenerate=deg)
    assert mix.x is x and not mix.mixed and mix.rho_a.tolist() == [1.0] * 3 and mix.rho_b.tolist() == [0.0] * 3
    assert float(mix.mask.abs().sum()) == 0.0


def test_unknown_method_names_the_closest_choice():
    with pytest.raises(ValueError, match=r"`method`: unknown method `snapmx` \(did you mean `snapmix`\?\); choose"):
        get_mix("snapmx")
    with pytest.raises(ValueError, match="`method`"):
        get_mix(None)


def test_a_parameter_the_method_does_not_take_is_named():
    x, y, _, _ = batch(2)
    with pytest.raises(ValueError, match=r"`top_k`: is not a parameter of method `cutmix`; it takes: `beta`"):
        apply_mix("cutmix", x, y, generator=gen(0), top_k=3)


@pytest.mark.parametrize("name", [n for n in NAMES if MIXES[n].needs != "nothing"])
def test_cam_methods_refuse_to_run_without_maps(name):
    x, y, spm, _ = batch(2)
    with pytest.raises(ValueError, match=rf"`spm`: method `{name}` needs"):
        apply_mix(name, x, y, generator=gen(0))
    with pytest.raises(ValueError, match="`degenerate`"):
        apply_mix(name, x, y, generator=gen(0), spm=spm, degenerate=torch.zeros(2))


BAD = [
    ("mixup", {"beta": 0}, "beta"),
    ("cutmix", {"beta": -1.0}, "beta"),
    ("snapmix", {"beta": math.nan}, "beta"),
    ("fmix", {"beta": True}, "beta"),
    ("saliencymix", {"beta": "5"}, "beta"),
    ("fmix", {"decay": 0.0}, "decay"),
    ("resizemix", {"scale_min": 0.0}, "scale_min"),
    ("resizemix", {"scale_max": 1.5}, "scale_max"),
    ("resizemix", {"scale_min": 0.6, "scale_max": 0.5}, "scale_min"),
    ("attentive_cutmix", {"top_k": 0}, "top_k"),
    ("attentive_cutmix", {"top_k": 50}, "top_k"),
    ("attentive_cutmix", {"top_k": 2.5}, "top_k"),
    ("attentive_cutmix", {"top_k": True}, "top_k"),
    ("attentive_cutmix", {"grid": (0, 7)}, "grid"),
    ("attentive_cutmix", {"grid": 7}, "grid"),
    ("attentive_cutmix", {"grid": (13, 4)}, "grid"),  # more rows than the 12-pixel frame has
    ("transmix", {"area_weight": 1.5}, "area_weight"),
    ("guidedmixup", {"prob": 2}, "prob"),
    ("mixup", {"prob": "1"}, "prob"),
]


@pytest.mark.parametrize(("name", "params", "field"), BAD, ids=[f"{n}-{f}-{p}" for n, p, f in BAD])
def test_bad_parameters_name_the_field_and_the_fix(name, params, field):
    x, y, spm, deg = batch(2)
    with pytest.raises(ValueError, match=rf"^`{field}`: must ") as caught:
        apply_mix(name, x, y, generator=gen(0), spm=spm, degenerate=deg, **params)
    assert "got" in str(caught.value), str(caught.value)


def test_parameter_messages_say_what_to_pass():
    x, y, spm, deg = batch(2)
    with pytest.raises(ValueError, match="top_k") as caught:
        apply_mix("attentive_cutmix", x, y, generator=gen(0), spm=spm, degenerate=deg, top_k=50)
    assert str(caught.value) == (
        "`top_k`: must be a whole number from 1 to 49 (cells of the grid pasted from B; default 6), got 50"
    ), str(caught.value)
    with pytest.raises(ValueError, match="beta") as caught:
        apply_mix("snapmix", x, y, generator=gen(0), spm=spm, degenerate=deg, beta=-1)
    assert "a number above 0" in str(caught.value) and "default 5.0" in str(caught.value), str(caught.value)


def test_bad_inputs_are_refused_by_name():
    x, y, spm, deg = batch(3)
    with pytest.raises(ValueError, match="`x`"):
        apply_mix("mixup", x[0], y, generator=gen(0))
    with pytest.raises(ValueError, match="`y`"):
        apply_mix("mixup", x, y[:2], generator=gen(0))
    with pytest.raises(ValueError, match="`perm`"):
        apply_mix("mixup", x, y, generator=gen(0), perm=torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="`spm`"):
        apply_mix("snapmix", x, y, generator=gen(0), spm=spm[:, :4], degenerate=deg)
