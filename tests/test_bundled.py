"""The bundled shapes model: its manifest, its hash check, and evidence that its CAMs and weights mean something."""

import hashlib
import json
import re
import shutil

import pytest
import torch

from snapmix_demo import snapmix_pair
from snapmix_demo.app.examples import EXAMPLES_DIR
from snapmix_demo.mixes import MIXES
from snapmix_demo.training.evaluate import (
    Evaluation,
    MethodEvaluation,
    evaluate,
    evaluate_methods,
    markdown,
    methods_markdown,
)
from snapmix_demo.training.shapes import CLASSES
from snapmix_demo.weights import BUNDLED_DIR, available_weights, cached_backbone, clear_model_cache, weights_classes

ROOT = BUNDLED_DIR.parents[1]
MANIFEST = json.loads((BUNDLED_DIR / "manifest.json").read_text())
BUNDLED = sorted(MANIFEST)
LITE0 = "tf_efficientnet_lite0"


def test_the_imagenet_lite0_fine_tuned_on_shapes_is_bundled():
    assert LITE0 in BUNDLED
    entry = MANIFEST[LITE0]
    assert entry["init"] == "imagenet"
    assert (
        entry["command"]
        == "python -m snapmix_demo.training.train --backbone tf_efficientnet_lite0 --seed 0 --threads 1"
    )


@pytest.mark.parametrize("name", BUNDLED)
def test_manifest_entry_matches_its_file(name):
    entry = MANIFEST[name]
    path = BUNDLED_DIR / entry["file"]
    assert path.stat().st_size < 10 * 1024 * 1024, f"{path.name} must stay under 10 MB"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["classes"] == list(CLASSES)
    assert entry["command"].startswith("python -m snapmix_demo.training.train")
    assert entry["heldout"]["accuracy"] == entry["heldout_accuracy"] >= 0.95
    assert "shapes" in available_weights(name)
    assert weights_classes(name, "shapes") == CLASSES


