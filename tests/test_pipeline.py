"""`snapmix_pair` end to end on real backbones: invariants, modes, seeds, boxes, caching, inputs."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from snapmix_demo import PATCH_MODES, ImageError, snapmix_pair
from snapmix_demo.analysis import clear_caches, resolve_target
from snapmix_demo.errors import InputError
from snapmix_demo.snapmix import box_mass
from snapmix_demo.weights import cached_backbone, model_cache_info

NET = "resnet18"
PAIR = {"backbone": NET, "weights": "random"}


def test_result_fields_and_frame(photo_pair):
    a, b = photo_pair
    res = snapmix_pair(a, b, **PAIR, seed=3)
    assert res.image_a.size == res.image_b.size == res.mixed.size == (224, 224)
    for spm in (res.spm_a, res.spm_b):
        assert spm.dtype == np.float32 and spm.shape == (224, 224)
        assert spm.min() >= 0 and spm.sum() == pytest.approx(1.0, abs=1e-4)
    assert 0 <= res.rho_a <= 1 and 0 <= res.rho_b <= 1
    assert res.rho_a == pytest.approx(1 - float(box_mass(res.spm_a, res.box_a)))
    assert res.rho_b == pytest.approx(float(box_mass(res.spm_b, res.box_b))), "rho_b is measured at box B"
    top, left, bottom, right = res.box_a
    assert res.area_lambda == pytest.approx(1 - (bottom - top) * (right - left) / 224**2)
    assert res.label_a == res.topk_a[0][0] and len(res.topk_a) == 5
    assert "random init" in res.weights and res.weights_kind == "random"
    assert set(res.timings) >= {"decode", "model", "mix", "total"}


def test_the_three_modes_are_bit_identical(photo_pair):
    results = []
    for mode in PATCH_MODES:
        clear_caches()
        res = snapmix_pair(*photo_pair, **PAIR, mode=mode, seed=11)
        assert res.forward_passes == 1, f"{mode} must run its own accessor"
        results.append(res)
    first = results[0]
    for res in results[1:]:
        assert (res.rho_a, res.rho_b, res.box_a, res.box_b) == (first.rho_a, first.rho_b, first.box_a, first.box_b)
        assert np.array_equal(res.spm_a, first.spm_a) and np.array_equal(res.spm_b, first.spm_b)
        assert res.mixed.tobytes() == first.mixed.tobytes()
        assert res.topk_a == first.topk_a


def test_same_seed_same_result_other_seed_other_boxes(photo_pair):
    one = snapmix_pair(*photo_pair, **PAIR, seed=4)
    two = snapmix_pair(*photo_pair, **PAIR, seed=4)
    three = snapmix_pair(*photo_pair, **PAIR, seed=5)
    assert one.to_dict() | {"timings_ms": None, "forward_passes": None} == two.to_dict() | {
        "timings_ms": None,
        "forward_passes": None,
    }
    assert (one.box_a, one.box_b) != (three.box_a, three.box_b)


def test_a_new_seed_reuses_the_cached_cams(photo_pair):
    first = snapmix_pair(*photo_pair, **PAIR, seed=1)
    second = snapmix_pair(*photo_pair, **PAIR, seed=2, beta=1.0, box_b=(0, 0, 50, 60))
    assert first.forward_passes == 1 and second.forward_passes == 0, "only the mix is recomputed"
    assert np.array_equal(first.spm_a, second.spm_a)
    third = snapmix_pair(*photo_pair, **PAIR, seed=2, target_a=3)
    assert third.forward_passes == 1, "a new target class runs the model"


def test_explicit_boxes_are_honoured_and_leave_the_other_draw_alone(photo_pair):
    drawn = snapmix_pair(*photo_pair, **PAIR, seed=8)
    given = snapmix_pair(*photo_pair, **PAIR, seed=8, box_a=(10, 20, 110, 60))
    assert given.box_a == (10, 20, 110, 60)
    assert given.box_b == drawn.box_b, "box B does not depend on whether box A was given"
    mixed, a = np.asarray(given.mixed), np.asarray(given.image_a)
    outside = np.ones((224, 224), bool)
    outside[10:110, 20:60] = False
    assert np.array_equal(mixed[outside], a[outside]), "pixels outside box A are A's"
    top, left, bottom, right = given.box_b
    crop = torch.from_numpy(np.array(given.image_b)).permute(2, 0, 1)[None, :, top:bottom, left:right].float()
    resized = torch.nn.functional.interpolate(crop, size=(100, 40), mode="bilinear", align_corners=False)
    expected = resized[0].permute(1, 2, 0).round().clamp(0, 255).numpy()
    assert np.abs(mixed[10:110, 20:60].astype(float) - expected).max() <= 1, "inside box A: B's crop, resized"


def test_invariant_whole_image_box_leaves_nothing_of_a(photo_pair):
    res = snapmix_pair(*photo_pair, **PAIR, box_a=(0, 0, 224, 224))
    assert res.rho_a == pytest.approx(0.0, abs=1e-5)
    assert res.area_lambda == 0.0


def test_invariant_same_image_same_class_same_box_sums_to_one(photo_pair):
    a = photo_pair[0]
    res = snapmix_pair(a, a, **PAIR, target_a=7, target_b=7, box_a=(30, 40, 150, 200), box_b=(30, 40, 150, 200))
    assert res.same_class
    assert res.rho_a + res.rho_b == pytest.approx(1.0, abs=1e-5)
    assert res.to_dict()["combined_weight"] == pytest.approx(1.0, abs=1e-5)


def test_degenerate_cam_falls_back_to_area_and_is_flagged(photo_pair):
    bb = cached_backbone(NET, weights="random")
    fc = bb.model.get_fc()
    saved = fc.weight[9].clone()
    try:
        with torch.no_grad():
            fc.weight[9] = 0  # CAM of class 9 = its bias everywhere
        res = snapmix_pair(*photo_pair, **PAIR, target_a=9, target_b=9, seed=2)
    finally:
        with torch.no_grad():
            fc.weight[9] = saved
    assert res.fallback_a and res.fallback_b and res.spm_a is None
    assert res.rho_a == pytest.approx(res.area_lambda)
    assert res.rho_b == pytest.approx(1 - res.area_lambda)


def test_an_empty_box_means_no_mix(photo_pair):
    res = snapmix_pair(*photo_pair, **PAIR, box_a=(5, 5, 5, 50))
    assert not res.mixed_applied
    assert (res.rho_a, res.rho_b, res.area_lambda) == (1.0, 0.0, 1.0)
    assert res.mixed.tobytes() == res.image_a.tobytes()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "CMYK", "1", "I;16"])
def test_image_modes_are_converted(mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8))
    img = rgb.convert(mode) if mode != "I;16" else Image.fromarray((np.arange(2800).reshape(40, 70) * 20).astype("<u2"))
    res = snapmix_pair(img, rgb, **PAIR)
    assert res.image_a.mode == "RGB" and res.image_a.size == (224, 224)


@pytest.mark.parametrize("size", [(1, 1), (3, 500), (500, 2)])
def test_tiny_and_extreme_inputs_work(size):
    img = Image.new("RGB", size, (200, 40, 90))
    res = snapmix_pair(img, img, **PAIR)
    assert res.mixed.size == (224, 224)


def test_png_bytes_and_arrays_are_accepted(photo_pair):
    buf = io.BytesIO()
    photo_pair[0].save(buf, format="PNG")
    from_bytes = snapmix_pair(buf.getvalue(), np.asarray(photo_pair[1]), **PAIR)
    from_pil = snapmix_pair(*photo_pair, **PAIR)
    assert from_bytes.rho_a == from_pil.rho_a and from_bytes.rho_b == from_pil.rho_b


def test_to_dict_is_json_safe(photo_pair):
    res = snapmix_pair(*photo_pair, **PAIR, seed=6)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["box_a"] == list(res.box_a) and data["rho_b"] == res.rho_b
    assert data["cutmix_b"] == pytest.approx(1 - res.area_lambda)
    assert data["label_a"] == res.label_a and data["input_size"] == [224, 224]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backbone": "resnt18"}, "did you mean `resnet18`"),
        ({"mode": "monkey"}, "unknown patch mode"),
        ({"weights": "laion"}, "unknown weights"),
        ({"beta": 0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"box_a": (0, 0, 300, 10)}, "box_a"),
        ({"box_b": (5, 5, 2, 9)}, "box_b"),
        ({"box_a": "top"}, "four whole numbers"),
        ({"target_a": 1000}, "out of range"),
        ({"target_b": "not a class"}, "unknown target class"),
    ],
)
def test_bad_arguments_raise_clear_errors(photo_pair, kwargs, message):
    with pytest.raises(ValueError, match=message):
        snapmix_pair(*photo_pair, **(PAIR | kwargs))


_HUGE = "9" * 5000
BAD_VALUES = [  # issue 15, item 6: refused alike in every entry point, with the field named
    ("seed", 0.5),
    ("seed", 1.5),
    ("seed", True),
    ("seed", float("nan")),
    ("seed", float("inf")),
    ("seed", "3"),
    ("seed", None),
    ("seed", 10**5000),
    ("beta", None),
    ("beta", True),
    ("beta", "5"),
    ("box_a", "1_0, 0, 50, 50"),
    ("box_a", f"{_HUGE}, 0, 50, 50"),
    ("box_a", "١٠, 0, 50, 50"),  # Arabic-Indic digits, which int() would read
    ("box_a", (1.5, 0, 50, 50)),
    ("box_b", (True, 0, 50, 50)),
    ("box_b", "10 10 100"),
    ("target_a", "1_0"),
    ("target_b", _HUGE),
    ("target_a", 10**5000),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_VALUES)])
def test_bad_values_are_refused_with_the_field_named_and_a_short_excerpt(photo_pair, field, value):
    with pytest.raises(InputError) as e:
        snapmix_pair(*photo_pair, **(PAIR | {field: value}))
    assert e.value.field == field and str(e.value).startswith(f"`{field}`: ")
    assert len(str(e.value)) < 250, "the message quotes an excerpt, never the whole value"


@pytest.mark.parametrize(
    "text", ["10 20 110 120", "10,20,110,120", "10, 20, 110, 120", "[10 20 110 120]", "(10, 20, 110, 120)"]
)
def test_boxes_accept_commas_spaces_and_brackets(photo_pair, text):
    assert snapmix_pair(*photo_pair, **PAIR, box_a=text).box_a == (10, 20, 110, 120)


def test_whole_floats_are_whole_numbers(photo_pair):
    assert snapmix_pair(*photo_pair, **PAIR, seed=2.0).to_dict() | {"timings_ms": 0, "forward_passes": 0} == (
        snapmix_pair(*photo_pair, **PAIR, seed=2).to_dict() | {"timings_ms": 0, "forward_passes": 0}
    )


def test_an_unusable_image_names_its_argument(photo_pair):
    with pytest.raises(ImageError) as e:
        snapmix_pair(photo_pair[0], b"not an image", **PAIR)
    assert isinstance(e.value, InputError) and e.value.field == "image_b"
    assert "not an image in a supported format" in e.value.problem


def test_the_result_says_how_each_weight_came_about(photo_pair):
    res = snapmix_pair(*photo_pair, **PAIR, seed=3, target_b=7)
    assert res.share_a == pytest.approx(float(box_mass(res.spm_a, res.box_a))) == pytest.approx(1 - res.rho_a)
    assert res.share_b == pytest.approx(res.rho_b)
    assert (res.chosen_a, res.chosen_b) == (False, True)
    assert res.prob_a == pytest.approx(res.topk_a[0][1]), "the predicted class's probability is its top-1's"
    assert 0 <= res.prob_b <= 1 and res.class_b == 7


def test_targets_by_name_and_index():
    classes = ("circle", "square")
    assert resolve_target("square", classes) == 1
    assert resolve_target("1", classes) == 1
    assert resolve_target("predicted", classes) is None
    assert resolve_target(None, classes) is None


def test_batch_equals_the_pair_computation_per_sample(photo_pair):
    from snapmix_demo.analysis import _to_tensor
    from snapmix_demo.snapmix import mix_at, model_maps, normalise

    bb = cached_backbone(NET, weights="random")
    images = [img.resize((224, 224), Image.BILINEAR) for img in (*photo_pair, photo_pair[0].rotate(90))]
    x = normalise(torch.stack([_to_tensor(img) for img in images]), bb.spec)
    y = torch.tensor([3, 141, 3])
    perm = torch.tensor([2, 0, 1])
    box_a, box_b = (20, 30, 120, 200), (50, 0, 200, 100)
    maps = model_maps(bb.model, x, y)
    mix = mix_at(x, y, maps.spms, maps.degenerate, box_a=box_a, box_b=box_b, perm=perm)
    for i in range(3):
        j = int(perm[i])
        res = snapmix_pair(
            images[i], images[j], **PAIR, target_a=int(y[i]), target_b=int(y[j]), box_a=box_a, box_b=box_b
        )
        assert float(mix.rho_a[i]) == pytest.approx(res.rho_a, abs=1e-5), f"sample {i}"
        assert float(mix.rho_b[i]) == pytest.approx(res.rho_b, abs=1e-5), f"sample {i}"


def test_pipeline_leaves_models_clean(photo_pair):
    for seed in range(5):
        snapmix_pair(*photo_pair, **PAIR, seed=seed, mode=PATCH_MODES[seed % 3])
    model = cached_backbone(NET, weights="random").model
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    hooks = [m for m in model.modules() if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks]
    assert not hooks
    info = model_cache_info()
    assert len(info["keys"]) <= info["maxsize"]


@pytest.mark.parametrize("net", [NET, "tf_efficientnet_lite0"])
def test_normalisation_is_the_textbook_formula(net):
    from snapmix_demo.snapmix import normalise

    bb = cached_backbone(net, weights="random")
    images = [
        torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
        for i in range(2)
    ]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (bb.spec.mean, bb.spec.std))
    expected = (torch.stack(images).double() / 255 - mean.double()) / std.double()
    torch.testing.assert_close(normalise(torch.stack(images), bb.spec).double(), expected, atol=1e-5, rtol=0)
    arrays = np.stack([img.permute(1, 2, 0).numpy() for img in images])  # (N, H, W, 3), as PIL gives them
    assert torch.equal(normalise(arrays, bb.spec), normalise(torch.stack(images), bb.spec))
