"""A practitioner's own checkpoint and class names, through Python and the command line."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from snapmix_demo import load_backbone, snapmix_pair
from snapmix_demo.app import EXAMPLES
from snapmix_demo.weights import cached_backbone, clear_model_cache, model_cache_info, user
from tests._checkpoints import CLASSES, LAYOUTS, WritesMarker, trained_state, write_checkpoint, write_classes

ROOT = Path(__file__).resolve().parent.parent
CAT, COFFEE = (p for p in EXAMPLES[0] + EXAMPLES[1] + EXAMPLES[2] if p.endswith(("cat.jpg", "coffee.jpg")))
BACKBONES = ("resnet18", "tf_efficientnet_lite0")


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_model_cache()
    yield
    clear_model_cache()


@pytest.fixture(scope="module")
def states() -> dict[str, dict[str, torch.Tensor]]:
    return {name: trained_state(name) for name in BACKBONES}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_layout_loads_into_the_registered_backbone(tmp_path, states, backbone, layout):
    path = write_checkpoint(tmp_path, backbone, layout, states[backbone])
    model = load_backbone(backbone, checkpoint=path, classes=list(CLASSES))
    loaded = model.state_dict()
    assert loaded.keys() == states[backbone].keys()
    assert all(torch.equal(loaded[k], v) for k, v in states[backbone].items()), f"{layout}: other weights loaded"
    assert model.get_fc().out_features == len(CLASSES), "the head's size comes from the checkpoint"
    assert not model.training


def test_a_pair_runs_with_the_users_classes_and_names_the_file_not_its_folder(tmp_path, states):
    path = write_checkpoint(tmp_path, "resnet18", "lightning", states["resnet18"])
    res = snapmix_pair(CAT, COFFEE, backbone="resnet18", checkpoint=path, classes=write_classes(tmp_path))
    assert res.weights_kind == "checkpoint"
    assert res.label_a == res.topk_a[0][0] and {label for label, _ in res.topk_a} == set(CLASSES)
    digest = user.sha256(path)[:8]
    assert res.weights == f"your checkpoint ({path.name}, sha256 {digest}, 5 classes)"
    assert str(tmp_path) not in json.dumps(res.to_dict()), "no folder in results"
    by_name = snapmix_pair(CAT, COFFEE, backbone="resnet18", checkpoint=path, classes=CLASSES, target_a="heron")
    assert by_name.label_a == "heron", "targets by the user's class names"


def test_without_class_names_the_classes_are_numbered(tmp_path, states):
    path = write_checkpoint(tmp_path, "tf_efficientnet_lite0", "plain", states["tf_efficientnet_lite0"])
    bb = cached_backbone("tf_efficientnet_lite0", checkpoint=path)
    assert bb.weights.classes == tuple(f"class {i}" for i in range(5))


def test_the_model_cache_keys_checkpoints_by_content(tmp_path, states):
    first = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    copy = tmp_path / "copy.pth"
    copy.write_bytes(first.read_bytes())
    before = model_cache_info()["builds"]
    assert cached_backbone("resnet18", checkpoint=first).model is cached_backbone("resnet18", checkpoint=copy).model
    assert model_cache_info()["builds"] - before == 1


def test_a_checkpoint_of_another_architecture_names_the_one_it_fits(tmp_path, states):
    path = write_checkpoint(tmp_path, "resnet18", "ddp", states["resnet18"])
    with pytest.raises(ValueError, match="does not fit backbone `resnet50`") as e:
        load_backbone("resnet50", checkpoint=path)
    message = str(e.value)
    assert "missing: layer1.0.conv3.weight" in message and "It looks like a checkpoint of `resnet18`." in message
    assert str(tmp_path) not in message


@pytest.mark.parametrize(
    ("classes", "phrase"),
    [(["a", "b"], "has 2 names, but the checkpoint's classifier predicts 5 classes"), (["x" * 300] * 5, "longer")],
)
def test_a_class_list_that_does_not_match_gets_a_clear_message(tmp_path, states, classes, phrase):
    path = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    with pytest.raises(ValueError, match=phrase):
        load_backbone("resnet18", checkpoint=path, classes=classes)


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": WritesMarker(marker)}, path)
    with pytest.raises(ValueError, match="could not be loaded safely"):
        load_backbone("resnet18", checkpoint=path)
    assert not marker.exists(), "unpickling ran the payload"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "could not be loaded safely"),
        (b"not a checkpoint at all\n", "could not be loaded safely"),
        ("\n".join(CLASSES).encode(), "could not be loaded safely"),  # the class list, picked by mistake
        (b"K\x01K\x02s", "could not be loaded safely"),  # torch's unpickler raises IndexError on these
        ("list", "holds no state dict of tensors"),
    ],
)
def test_files_that_are_not_checkpoints_are_refused(tmp_path, content, phrase):
    path = tmp_path / "weird.pth"
    if content == "list":
        torch.save([torch.zeros(2)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=phrase):
        load_backbone("resnet18", checkpoint=path)


def test_an_oversized_checkpoint_is_refused_before_loading(tmp_path, states, monkeypatch):
    path = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    monkeypatch.setattr(user, "CHECKPOINT_MAX_BYTES", 1024 * 1024)
    with pytest.raises(ValueError, match="larger than 1 MB"):
        load_backbone("resnet18", checkpoint=path)


def test_a_compressed_checkpoint_that_would_unpack_past_the_cap_is_refused_before_loading(tmp_path, monkeypatch):
    plain = tmp_path / "plain.pth"
    torch.save({"fc.weight": torch.zeros(1024 * 1024)}, plain)  # 4 MB of zeros, stored as torch.save stores
    bomb = tmp_path / "bomb.pth"
    with zipfile.ZipFile(plain) as z, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for entry in z.infolist():  # torch.load inflates deflated entries too
            out.writestr(entry.filename, z.read(entry.filename))
    assert bomb.stat().st_size < 100_000
    monkeypatch.setattr(user, "CHECKPOINT_MAX_BYTES", 1024 * 1024)
    loaded = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loaded.append(a))
    with pytest.raises(ValueError, match=r"`bomb\.pth` unpacks to more than 1 MB"):
        load_backbone("resnet18", checkpoint=bomb)
    assert not loaded, "refused from the archive's directory, before torch.load"


def test_a_diverged_checkpoint_is_called_out(tmp_path, states):
    broken = dict(states["resnet18"]) | {"fc.bias": torch.full((5,), float("nan"))}
    path = write_checkpoint(tmp_path, "resnet18", "plain", broken)
    with pytest.raises(ValueError, match="not finite"):
        snapmix_pair(CAT, COFFEE, backbone="resnet18", checkpoint=path)


def test_weights_and_a_checkpoint_together_must_agree(tmp_path, states):
    path = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    with pytest.raises(ValueError, match="choose one of: auto, checkpoint"):
        load_backbone("resnet18", weights="imagenet", checkpoint=path)
    with pytest.raises(ValueError, match="need a `checkpoint` file"):
        load_backbone("resnet18", weights="checkpoint")


# ## The command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snapmix_demo", CAT, COFFEE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_cli_opens_a_checkpoint_with_its_class_names(tmp_path, states, backbone):
    path = write_checkpoint(tmp_path, backbone, "lightning", states[backbone])
    out = tmp_path / "out"
    done = _cli(
        "--backbone", backbone, "--checkpoint", str(path), "--classes", str(write_classes(tmp_path)), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["weights_kind"] == "checkpoint" and result["label_a"] in CLASSES
    assert path.name in result["weights"] and str(tmp_path) not in result["weights"]


def test_the_cli_refuses_bad_checkpoints_in_one_line(tmp_path, states):
    good = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    short = tmp_path / "two.txt"
    short.write_text("a\nb\n")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    cases = {
        "missing": ("--checkpoint", str(tmp_path / "nope.pth")),
        "garbage": ("--checkpoint", str(garbage)),
        "wrong architecture": ("--backbone", "mobilenet_v2", "--checkpoint", str(good)),
        "class count": ("--checkpoint", str(good), "--classes", str(short)),
        "missing classes": ("--checkpoint", str(good), "--classes", str(tmp_path / "nope.txt")),
    }
    for what, args in cases.items():
        args = ("--backbone", "resnet18", *args) if "--backbone" not in args else args
        done = _cli(*args, "--out", str(tmp_path / "out"))
        assert done.returncode == 2, f"{what}: exit {done.returncode}, {done.stderr}"
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, f"{what}: {done.stderr}"


def test_cached_analyses_belong_to_one_checkpoint_even_when_two_share_a_digest_prefix(tmp_path, states):
    first = write_checkpoint(tmp_path, "resnet18", "plain", states["resnet18"])
    other = write_checkpoint(tmp_path, "resnet18", "ddp", trained_state("resnet18", seed=9))
    one = cached_backbone("resnet18", checkpoint=first).weights
    two = cached_backbone("resnet18", checkpoint=other).weights
    forged = type(two)(two.kind, one.source, two.classes, two.sha256)  # as if the 8 shown digits collided
    assert forged != one, "the analysis cache keys on the full digest, not on the text shown"
    assert one.sha256 == user.sha256(first) and len(one.sha256) == 64
