"""SnapMixCallback on the real engine: a lightning.Trainer on CPU, in one process and under DDP (2 processes, gloo).

Every recorded mix is recomputed here, independently: `snapmix_batch` on that rank's shard, with the weights
the backbone had before that step, and a generator derived here from (seed, rank, step).
"""

import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from snapmix_demo.backbones import build_model, get_spec
from snapmix_demo.mixes import mix_batch
from snapmix_demo.snapmix import snapmix_batch
from snapmix_demo.training.lightning import SnapMixCallback, find_backbone, first_two
from snapmix_demo.training.shapes import make_arrays
from tests._lightning_app import (
    BETA,
    MIX_SEED,
    BNSnapshot,
    Classifier,
    Recorder,
    shapes_loader,
    tiny_net,
)

ROOT = Path(__file__).resolve().parents[1]
MIX_KEYS = ("x", "y_b", "rho_a", "rho_b", "fallback_a", "perm")


def generator_of(rank: int, step: int) -> torch.Generator:
    """The generator a rank should use at a step, derived here from (seed, rank, step) by SeedSequence."""
    state = np.random.SeedSequence([MIX_SEED, rank, step]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def assert_recomputes(record: dict, model: torch.nn.Module) -> None:
    """The recorded mix equals snapmix_batch on the recorded shard, weights before the step, this rank's generator."""
    model.load_state_dict(record["state_before"])
    model.train()
    gen = generator_of(record["rank"], record["step"])
    direct = snapmix_batch(record["x"], record["y"], model, beta=BETA, prob=1.0, generator=gen)
    where = f"rank {record['rank']} step {record['step']}"
    mix = record["mix"]
    assert (direct.box_a, direct.box_b) == (mix["box_a"], mix["box_b"]), f"{where}: boxes differ"
    assert torch.equal(direct.perm, mix["perm"]), f"{where}: {direct.perm} != {mix['perm']}"
    assert torch.equal(direct.x, mix["x"]), f"{where}: mixed images differ"
    assert torch.equal(direct.y_b, mix["y_b"]), f"{where}: partner labels differ"
    for key in ("rho_a", "rho_b"):  # the CAMs: float sums, threads may split them differently
        assert torch.allclose(getattr(direct, key), mix[key], atol=1e-6), f"{where}: {key} differs"


def assert_bn_untouched_by_the_cam_pass(record: dict, authoritative: dict) -> None:
    """BatchNorm statistics after the callback: rank 0's from before it (synced, untouched by the CAM pass);
    changed by the training step."""
    where = f"rank {record['rank']} step {record['step']}"
    after_mix, after_step = record["bn_after_mix"], record["bn_after_step"]
    changed = [k for k in authoritative if not torch.equal(authoritative[k], after_mix[k])]
    assert not changed, f"{where}: after the callback, {changed} differ from rank 0's statistics before it"
    assert not torch.equal(after_mix["body.1.running_mean"], after_step["body.1.running_mean"]), (
        f"{where}: the training forward should update BatchNorm (is it in train mode?)"
    )
    assert record["training_after_mix"], f"{where}: train mode not restored after the CAM pass"
    assert record["mix_cleared"], f"{where}: the mix was left on the module after the step"


# ## Finding the patched API


def test_find_backbone_through_a_compiled_wrapper_and_by_name():
    class Two(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.student = torch.compile(build_model("resnet18", num_classes=4), backend="eager")
            self.teacher = tiny_net()

    module = Two()
    assert find_backbone(module, "student") is module.student._orig_mod
    assert find_backbone(module, "teacher") is module.teacher
    with pytest.raises(ValueError, match=r"several patched backbones.*`student\._orig_mod`.*`teacher`"):
        find_backbone(module)
    del module.teacher
    assert find_backbone(module) is module.student._orig_mod
    with pytest.raises(ValueError, match="no module with `extract_features`"):
        find_backbone(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_callback_validates_its_settings_and_batches():
    with pytest.raises(ValueError, match="beta"):
        SnapMixCallback(beta=0)
    with pytest.raises(ValueError, match="beta"):
        SnapMixCallback(beta=True)
    with pytest.raises(ValueError, match="prob"):
        SnapMixCallback(prob=1.5)
    with pytest.raises(ValueError, match="did you mean `cutmix`"):
        SnapMixCallback(method="cutmx")
    with pytest.raises(ValueError, match="top_k"):
        SnapMixCallback(method="snapmix", top_k=3)
    with pytest.raises(TypeError, match="unpack="):
        first_two({"image": torch.zeros(2, 3, 8, 8), "label": torch.zeros(2)})


# ## One process


def recorded_trainer(method: str = "snapmix", **settings) -> tuple[L.Trainer, Recorder]:
    """A one-device CPU Trainer with the mixing callback, between a BN snapshot and a recorder of every mix."""
    snapshot = BNSnapshot()
    recorder = Recorder(snapshot)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        callbacks=[snapshot, SnapMixCallback(method=method, beta=BETA, prob=1.0, seed=MIX_SEED), recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **settings,
    )
    return trainer, recorder


@pytest.fixture(scope="module")
def single_run():
    """mobilenet_v2 (random init, 4 classes) at 64 px, 3 steps of 4 images, on one CPU device."""
    backbone = build_model("mobilenet_v2", num_classes=4)
    trainer, recorder = recorded_trainer(max_steps=3)
    with torch.random.fork_rng(devices=[]):  # the classifier's dropout draws from the global RNG
        torch.manual_seed(0)
        trainer.fit(Classifier(backbone), shapes_loader(12, 64, 4, get_spec("mobilenet_v2")))
    return trainer, recorder.records


def test_single_process_mixes_equal_direct_snapmix_batch(single_run):
    _, records = single_run
    assert [r["step"] for r in records] == [0, 1, 2]
    model = build_model("mobilenet_v2", num_classes=4)
    for record in records:
        assert_recomputes(record, model)
    boxes = {(r["mix"]["box_a"], r["mix"]["box_b"]) for r in records}
    assert len(boxes) == 3, f"each step must draw its own boxes: {boxes}"


def test_single_process_keeps_batchnorm_statistics_out_of_the_cam_pass(single_run):
    _, records = single_run
    for record in records:
        before, after_mix = record["bn_before_mix"], record["bn_after_mix"]
        assert all(torch.equal(before[k], after_mix[k]) for k in before), f"step {record['step']}: CAM pass moved BN"
        key = "features.0.1.running_mean"
        assert not torch.equal(before[key], record["bn_after_step"][key]), "the training forward should update BN"
        assert record["training_after_mix"] and record["mix_cleared"]


def test_single_process_logs_the_weights_and_fallback_rate(single_run):
    trainer, records = single_run
    logged = trainer.callback_metrics
    expected = {
        "snapmix/rho_a_epoch": np.mean([float(r["mix"]["rho_a"].mean()) for r in records]),
        "snapmix/rho_b_epoch": np.mean([float(r["mix"]["rho_b"].mean()) for r in records]),
        "snapmix/fallback_rate_epoch": np.mean([float(r["mix"]["fallback_a"].float().mean()) for r in records]),
        "snapmix/mixed_epoch": 1.0,
    }
    for key, value in expected.items():
        assert float(logged[key]) == pytest.approx(value, abs=1e-6), f"{key}: {float(logged[key])} != {value}"
    last = records[-1]["mix"]
    assert float(logged["snapmix/rho_a_step"]) == pytest.approx(float(last["rho_a"].mean()), abs=1e-6)


def test_a_compiled_backbone_trains_on_mixes_from_its_inner_module():
    compiled = torch.compile(tiny_net(), backend="eager")
    trainer, recorder = recorded_trainer(max_steps=2)
    trainer.fit(Classifier(compiled), shapes_loader(8, 32, 4, get_spec("tf_efficientnet_lite0")))
    model = tiny_net()
    for record in recorder.records:
        state = {k.removeprefix("_orig_mod."): v for k, v in record["state_before"].items()}
        assert_recomputes(record | {"state_before": state}, model)
    assert trainer.global_step == 2


def test_accumulated_micro_batches_draw_their_own_mixes():
    trainer, recorder = recorded_trainer(max_steps=2, accumulate_grad_batches=2)
    trainer.fit(Classifier(tiny_net()), shapes_loader(16, 32, 4, get_spec("tf_efficientnet_lite0")))
    assert [r["step"] for r in recorder.records] == [0, 0, 1, 1], "two micro-batches per optimiser step"
    for i, record in enumerate(recorder.records):  # draw i = global step * 2 + micro-batch; boxes and partners
        # depend only on the generator and the frame, so any weights will do
        expected = snapmix_batch(record["x"], record["y"], tiny_net(), generator=generator_of(0, i))
        assert (record["mix"]["box_a"], record["mix"]["box_b"]) == (expected.box_a, expected.box_b), f"draw {i}"
        assert torch.equal(record["mix"]["perm"], expected.perm), f"draw {i}"


# ## Two processes (DDP, gloo), then a resumed run


def _launch(out: Path, checkpoints: Path, *resume: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "_lightning_ddp.py"),
        "--out",
        str(out),
        "--checkpoints",
        str(checkpoints),
    ]
    proc = subprocess.run([*cmd, *resume], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"DDP run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """Two epochs of 2 steps on 2 ranks, checkpointing each epoch; then a run resumed from the first epoch's end."""
    root = tmp_path_factory.mktemp("ddp")
    _launch(root / "full", root / "checkpoints")
    _launch(
        root / "resumed", root / "resumed-checkpoints", "--resume", str(root / "checkpoints" / "epoch=0-step=2.ckpt")
    )

    def load(run: str) -> dict[tuple[int, int], dict]:
        records = [torch.load(p, weights_only=False) for p in sorted((root / run).glob("*.pt"))]
        return {(r["rank"], r["step"]): r for r in records}

    return load("full"), load("resumed")


def test_ddp_each_rank_mixes_its_own_shard_with_its_own_generator(ddp_runs):
    full, _ = ddp_runs
    assert sorted(full) == [(rank, step) for rank in (0, 1) for step in range(4)]
    _, _, labels = make_arrays(range(16), 32, task="parts")
    model = tiny_net()
    for (rank, step), record in full.items():
        epoch, batch = divmod(step, 2)  # 8 images per rank: 2 batches per epoch
        sampler = DistributedSampler(range(16), num_replicas=2, rank=rank, shuffle=True, seed=0)  # what Lightning adds
        sampler.set_epoch(epoch)
        shard = torch.from_numpy(labels[list(sampler)[batch * 4 : batch * 4 + 4]])
        assert torch.equal(record["y"], shard), (
            f"rank {rank} step {step}: {record['y']} is not this rank's shard {shard}"
        )
        assert_recomputes(record, model)


def test_ddp_ranks_draw_different_mixes(ddp_runs):
    full, _ = ddp_runs
    for step in range(4):
        zero, one = full[0, step]["mix"], full[1, step]["mix"]
        assert (zero["box_a"], zero["box_b"]) != (one["box_a"], one["box_b"]), f"step {step}: ranks drew the same boxes"


def test_ddp_weights_stay_identical_across_ranks(ddp_runs):
    full, _ = ddp_runs
    for step in range(4):
        zero, one = full[0, step]["params_after_step"], full[1, step]["params_after_step"]
        differ = [k for k in zero if not torch.equal(zero[k], one[k])]
        assert not differ, f"step {step}: weights differ across ranks in {differ}"
        before = full[0, step]["state_before"]
        assert not torch.equal(zero["head.weight"], before["head.weight"]), f"step {step}: nothing was trained"


def test_ddp_keeps_batchnorm_statistics_out_of_the_cam_pass(ddp_runs):
    full, _ = ddp_runs
    for (_, step), record in full.items():
        assert_bn_untouched_by_the_cam_pass(record, full[0, step]["bn_before_mix"])
    rank_local = [
        s for s in range(1, 4) if not torch.equal(*(full[r, s]["bn_before_mix"]["body.1.running_mean"] for r in (0, 1)))
    ]
    assert rank_local, "before the callback, rank 1 should hold its own statistics (else the sync is untested)"


def test_resuming_from_a_checkpoint_repeats_the_next_mixes(ddp_runs):
    full, resumed = ddp_runs
    assert sorted(resumed) == [(rank, step) for rank in (0, 1) for step in (2, 3)]
    for key, record in resumed.items():
        for name in MIX_KEYS:
            assert torch.equal(record["mix"][name], full[key]["mix"][name]), f"rank/step {key}: {name} differs"
        assert (record["mix"]["box_a"], record["mix"]["box_b"]) == (
            full[key]["mix"]["box_a"],
            full[key]["mix"]["box_b"],
        )


def test_the_callback_mixes_with_any_registered_method():
    """A real Trainer with `method="cutmix"`: each step's mix is `mix_batch` on that step's generator."""
    backbone = build_model("mobilenet_v2", num_classes=4)
    trainer, recorder = recorded_trainer(method="cutmix", max_steps=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trainer.fit(Classifier(backbone), shapes_loader(8, 64, 4, get_spec("mobilenet_v2")))
    for record in recorder.records:
        gen = generator_of(record["rank"], record["step"])
        direct = mix_batch(record["x"], record["y"], backbone, method="cutmix", beta=BETA, generator=gen)
        assert torch.equal(direct.x, record["mix"]["x"]) and torch.equal(direct.rho_b, record["mix"]["rho_b"])
        area = float(direct.mask[0].mean())
        assert float(record["mix"]["rho_b"][0]) == pytest.approx(area), "CutMix's weight is the box's area"