def test_a_tampered_checkpoint_is_refused(monkeypatch, tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(BUNDLED_DIR, copy)
    with open(copy / MANIFEST[LITE0]["file"], "r+b") as f:
        f.seek(-16, 2)
        f.write(b"\0" * 16)
    monkeypatch.setattr("snapmix_demo.weights.BUNDLED_DIR", copy)
    clear_model_cache()
    with pytest.raises(ValueError, match="sha256"):
        cached_backbone(LITE0, weights="shapes")
    clear_model_cache()


@pytest.mark.parametrize(("a", "b"), [("star", "ring"), ("cross", "hexagon")])
def test_the_shapes_model_names_the_example_shapes(a, b):
    res = snapmix_pair(EXAMPLES_DIR / f"shape_{a}.png", EXAMPLES_DIR / f"shape_{b}.png", weights="shapes")
    assert res.weights_kind == "shapes" and res.backbone == LITE0
    assert (res.label_a, res.label_b) == (a, b)
    assert res.topk_a[0][1] > 0.5 and res.topk_b[0][1] > 0.5


# The CI sample (160 held-out images, 500 pairs, evaluation seed 1) as last measured, in
# benchmarks/results/evaluate_ci_sample.jsonl: accuracy 98.8 %, pointing 98.1 %; Spearman of SnapMix 0.950 / 0.942
# (A / B) against 0.556 / 0.499 for the area of each image's own box and 0.556 / 0.498 for real CutMix; MAE 0.116 /
# 0.117 against 0.294 / 0.298 and 0.312 / 0.307 (SnapMix's MAE is 0.37-0.39 of either area rule's). The bars sit
# below, so that a regression in CAM extraction, box maths or patching fails here; the README uses 400 images.
CI_SAMPLE = {"images": 160, "pairs": 500, "seed": 1}
RECORDS = ROOT / "benchmarks" / "results"


def _last_record(name: str) -> dict:
    return json.loads((RECORDS / name).read_text().splitlines()[-1])


def _arguments(command: str) -> str:
    """A recorded command's arguments: records written before the `training/` move name `snapmix_demo.evaluate`."""
    return re.sub(r"^python -m snapmix_demo(\.training)?\.evaluate ", "", command)


@pytest.mark.parametrize("name", BUNDLED)
def test_cams_point_at_objects_and_snapmix_weights_follow_them(name):
    ev = evaluate(name, **CI_SAMPLE)
    summary = json.dumps(ev.__dict__, indent=1)
    assert ev.accuracy >= 0.97, summary
    assert ev.pointing_game >= 0.93, summary
    for side in "ab":
        spearman, mae = getattr(ev, f"spearman_rho_{side}"), getattr(ev, f"mae_rho_{side}")
        assert spearman >= 0.9 and mae <= 0.16, summary
        for rule in ("area", "cutmix"):  # the area of each image's own box; real CutMix, one box in both images
            assert spearman >= getattr(ev, f"spearman_{rule}_{side}") + 0.25, summary
            assert mae <= 0.5 * getattr(ev, f"mae_{rule}_{side}"), summary
    if name == LITE0:
        recorded = _last_record("evaluate_ci_sample.jsonl")
        assert _arguments(recorded["command"]).startswith("--images 160 --pairs 500 --seed 1")
        assert ev.__dict__ == pytest.approx(recorded["results"][0], abs=0.01), "the committed record is this run"


def test_the_readme_evidence_and_the_manifest_come_from_the_committed_record():
    recorded = _last_record("evaluate_heldout.jsonl")
    assert _arguments(recorded["command"]).startswith("--images 400 --pairs 1000 ")
    figures = recorded["results"][0]
    assert MANIFEST[LITE0]["heldout"] == figures
    readme = (ROOT / "README.md").read_text()
    assert markdown([Evaluation(**figures)]) in readme, "regenerate the README's table with the record's command"


# Every mixing method on a CI sample of held-out shapes (`--methods all --weights shapes --images 100 --pairs 200
# --seed 1`), last measured in benchmarks/results/evaluate_methods_ci_sample.jsonl. Only orderings that hold there
# with margin are asserted: (better, worse, measure, margin), lower MAE or higher Spearman by at least the margin;
# the measured gap, and the larger of the two chunk sds, in the comment. Mixup's MAE is 0 by construction (a uniform
# blend's truth is its weight) and ResizeMix's B is too (the truth counts the shrunk pixels): no order against them.
METHODS_CI = {"images": 100, "pairs": 200, "seed": 1}
ORDERINGS = (
    ("snapmix", "cutmix", "mae_a", 0.08),  # measured 0.151 (chunk sd 0.022)
    ("snapmix", "fmix", "mae_a", 0.06),  # 0.123 (0.023)
    ("snapmix", "transmix", "mae_a", 0.06),  # 0.116 (0.021)
    ("snapmix", "saliencymix", "mae_a", 0.1),  # 0.177 (0.013)
    ("snapmix", "guidedmixup", "mae_a", 0.12),  # 0.204 (0.028)
    ("snapmix", "attentive_cutmix", "mae_a", 0.03),  # 0.067 (0.012)
    ("snapmix", "cutmix", "mae_b", 0.05),  # 0.097 (0.024)
    ("snapmix", "fmix", "mae_b", 0.03),  # 0.069 (0.024)
    ("snapmix", "saliencymix", "mae_b", 0.2),  # 0.332 (0.038)
    ("snapmix", "guidedmixup", "mae_b", 0.08),  # 0.150 (0.028)
    ("snapmix", "attentive_cutmix", "mae_b", 0.3),  # 0.549 (0.043)
    ("snapmix", "cutmix", "mae_b_content", 0.08),  # 0.143 (0.022)
    ("snapmix", "cutmix", "spearman_a", 0.15),  # 0.313 (0.096)
    ("snapmix", "guidedmixup", "spearman_a", 0.5),  # 0.996 (0.063)
)


def _figures(result: MethodEvaluation | dict) -> dict:
    """A result's numbers, NaN (an undefined Spearman) as None, as the record stores them."""
    items = result.items() if isinstance(result, dict) else result.__dict__.items()
    return {k: None if isinstance(v, float) and v != v else v for k, v in items}


@pytest.fixture
def one_thread():
    """One torch thread, as the record ran: the pair loop's small ops only wait on a shared machine with more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_every_mixing_method_on_the_ci_sample_keeps_its_recorded_order():
    results = {r.method: r for r in evaluate_methods(LITE0, "shapes", list(MIXES), **METHODS_CI)}
    for better, worse, measure, margin in ORDERINGS:
        ours, theirs = getattr(results[better], measure), getattr(results[worse], measure)
        gap = ours - theirs if measure.startswith("spearman") else theirs - ours
        assert gap >= margin, f"{better}'s {measure} {ours:.3f} beats {worse}'s {theirs:.3f} by {gap:.3f} < {margin}"
    recorded = _last_record("evaluate_methods_ci_sample.jsonl")
    assert _arguments(recorded["command"]).startswith("--methods all --weights shapes --images 100")
    for now, then in zip(results.values(), recorded["results"], strict=True):
        expected = {k: pytest.approx(v, abs=0.01) if isinstance(v, float) else v for k, v in then.items()}
        assert _figures(now) == expected, "the committed record is this run"


def test_the_readme_mixes_table_comes_from_the_committed_record():
    recorded = _last_record("evaluate_methods_heldout.jsonl")
    assert _arguments(recorded["command"]).startswith("--methods all --plot docs/mixes_fidelity")
    results = [MethodEvaluation(**r) for r in recorded["results"]]
    assert {(r.backbone, r.weights) for r in results} == {(LITE0, "shapes"), (LITE0, "imagenet")}
    assert methods_markdown(results) in (ROOT / "README.md").read_text(), "regenerate it with the record's command"
