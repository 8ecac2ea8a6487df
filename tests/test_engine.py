"""The ONNX Runtime engine against eager PyTorch: real exports, real sessions, a private torch hub cache.

Both paths run in this process (`SNAPMIX_ENGINE` is read per call); the suite's default is `torch`
(conftest), so every test here names the engine it wants.
"""

import importlib.util
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from snapmix_demo import BACKBONES, engine, snapmix_pair
from snapmix_demo.analysis import clear_caches
from snapmix_demo.snapmix import class_cams
from snapmix_demo.weights import __main__ as weights_cli
from snapmix_demo.weights import cached_backbone, clear_model_cache
from tests._checkpoints import CLASSES, write_checkpoint, write_classes

TOL = 1e-4  # engine vs eager: rho, SPMs, top-5 probabilities; relative for features and the CAM identity
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
LITE0 = "tf_efficientnet_lite0"


def _images(seed: int, size: tuple[int, int] = (224, 224)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(2))


def _pair(monkeypatch, name: str, *args, **kwargs):
    """`snapmix_pair` on engine `name`, from a cleared analysis cache."""
    monkeypatch.setenv("SNAPMIX_ENGINE", name)
    clear_caches()
    return snapmix_pair(*args, **kwargs)


def _assert_same(eager, fast, what: str) -> None:
    """rho, SPMs and top-5 within TOL; top-5 labels equal wherever the probabilities are not tied within TOL."""
    assert eager.engine == "torch" and fast.engine == "onnxruntime", (what, eager.engine, fast.engine)
    for field in ("rho_a", "rho_b", "area_lambda"):
        diff = abs(getattr(eager, field) - getattr(fast, field))
        assert diff <= TOL, f"{what}: {field} eager {getattr(eager, field)} vs engine {getattr(fast, field)}"
    for side in "ab":
        spm_e, spm_f = getattr(eager, f"spm_{side}"), getattr(fast, f"spm_{side}")
        assert (spm_e is None) == (spm_f is None), f"{what}: degenerate on one path only ({side})"
        if spm_e is not None:
            assert np.abs(spm_e - spm_f).max() <= TOL, f"{what}: SPM {side} differs by {np.abs(spm_e - spm_f).max()}"
        top_e, top_f = getattr(eager, f"topk_{side}"), getattr(fast, f"topk_{side}")
        probs_e, probs_f = np.array([p for _, p in top_e]), np.array([p for _, p in top_f])
        assert np.abs(probs_e - probs_f).max() <= TOL, f"{what}: top-5 {side}: {top_e} vs {top_f}"
        gaps = np.abs(np.diff(probs_e))
        untied = [i for i in range(len(top_e)) if (i == 0 or gaps[i - 1] > TOL) and (i >= len(gaps) or gaps[i] > TOL)]
        assert [top_e[i][0] for i in untied] == [top_f[i][0] for i in untied], f"{what}: {top_e} vs {top_f}"
        assert getattr(eager, f"class_{side}") == getattr(fast, f"class_{side}"), f"{what}: class {side}"


