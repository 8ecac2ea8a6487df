"""The small-data study (benchmarks/study.py): its smoke configuration end to end, and its page against its record."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # study.py imports finegrained.py's pieces as a sibling


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study, study_report = _load("study"), _load("study_report")
SMOKE = ["--seeds", "0", "1", "--epochs", "2", "--per-class", "2", "--batch-size", "4", "--size", "64"]
SMOKE += ["--test-images", "12", "--curve-images", "6", "--eval-every", "1", "--mix-start", "1", "--threads", "1"]


def test_training_set_holds_per_class_images_of_each_class_and_differs_by_seed():
    cfg = study.Config(per_class=3, size=64)
    a, b = study.training_set(0, cfg), study.training_set(1, cfg)
    assert torch.bincount(a["y"]).tolist() == [3, 3, 3, 3]
    assert a["x"].shape == (12, 3, 64, 64) and a["masks"].shape == (12, 64, 64)
    assert not torch.equal(a["x"], b["x"]), "each seed draws its own training images"


def test_jobs_make_the_core_methods_seed_by_seed_then_whole_methods_and_shard_disjointly():
    order = study.jobs(study.METHODS, [0, 1], (0, 1))
    assert order[:8] == [(s, m) for s in (0, 1) for m in study.CORE]
    assert order[8:10] == [(0, study.METHODS[4]), (1, study.METHODS[4])]
    shards = [study.jobs(study.METHODS, [0, 1], (i, 2)) for i in (0, 1)]
    assert sorted(shards[0] + shards[1]) == sorted(order) and not set(shards[0]) & set(shards[1])


def test_smoke_study_runs_records_resumes_and_reports(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--methods", "none", "cutmix", "snapmix", "mixup", *SMOKE]
    assert study.main(argv) == 0
    runs = study.load(tmp_path / "runs.jsonl")
    assert [(r["seed"], r["method"]) for r in runs] == [(s, m) for s in (0, 1) for m in study.CORE]
    for r in runs:
        assert {"accuracy", "train_acc", "label_mae", "curve", "correct", "minutes", "cpu_minutes", "config"} <= set(r)
        assert [p["epoch"] for p in r["curve"]] == [1, 2] and 0.0 <= r["accuracy"] <= 1.0
        assert len(study_report.correct_bits(r)) == 12
        assert r["curve"][0]["label_mae"] is None, "epoch 1 is the unmixed warm-up for every method"
        assert (r["label_mae"] is None) == (r["method"] == "none")
    assert study.main(argv) == 0, "a second call finds every run done"
    assert len(study.load(tmp_path / "runs.jsonl")) == 8
    assert "0 runs to make" in capsys.readouterr().out.splitlines()[-1]

    assert study_report.main(["--record", str(tmp_path / "runs.jsonl"), "--docs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| snapmix | 2 |" in out and "| snapmix − cutmix | 2 |" in out and "| mixup − none | 2 |" in out
    for name in ("accuracy", "curves", "label_error"):
        assert 0 < (tmp_path / f"study_{name}.png").stat().st_size < 300_000


def test_paired_difference_by_hand():
    def run(method, seed, acc):
        bits = [i < acc * 10 for i in range(10)]
        return {"method": method, "seed": seed, "accuracy": acc, "config": {"test_images": 10}, "correct": _hex(bits)}

    runs = [run("snapmix", s, a) for s, a in enumerate((0.6, 0.7, 0.8))]
    runs += [run("cutmix", s, a) for s, a in enumerate((0.5, 0.7, 0.6))]
    d = study_report.paired_difference(runs, "snapmix", "cutmix")
    assert d["seeds"] == 3 and d["mean"] == pytest.approx(10.0) and d["wins"] == 2  # +10, 0, +20 points
    assert d["low"] == pytest.approx(10 - 4.302653 * 10 / 3**0.5, abs=1e-4)  # t(0.975, 2) * sd 10 / sqrt 3
    assert study_report.paired_difference(runs[:1] + runs[3:4], "snapmix", "cutmix") is None, "one seed: no interval"


def _hex(bits: list[bool]) -> str:
    import numpy as np

    return np.packbits(np.array(bits)).tobytes().hex()


def test_the_readme_study_tables_come_from_the_committed_record():
    runs = study.load(ROOT / "benchmarks/results/study/runs.jsonl")
    assert len({json.dumps(r["config"], sort_keys=True) for r in runs}) == 1, "one configuration"
    page = (ROOT / "docs" / "evidence.md").read_text()
    assert study_report.report(runs) in page, "regenerate: benchmarks/study_report.py"
