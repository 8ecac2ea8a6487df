"""The mixing lab: `mix_pair` is each method's one implementation on a batch of two, `compare_mixes` runs them all.

Each method's pair is checked bit for bit against `apply_mix` on the same batch (partners [1, 0]), SnapMix
against `snapmix_pair`, the truth against `object_shares`, and every bad input against the messages that
`snapmix_pair` gives, through the library and the command line (the HTTP endpoint: tests/test_api.py).
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from snapmix_demo import MIXES, compare_mixes, mix_pair, snapmix_pair
from snapmix_demo.analysis import clear_caches
from snapmix_demo.app.examples import PHOTO_PAIRS, SHAPE_PAIRS
from snapmix_demo.cli import main
from snapmix_demo.errors import InputError
from snapmix_demo.lab import PAIR_PERM, known_objects
from snapmix_demo.mixes import apply_mix, object_shares
from snapmix_demo.training.shapes import make_sample

STAR, RING = SHAPE_PAIRS[0]
CAT, COFFEE = PHOTO_PAIRS[0]
NAMES = list(MIXES)
SHAPES = {"weights": "shapes"}


def _batch(res):
    """The batch of two that `mix_pair` mixed: both model-frame images, their classes, the maps the method read."""
    x = torch.stack([torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1) for img in (res.image_a, res.image_b)])
    y = torch.tensor([res.class_a, res.class_b])
    if res.spec.needs == "nothing":
        return x, y, {}
    spms = [torch.zeros(x.shape[-2:]) if s is None else torch.from_numpy(s.copy()) for s in (res.spm_a, res.spm_b)]
    return x, y, {"spm": torch.stack(spms), "degenerate": torch.tensor([res.spm_a is None, res.spm_b is None])}


@pytest.mark.parametrize("name", NAMES)
def test_each_method_is_apply_mix_on_a_batch_of_two(name):
    res = mix_pair(STAR, RING, method=name, seed=5, **SHAPES)
    x, y, maps = _batch(res)
    params = {k: v for k, v in res.params.items() if k != "beta" or name not in ("snapmix", "snapmix_official")}
    generator = torch.Generator().manual_seed(5)
    mix = apply_mix(name, x, y, generator=generator, perm=PAIR_PERM, **maps, **params)
    if name in ("snapmix", "snapmix_official"):  # `snapmix_pair`'s boxes: the method at the boxes it drew
        res = mix_pair(STAR, RING, method=name, seed=5, box_a=mix.box_a, box_b=mix.box_b, **SHAPES)
    assert np.array_equal(np.asarray(res.mixed), mix.x[0].permute(1, 2, 0).numpy()), "the mixed image, bit for bit"
    assert np.array_equal(res.mask, mix.mask[0].numpy()), "B's share of every pixel"
    assert (res.rho_a, res.rho_b) == (float(mix.rho_a[0]), float(mix.rho_b[0]))
    objects = torch.stack([torch.from_numpy(known_objects(Image.open(p)).copy()).float() for p in (STAR, RING)])
    truth = object_shares(mix, objects)
    assert (res.true_a, res.true_b) == (float(truth[0][0]), float(truth[1][0])), "the truth: the mix on the masks"
    assert res.method == name and res.label_a == "star" and res.label_b == "ring"


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_snapmix_is_the_snapmix_tabs_result(seed):
    pair = snapmix_pair(CAT, COFFEE, seed=seed, beta=2.0)
    res = mix_pair(CAT, COFFEE, method="snapmix", seed=seed, beta=2.0)
    assert (res.box_a, res.box_b) == (pair.box_a, pair.box_b), "the same boxes from the same seed and beta"
    assert np.array_equal(np.asarray(res.mixed), np.asarray(pair.mixed)), "the same pixels"
    assert res.rho_a == pytest.approx(pair.rho_a, rel=1e-6) and res.rho_b == pytest.approx(pair.rho_b, rel=1e-6)
    assert (res.class_a, res.label_b, res.prob_a) == (pair.class_a, pair.label_b, pair.prob_a)
    given = mix_pair(CAT, COFFEE, method="snapmix", box_a="10 20 110 120", box_b=[0, 0, 50, 60])
    pair = snapmix_pair(CAT, COFFEE, box_a="10 20 110 120", box_b=[0, 0, 50, 60])
    assert (given.box_a, given.box_b) == (pair.box_a, pair.box_b) == ((10, 20, 110, 120), (0, 0, 50, 60))
    assert given.rho_b == pytest.approx(pair.rho_b, rel=1e-6)


def test_a_comparison_runs_one_forward_and_every_method():
    clear_caches()
    cmp = compare_mixes(STAR, RING, seed=2, **SHAPES)
    assert list(cmp.pairs) == NAMES and cmp.forward_passes == 1 and cmp.truth_known
    again = mix_pair(STAR, RING, method="guidedmixup", seed=2, **SHAPES)
    assert again.forward_passes == 0, "the analyses are cached: a method after the comparison runs no model"
    assert again.rho_a == cmp.pairs["guidedmixup"].rho_a
    snap = snapmix_pair(STAR, RING, seed=2, **SHAPES)
    assert cmp.pairs["snapmix"].box_a == snap.box_a and cmp.pairs["snapmix"].rho_b == pytest.approx(snap.rho_b)
    facts = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    assert set(facts["methods"]) == set(NAMES) and facts["label_a"] == "star" and facts["forward_passes"] == 1
    for name, row in facts["methods"].items():
        assert row["paper"] == MIXES[name].paper.cite and row["label_rule"] == MIXES[name].label_rule
        assert row["error_a"] == pytest.approx(row["rho_a"] - row["true_a"])
        assert row["error_b"] == pytest.approx(row["rho_b"] - min(row["true_b"], 1.0))
    subset = compare_mixes(STAR, RING, methods=["cutmix", "snapmix"], seed=2, **SHAPES)
    assert list(subset.pairs) == ["cutmix", "snapmix"] and subset.forward_passes == 0


def test_mixed_image_mask_and_area_agree():
    res = mix_pair(CAT, COFFEE, method="cutmix", seed=4)
    a, b, mixed = (np.asarray(img).astype(int) for img in (res.image_a, res.image_b, res.mixed))
    inside = res.mask == 1
    assert inside.any() and np.array_equal(mixed[inside], b[inside]) and np.array_equal(mixed[~inside], a[~inside])
    assert res.area_b == pytest.approx(inside.mean()) == pytest.approx(res.rho_b)
    assert res.true_a is None and res.error_a is None, "no masks for photos: no truth"
    assert res.spm_a is None, "CutMix reads no map"
    assert mix_pair(CAT, COFFEE, method="saliencymix", seed=4).spm_a is not None


def test_official_maps_come_from_the_same_forward_and_differ_only_on_silu_heads():
    clear_caches()
    linear = mix_pair(CAT, COFFEE, method="snapmix", backbone="efficientnet_b0", weights="random", seed=1)
    official = mix_pair(CAT, COFFEE, method="snapmix_official", backbone="efficientnet_b0", weights="random", seed=1)
    assert (linear.forward_passes, official.forward_passes) == (1, 0), "one forward gives both kinds of maps"
    assert not np.array_equal(linear.spm_a, official.spm_a), "SiLU features go negative: ReLU changes the CAM"
    assert linear.box_a == official.box_a
    relu_head = [mix_pair(CAT, COFFEE, method=m, weights="imagenet", seed=1) for m in ("snapmix", "snapmix_official")]
    assert relu_head[0].spm_a is relu_head[1].spm_a, "ReLU6 features are never negative: the same map, kept once"
    assert relu_head[0].rho_a == relu_head[1].rho_a


def test_given_object_masks_give_the_truth():
    a, b = (np.zeros((60, 90), bool) for _ in range(2))
    a[:, :45] = True
    b[:30] = True
    res = mix_pair(np.zeros((60, 90, 3), np.uint8), np.zeros((60, 90, 3), np.uint8), method="mixup",
                   backbone="resnet18", weights="random", seed=0, objects=(a, b))  # fmt: skip
    assert res.true_a == pytest.approx(res.rho_a, abs=1e-6), "Mixup keeps lam of every pixel: its label is the truth"
    empty = mix_pair(np.zeros((60, 90, 3), np.uint8), np.zeros((60, 90, 3), np.uint8), method="cutmix",
                     backbone="resnet18", weights="random", objects=(a, np.zeros_like(b)))  # fmt: skip
    assert empty.true_b is None and empty.error_b is None and empty.true_a is not None, "no object: no share"
    json.dumps(empty.to_dict(), allow_nan=False)
    with pytest.raises(InputError, match=r"^`mask_b`: the mask of B is 90 × 10 pixels; it must have the shape of its"):
        mix_pair(np.zeros((60, 90, 3), np.uint8), np.zeros((60, 90, 3), np.uint8), method="mixup",
                 backbone="resnet18", weights="random", objects=(a, b[:10]))  # fmt: skip


def test_object_masks_as_pictures_give_the_same_truth_as_arrays(tmp_path):
    """Any shapes image's truth: a mask drawn as a black-and-white picture, at its image's size or proportions."""
    sample = [make_sample(seed, size=96) for seed in (3, 4)]
    images = [s.image for s in sample]
    arrays = tuple(s.mask for s in sample)
    Image.fromarray(arrays[0].astype(np.uint8) * 255).save(tmp_path / "a.png")
    half = Image.fromarray(arrays[1].astype(np.uint8) * 255).resize((48, 48), Image.NEAREST)
    kwargs = {"method": "cutmix", "weights": "shapes", "seed": 2}
    from_arrays = mix_pair(*images, objects=arrays, **kwargs)
    from_files = mix_pair(*images, objects=(tmp_path / "a.png", half.convert("RGB")), **kwargs)
    assert from_arrays.true_a is not None and from_files.true_a == pytest.approx(from_arrays.true_a, abs=1e-6)
    assert from_files.true_b == pytest.approx(from_arrays.true_b, abs=0.03), "a half-size mask is resized to fit"


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ((np.ones((96, 96), bool), None), r"^`mask_b`: give an object mask for both images, or for neither"),
        ((b"not a picture", np.ones((96, 96), bool)), r"^`mask_a`: "),
        ((np.full((96, 96), 2.0), np.ones((96, 96), bool)), r"^`mask_a`: the mask of A must hold values in \[0, 1\]"),
        ((np.ones((96, 96), bool), np.ones((96, 40), bool)), r"^`mask_b`: the mask of B is 40 × 96 pixels"),
    ],
)
def test_bad_object_masks_are_named(objects, message):
    images = [make_sample(seed, size=96).image for seed in (3, 4)]
    with pytest.raises(InputError, match=message):
        mix_pair(*images, method="cutmix", weights="shapes", objects=objects)


def test_the_bundled_shapes_are_recognised_by_their_pixels_only():
    for path in (STAR, RING, *SHAPE_PAIRS[1]):
        mask = known_objects(Image.open(path))
        assert mask is not None and mask.dtype == bool and 0.01 < mask.mean() < 0.3
    assert known_objects(Image.open(CAT)) is None
    shifted = np.asarray(Image.open(STAR).convert("RGB")).copy()
    shifted[0, 0] ^= 1
    assert known_objects(Image.fromarray(shifted)) is None, "one pixel off: not the example, no truth claimed"


# ## Bad input: the messages of `snapmix_pair`, and the method's own


SHARED_BAD = [
    ({"seed": 1.5}, "`seed`: must be a whole number"),
    ({"seed": -1}, "`seed`: must be a whole number"),
    ({"mode": "monkey"}, "`mode`: unknown patch mode 'monkey'"),
    ({"backbone": "vgg16"}, "`backbone`:"),
    ({"box_a": "1,2,3"}, "`box_a`: must be four whole numbers"),
    ({"target_a": "not a class"}, "`target_a`: unknown target class"),
]


@pytest.mark.parametrize(("kwargs", "expected"), SHARED_BAD, ids=[next(iter(k)) for k, _ in SHARED_BAD])
def test_shared_inputs_are_refused_as_snapmix_pair_refuses_them(kwargs, expected):
    with pytest.raises(InputError) as theirs:
        snapmix_pair(CAT, COFFEE, weights="random", **({"backbone": "resnet18"} | kwargs))
    for call in (mix_pair, compare_mixes):
        with pytest.raises(InputError) as ours:
            call(CAT, COFFEE, weights="random", **({"backbone": "resnet18"} | kwargs))
        assert str(ours.value) == str(theirs.value) and expected in str(ours.value), call.__name__


def test_images_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^`image_b`: "):
        mix_pair(CAT, b"not an image", method="fmix", weights="random", backbone="resnet18")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"method": "snapmx"}, "`method`: unknown method `snapmx` (did you mean `snapmix`?); choose one of: "),
        ({"method": None}, "`method`: unknown method `None`"),
        ({"method": "cutmix", "top_k": 3}, "`top_k`: is not a parameter of method `cutmix`; it takes: `beta`"),
        ({"method": "attentive_cutmix", "top_k": 99}, "`top_k`: must be a whole number from 1 to 49"),
        ({"method": "attentive_cutmix", "top_k": 0}, "`top_k`: must be a whole number"),
        ({"method": "fmix", "decay": -1}, "`decay`: must be a number above 0"),
        ({"method": "cutmix", "beta": -1}, "`beta`: must be a number above 0 (Beta(beta, beta) draws the mixing"),
        ({"method": "snapmix", "beta": math.nan}, "`beta`: must be a number above 0"),
        ({"method": "snapmix", "beta": 0}, "`beta`: must be a number above 0"),
        ({"method": "mixup", "prob": 0.5}, "`prob`: is not a parameter of method `mixup`"),
        ({"method": "cutmix", "box_a": "0 0 10 10"}, "`box_a`: method `cutmix` draws its own mix from the seed"),
    ],
)
def test_methods_and_their_parameters_are_refused_by_name(kwargs, expected):
    with pytest.raises(InputError) as caught:
        mix_pair(CAT, COFFEE, backbone="resnet18", weights="random", **kwargs)
    assert str(caught.value).startswith(expected.split(":")[0]) and expected in str(caught.value), str(caught.value)


def test_a_comparison_refuses_bad_method_lists_and_beta_as_snapmix_pair_does():
    with pytest.raises(ValueError, match=r"^`method`: unknown method `nope`"):
        compare_mixes(CAT, COFFEE, methods=["cutmix", "nope"], weights="random", backbone="resnet18")
    with pytest.raises(ValueError, match=r"^`methods`: must be a list"):
        compare_mixes(CAT, COFFEE, methods="cutmix", weights="random", backbone="resnet18")
    with pytest.raises(InputError) as theirs:
        snapmix_pair(CAT, COFFEE, beta=-2, weights="random", backbone="resnet18")
    with pytest.raises(InputError) as ours:
        compare_mixes(CAT, COFFEE, beta=-2, weights="random", backbone="resnet18")
    assert str(ours.value) == str(theirs.value) == "`beta`: must be a positive number (the paper uses 5), got -2"


# ## The command line


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snapmix_demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_cli_method_writes_its_image_mask_and_facts(tmp_path):
    out = tmp_path / "one"
    done = run_cli(STAR, RING, "--weights", "shapes", "--method", "attentive_cutmix", "--param", "top_k=3",
                   "--seed", "4", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {"mixed.png", "mask.png", "result.json"}
    facts = json.loads((out / "result.json").read_text())
    expected = mix_pair(STAR, RING, method="attentive_cutmix", top_k=3, seed=4, **SHAPES)
    assert facts["rho_a"] == expected.rho_a and facts["params"]["top_k"] == 3 and facts["true_b"] == expected.true_b
    assert facts["inputs"] == {"image_a": "shape_star.png", "image_b": "shape_ring.png"}
    assert np.array_equal(np.asarray(Image.open(out / "mixed.png")), np.asarray(expected.mixed))
    assert "attentive_cutmix: rho_a=" in done.stdout and "truth:" in done.stdout


def test_cli_all_writes_every_method_and_a_comparison(tmp_path):
    out = tmp_path / "all"
    done = run_cli(STAR, RING, "--weights", "shapes", "--method", "all", "--out", str(out))
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"comparison.json"} | {f"{kind}_{m}.png" for m in NAMES for kind in ("mixed", "mask")}
    facts = json.loads((out / "comparison.json").read_text())
    assert list(facts["methods"]) == NAMES and facts["truth_known"]
    assert facts["methods"]["snapmix"]["rho_a"] == pytest.approx(snapmix_pair(STAR, RING, **SHAPES).rho_a)
    assert len(done.stdout.strip().splitlines()) == len(NAMES) + 1


def test_cli_masks_give_any_shapes_image_its_truth(tmp_path):
    """Two generated shapes images, not the bundled ones: the truth comes from their masks, given as pictures."""
    for name, seed in (("a", 5), ("b", 6)):
        sample = make_sample(seed, size=128)
        sample.image.save(tmp_path / f"{name}.png")
        Image.fromarray(sample.mask.astype(np.uint8) * 255).save(tmp_path / f"{name}.mask.png")
    images, masks = [str(tmp_path / f"{n}.png") for n in "ab"], [str(tmp_path / f"{n}.mask.png") for n in "ab"]
    done = run_cli(
        *images, "--weights", "shapes", "--mask-a", masks[0], "--mask-b", masks[1], "--out", str(tmp_path / "o")
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads((tmp_path / "o" / "result.json").read_text())
    expected = mix_pair(*images, method="snapmix", objects=tuple(masks), **SHAPES)
    assert (
        facts["method"] == "snapmix" and facts["true_a"] == pytest.approx(expected.true_a) and "truth:" in done.stdout
    )
    Image.new("L", (128, 128)).save(tmp_path / "empty.png")  # no object in B: its truth is none, not a crash
    empty = run_cli(*images, "--weights", "shapes", "--mask-a", masks[0], "--mask-b", str(tmp_path / "empty.png"),
                    "--method", "cutmix", "--out", str(tmp_path / "e"))  # fmt: skip
    assert empty.returncode == 0 and " / none" in empty.stdout, empty.stderr
    one = run_cli(*images, "--weights", "shapes", "--mask-a", masks[0], "--out", str(tmp_path / "p"))
    assert one.returncode == 2 and "--mask-b: give an object mask for both images, or for neither" in one.stderr
    assert "Traceback" not in one.stderr and not (tmp_path / "p").exists()


def test_cli_default_stays_snapmix(tmp_path):
    done = run_cli(CAT, COFFEE, "--weights", "random", "--backbone", "resnet18", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "cam_a.png").is_file() and "rho_a=" in done.stdout and "area_lambda=" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "snapmx"], "--method: unknown method `snapmx` (did you mean `snapmix`?)"),
        (["--method", "cutmix", "--param", "top_k=3"], "--param top_k: is not a parameter of method `cutmix`"),
        (["--method", "attentive_cutmix", "--param", "top_k=99"], "--param top_k: must be a whole number from 1"),
        (["--method", "fmix", "--param", "decay=abc"], "--param decay: must be a number above 0"),
        (["--method", "fmix", "--param", "decay"], "argument --param: must be NAME=VALUE"),
        (["--method", "cutmix", "--beta", "-1"], "--beta: must be a number above 0"),
        (["--method", "all", "--beta", "0"], "--beta: must be a positive number (the paper uses 5)"),
        (["--method", "all", "--param", "beta=2"], "--param: give a method's own parameters with one --method"),
        (["--method", "cutmix", "--box-a", "0,0,10,10"], "--box-a: method `cutmix` draws its own mix"),
        (["--method", "cutmix", "--seed", "1.5"], "argument --seed: must be a whole number"),
        (["--method", "cutmix", "--param", "beta=-1"], "--param beta: must be a number above 0"),
    ],
)
def test_cli_bad_methods_and_parameters_exit_2_with_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exited:  # in this process: the same `main` as `python -m snapmix_demo`
        main([CAT, COFFEE, "--weights", "random", "--backbone", "resnet18", "--out", str(tmp_path), *args])
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("python -m snapmix_demo: error: ") and message in error, stderr
    assert not any(tmp_path.iterdir()), "nothing written"


def test_the_committed_masks_are_the_generator_s_own():
    """The core reads the examples' masks as files; they are what `shapes.make_sample` draws for those seeds."""
    from snapmix_demo.lab import EXAMPLES_DIR
    from snapmix_demo.training.shapes import CLASSES, make_sample

    for offset, name in enumerate(("star", "ring", "cross", "hexagon")):
        sample = make_sample(1_900_000_000 + offset, 224, label=CLASSES.index(name))
        image = Image.open(EXAMPLES_DIR / f"shape_{name}.png")
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(sample.image.convert("RGB")))
        assert np.array_equal(known_objects(image), sample.mask), name