@pytest.fixture
def private_hub(tmp_path, monkeypatch):
    """An empty torch hub cache and fresh models (so no export or session from earlier tests is reused)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    clear_model_cache()
    yield tmp_path / "torch" / "hub" / "checkpoints" / "snapmix_onnx"
    clear_model_cache()


# ## Choosing the engine


@pytest.mark.parametrize(
    ("value", "expected"), [("", "auto"), ("auto", "auto"), ("torch", "torch"), (" ONNXRuntime", "onnxruntime")]
)
def test_the_variable_chooses_the_engine(monkeypatch, value, expected):
    monkeypatch.setenv("SNAPMIX_ENGINE", value)
    assert engine.engine_choice() == expected


def test_a_bad_engine_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("SNAPMIX_ENGINE", "tensorrt")
    with pytest.raises(ValueError, match=r"SNAPMIX_ENGINE=`tensorrt`.*auto, torch, onnxruntime"):
        snapmix_pair(*_images(0), backbone="resnet18", weights="random")


def test_without_onnxruntime_auto_runs_eager_and_an_explicit_choice_names_the_fix(private_hub, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a)
    )
    monkeypatch.setenv("SNAPMIX_ENGINE", "auto")
    for k in range(3):  # past the first analysis too: nothing to prepare without the package
        assert snapmix_pair(*_images(30 + k), backbone="resnet18", weights="random").engine == "torch"
    monkeypatch.setenv("SNAPMIX_ENGINE", "onnxruntime")
    with pytest.raises(ValueError, match=r"onnxruntime is not installed: `pip install 'snapmix-demo\[fast\]'`"):
        snapmix_pair(*_images(33), backbone="resnet18", weights="random")


# ## Exactness: every registered backbone, both paths


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_the_engine_matches_eager_and_keeps_the_cam_identity(name, monkeypatch):
    bb = cached_backbone(name, weights="random")
    assert engine.prepare(bb, wait=True), f"{name}: no ONNX Runtime session (see the log)"
    x = torch.randn(2, 3, *bb.spec.input_size, generator=torch.Generator().manual_seed(3))
    monkeypatch.setenv("SNAPMIX_ENGINE", "onnxruntime")
    with torch.inference_mode():
        feats, ran = engine.extract_features(bb, x)
        eager, logits = bb.model.extract_features(x), bb.model(x)  # logits: the eager model's own forward
        fc, every = bb.model.get_fc(), torch.arange(bb.model.get_fc().out_features)
        cam_means = torch.stack(
            [class_cams(f.expand(len(every), -1, -1, -1), fc.weight, fc.bias, every) for f in feats]
        )
    assert ran == "onnxruntime" and feats.shape == eager.shape, (ran, feats.shape, eager.shape)
    rel = float((feats - eager).abs().max() / eager.abs().max())
    assert rel <= TOL, f"{name}: features differ by {rel:.2e} of their range"
    identity = float((cam_means.mean(dim=(2, 3)) - logits).abs().max() / logits.abs().max())
    assert identity <= TOL, f"{name}: spatial mean of the engine's CAMs vs the eager logits: {identity:.2e}"
    eager_res = _pair(monkeypatch, "torch", *_images(1), backbone=name, weights="random", target_a=1, target_b=2)
    fast_res = _pair(monkeypatch, "onnxruntime", *_images(1), backbone=name, weights="random", target_a=1, target_b=2)
    _assert_same(eager_res, fast_res, f"{name}, random images")
    assert not bb.model.training and not any(p.requires_grad for p in bb.model.parameters()), "export touched it"


@pytest.mark.parametrize(
    ("a", "b", "weights"),
    [
        ("cat.jpg", "coffee.jpg", "auto"),
        ("grace_hopper.jpg", "astronaut.jpg", "auto"),
        ("shape_star.png", "shape_ring.png", "shapes"),
        ("shape_cross.png", "shape_hexagon.png", "shapes"),
    ],
)
def test_the_examples_agree_on_both_engines(monkeypatch, a, b, weights):
    images = (EXAMPLES / a, EXAMPLES / b)
    eager = _pair(monkeypatch, "torch", *images, weights=weights, seed=4)
    fast = _pair(monkeypatch, "onnxruntime", *images, weights=weights, seed=4)
    _assert_same(eager, fast, f"{a} + {b}")
    assert fast.to_dict()["engine"] == "onnxruntime"


def test_a_users_checkpoint_runs_on_the_engine(tmp_path, monkeypatch):
    path, names = write_checkpoint(tmp_path, "resnet18", "plain"), write_classes(tmp_path)
    kwargs = {"backbone": "resnet18", "checkpoint": path, "classes": names, "seed": 2}
    eager = _pair(monkeypatch, "torch", *_images(5), **kwargs)
    fast = _pair(monkeypatch, "onnxruntime", *_images(5), **kwargs)
    _assert_same(eager, fast, "resnet18 checkpoint")
    assert fast.weights_kind == "checkpoint" and fast.label_a in CLASSES


# ## auto: eager first, the engine once its export is ready


def test_auto_runs_eager_first_then_the_engine_once_prepared(private_hub, monkeypatch):
    monkeypatch.setenv("SNAPMIX_ENGINE", "auto")
    kwargs = {"backbone": LITE0, "weights": "random"}
    first = snapmix_pair(*_images(10), **kwargs)
    assert first.engine == "torch" and not private_hub.exists(), "the first analysis never waits for an export"
    second = snapmix_pair(*_images(11), **kwargs)
    assert second.engine == "torch", "the export is prepared in the background"
    assert engine.prepare(cached_backbone(LITE0, weights="random"), wait=True, timeout=300)
    third = snapmix_pair(*_images(12), **kwargs)
    assert third.engine == "onnxruntime" and third.forward_passes == 1
    assert [p.suffix for p in sorted(private_hub.iterdir())] == [".json", ".onnx"]
    cached = snapmix_pair(*_images(10), seed=5, **kwargs)
    assert cached.forward_passes == 0 and cached.engine == "torch", "a cached analysis says which engine made it"


def test_the_session_uses_torchs_thread_count(private_hub, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    data, _, _ = engine.ensure_export(cached_backbone(LITE0, weights="random").model, LITE0, (224, 224))
    assert engine._session(data).get_session_options().intra_op_num_threads == 3


# ## The cache on disk: built once, verified, rebuilt when corrupt or stale


def test_exports_are_cached_verified_and_rebuilt(private_hub, caplog):
    model = cached_backbone(LITE0, weights="random").model
    data, path, built = engine.ensure_export(model, LITE0, (224, 224))
    assert built and path.parent == private_hub and path.read_bytes() == data
    assert engine.ensure_export(model, LITE0, (224, 224)) == (data, path, False), "the second call reuses the file"

    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with caplog.at_level(logging.WARNING, logger="snapmix_demo.engine"):
        again, _, rebuilt = engine.ensure_export(model, LITE0, (224, 224))
    assert rebuilt and path.read_bytes() == again, "a corrupt file is rebuilt"
    assert any("corrupt ONNX export" in r.message for r in caplog.records), caplog.text

    sidecar = path.with_suffix(".json")
    record = json.loads(sidecar.read_text())
    record["facts"]["torch"] = "0.0.1"
    sidecar.write_text(json.dumps(record))
    assert engine.ensure_export(model, LITE0, (224, 224))[2], "a sidecar for other versions is stale: rebuilt"
    sidecar.write_text("{not json")
    assert engine.ensure_export(model, LITE0, (224, 224))[2], "an unreadable sidecar is rebuilt"
    assert engine._session(path.read_bytes()) is not None


def test_other_weights_get_their_own_export_and_the_folder_is_bounded(private_hub, monkeypatch):
    shapes = cached_backbone(LITE0, weights="shapes").model
    random = cached_backbone(LITE0, weights="random").model
    assert engine.state_sha256(shapes) != engine.state_sha256(random)
    private_hub.mkdir(parents=True)
    partial = private_hub / ".killed-mid-write.onnx.abc123"
    partial.write_bytes(b"half an export")
    os.utime(partial, (time.time() - 7200, time.time() - 7200))
    monkeypatch.setattr(engine, "EXPORT_CACHE_FILES", 1)
    first, second = (engine.ensure_export(m, LITE0, (224, 224))[1] for m in (shapes, random))
    assert first != second, "each weights' export has its own file"
    kept = sorted(p.name for p in private_hub.iterdir())
    assert kept == [second.with_suffix(".json").name, second.name], f"bound 1 keeps the newest only: {kept}"


# ## Failures fall back to eager PyTorch, with one log line


def test_a_failed_export_falls_back_to_eager_with_one_line(private_hub, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken)
    monkeypatch.setenv("SNAPMIX_ENGINE", "onnxruntime")
    with caplog.at_level(logging.WARNING, logger="snapmix_demo.engine"):
        results = [snapmix_pair(*_images(k), backbone=LITE0, weights="random") for k in (20, 21, 22)]
    assert [r.engine for r in results] == ["torch"] * 3
    lines = [r.message for r in caplog.records if r.name == "snapmix_demo.engine"]
    assert len(lines) == 1 and "unsupported operator" in lines[0] and LITE0 in lines[0], lines


def test_a_failed_session_falls_back_to_eager_with_one_line(private_hub, monkeypatch, caplog):
    import onnxruntime

    def refused(*args, **kwargs):
        raise RuntimeError("no memory for the session")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refused)
    monkeypatch.setenv("SNAPMIX_ENGINE", "onnxruntime")
    with caplog.at_level(logging.WARNING, logger="snapmix_demo.engine"):
        results = [snapmix_pair(*_images(k), backbone=LITE0, weights="random") for k in (23, 24)]
    assert [r.engine for r in results] == ["torch"] * 2
    lines = [r.message for r in caplog.records if r.name == "snapmix_demo.engine"]
    assert len(lines) == 1 and "no memory for the session" in lines[0], lines
    assert list(private_hub.glob("*.onnx")), "the export itself was fine and stays cached"


# ## Ahead of time: `python -m snapmix_demo.weights fetch --export`


def test_fetch_builds_the_export_ahead(private_hub, capsys):
    assert weights_cli.main(["fetch", "--export", LITE0]) == 0
    out = capsys.readouterr().out
    assert "ONNX export built" in out and "ImageNet" in out, out
    (built,) = private_hub.glob("*.onnx")
    assert weights_cli.main(["fetch", "--export", LITE0]) == 0
    assert "already cached" in capsys.readouterr().out
    model = cached_backbone(LITE0).model  # what the app runs by default finds that file
    assert engine.ensure_export(model, LITE0, (224, 224))[1:] == (built, False)
