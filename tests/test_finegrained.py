"""The fine-grained experiment's pieces (benchmarks/finegrained.py): CutMix by hand, the ground truth, the plumbing."""

import importlib.util
import json
from pathlib import Path

import torch

from snapmix_demo.mixes import MIXES, get_mix
from snapmix_demo.snapmix import BatchMix

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("finegrained", ROOT / "benchmarks" / "finegrained.py")
finegrained = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(finegrained)


def test_cutmix_is_the_registrys_one_box_at_the_same_place_with_area_weights():
    x = torch.arange(4 * 3 * 10 * 12, dtype=torch.float32).view(4, 3, 10, 12)
    y = torch.tensor([0, 1, 2, 3])
    cfg = finegrained.Config(cutmix_beta=3.0)
    mix = finegrained.mix("cutmix", x, y, None, cfg, torch.Generator().manual_seed(4))
    again = get_mix("cutmix").fn(x, y, beta=3.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(mix.x, again.x) and mix.method == "cutmix", "CutMix exists once: the registry's"
    top, left, bottom, right = mix.box_a
    assert mix.box_b == mix.box_a and mix.mixed, "one box, at the same place in both images"
    inside = torch.zeros(10, 12, dtype=torch.bool)
    inside[top:bottom, left:right] = True
    assert torch.equal(mix.x[..., inside], x[mix.perm][..., inside]), "inside the box: the partner's pixels"
    assert torch.equal(mix.x[..., ~inside], x[..., ~inside]), "outside the box: the image's own pixels"
    area = 1 - (bottom - top) * (right - left) / 120
    assert torch.allclose(mix.rho_a, torch.full((4,), area)) and torch.allclose(mix.rho_b, torch.full((4,), 1 - area))
    assert torch.equal(mix.y_b, y[mix.perm])
    kept, moved = finegrained.true_shares(torch.ones(4, 10, 12), mix)
    assert torch.allclose(kept.float(), mix.rho_a) and torch.allclose(moved.float(), mix.rho_b), "full masks: area"


def test_true_shares_and_label_error_by_hand():
    masks = torch.zeros(2, 4, 4)
    masks[0, 0, 0:2] = 1  # sample 0: two part pixels in row 0
    masks[1, 3, :] = 1  # sample 1: four part pixels in row 3
    perm = torch.tensor([1, 0])
    no = torch.zeros(2, dtype=torch.bool)
    box_a, box_b = (0, 0, 1, 1), (2, 0, 4, 2)  # A: pixel (0, 0); B: rows 2-3, columns 0-1
    mix = BatchMix(
        torch.zeros(2, 3, 4, 4), perm, torch.tensor([0.5, 1.0]), torch.tensor([0.5, 0.0]), no, no, box_a, box_b, perm
    )
    kept, moved = finegrained.true_shares(masks, mix)
    assert kept.tolist() == [0.5, 1.0], "sample 0 loses 1 of its 2 part pixels; sample 1 none"
    assert moved.tolist() == [0.5, 0.0], "partner 1 gives 2 of 4 part pixels; partner 0 none"
    assert finegrained.label_error(masks, mix).tolist() == [0.0, 0.0]


def test_experiment_plumbing_runs_records_and_resumes(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--seeds", "0", "--steps", "2", "--mix-start", "1", "--batch-size", "4"]
    argv += ["--train-images", "8", "--test-images", "8", "--size", "64", "--pairs", "20"]  # no --threads: global
    assert finegrained.main(argv) == 0
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [r["method"] for r in runs] == ["none", "cutmix", "snapmix"]
    assert runs[0]["train_label_mae"] is None and runs[2]["train_label_mae"] is not None
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in runs)
    assert all(list(r["methods"]) == list(MIXES) for r in runs), "every registry method is scored on every model"
    assert all(0.0 <= r["methods"][m]["mae_a"] <= 1.0 for r in runs for m in MIXES)
    table = capsys.readouterr().out
    assert "| snapmix | 1 |" in table and "| cutmix | 1 |" in table
    assert "| scored method | needs | trained with none:" in table and "| guidedmixup | cam |" in table
    assert finegrained.main(argv) == 0, "a second call finds every run done"
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 3
    assert "accuracy" not in capsys.readouterr().out.split("torch ")[0], "no run was repeated"


def test_summary_reports_mean_and_sd_over_seeds():
    rows = [
        {"method": "snapmix", "accuracy": a, "train_label_mae": 0.1, "heldout_snapmix_mae": 0.2}
        | {"heldout_snapmix_spearman": 0.5, "heldout_cutmix_mae": 0.3, "heldout_cutmix_spearman": 0.1}
        for a in (0.80, 0.90)
    ]
    line = finegrained.summary(rows).splitlines()[-1]
    assert line.startswith("| snapmix | 2 | 85.0 ± 7.1 |"), line  # sample sd of 80 and 90: 7.07


def test_the_evidence_parts_table_comes_from_the_committed_record():
    runs = [json.loads(line) for line in (ROOT / "benchmarks/results/finegrained/runs.jsonl").read_text().splitlines()]
    assert all(list(r["methods"]) == list(MIXES) for r in runs)
    table = finegrained.methods_summary(runs)
    assert table and table in (ROOT / "docs" / "evidence.md").read_text(), "regenerate it from the record"
