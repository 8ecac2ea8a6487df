"""`python -m snapmix_demo` as a user runs it: files written, exit codes, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from PIL import Image

from snapmix_demo import snapmix_pair
from snapmix_demo.app.examples import PHOTO_PAIRS

CAT, COFFEE = PHOTO_PAIRS[0]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snapmix_demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_writes_overlays_mixed_image_and_result_json(tmp_path):
    out = tmp_path / "out"
    done = run_cli(
        CAT,
        COFFEE,
        "--backbone",
        "resnet18",
        "--weights",
        "random",
        "--mode",
        "cls_method",
        "--seed",
        "3",
        "--box-b",
        "0,0,100,120",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    model_frame = {"cam_a.png", "cam_b.png", "mixed.png", "spm_a.npy", "spm_b.npy"}
    full = {"cam_a_full.png", "cam_b_full.png", "mixed_full.png"}
    assert {p.name for p in out.iterdir()} == {"result.json", *model_frame, *full}, "what the app offers"
    written = json.loads((out / "result.json").read_text())
    assert written["inputs"] == {"image_a": "cat.jpg", "image_b": "coffee.jpg"}, "file names, not paths"
    assert Image.open(out / "cam_a_full.png").size == Image.open(CAT).size
    assert np.load(out / "spm_b.npy").shape == (224, 224)
    expected = snapmix_pair(
        CAT, COFFEE, backbone="resnet18", weights="random", mode="cls_method", seed=3, box_b=(0, 0, 100, 120)
    ).to_dict()
    for key in ("rho_a", "rho_b", "box_a", "box_b", "class_a", "class_b", "area_lambda", "mode"):
        assert written[key] == expected[key], key
    assert "rho_a=" in done.stdout


def test_help_lists_the_options():
    done = run_cli("--help")
    assert done.returncode == 0
    for option in ("--backbone", "--mode", "--seed", "--out", "--weights", "--box-a"):
        assert option in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backbone", "vgg16"], "invalid choice"),
        (["--mode", "monkey"], "invalid choice"),
        (["--box-a", "1,2"], "argument --box-a: must be four whole numbers"),
        (["--box-a", "1_0,0,50,50"], "argument --box-a: must be four whole numbers"),
        (["--box-a", "0 0 999 10"], "--box-a: (0, 0, 999, 10) must satisfy"),
        (["--seed", "1_0"], "argument --seed: must be a whole number written with the digits 0-9"),
        (["--seed", "1.5"], "argument --seed: must be a whole number"),
        (["--seed", "9" * 5000], "argument --seed: has more than 19 digits"),
        (["--beta", "0"], "--beta: must be a positive number"),
        (["--beta", "nan"], "--beta: must be a positive number"),
        (["--target-a", "1_0"], "--target-a: unknown target class"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    done = run_cli(CAT, COFFEE, "--weights", "random", "--out", str(tmp_path), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    error = done.stderr.strip().splitlines()[-1]  # after argparse's usage, when argparse refused it
    assert error.startswith("python -m snapmix_demo: error: ") and message in error, done.stderr
    assert len(error) < 300, "a short excerpt of the value, never the whole of it"


def test_boxes_take_spaces_and_brackets(tmp_path):
    done = run_cli(CAT, COFFEE, "--weights", "random", "--box-a", "[10 20 110 120]", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "o" / "result.json").read_text())["box_a"] == [10, 20, 110, 120]


def test_an_out_that_cannot_be_a_folder_exits_2_with_one_line(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "below"):  # an existing file; a folder that cannot be created under it
        done = run_cli(CAT, COFFEE, "--weights", "random", "--out", str(out))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "--out" in done.stderr, done.stderr


def test_unreadable_inputs_exit_2_with_one_line(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    for image in (str(text), str(tmp_path / "missing.png")):
        done = run_cli(image, COFFEE, "--weights", "random", "--out", str(tmp_path / "o"))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_internal_error_is_logged_and_not_passed_off_as_a_problem_with_the_input(monkeypatch, capsys, caplog):
    """A ValueError from numpy or torch inside a run is not the user's fault: exit 1, a generic line, a logged trace."""
    from snapmix_demo import cli

    def numpy_fails(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(PIL.Image, "fromarray", numpy_fails)  # the pipeline's last step: the mixed image
    with caplog.at_level("ERROR"), pytest.raises(SystemExit) as done:
        cli.main([str(CAT), str(COFFEE), "--backbone", "resnet18", "--weights", "random", "--out", "unused"])
    assert done.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "python -m snapmix_demo: internal error (not a problem with the input); the details are above"
    assert "operands" not in error
    assert any("operands could not be broadcast" in r.exc_text for r in caplog.records if r.exc_text), "logged"


def test_an_opacity_outside_0_to_1_is_refused_by_name(tmp_path):
    done = run_cli(CAT, COFFEE, "--weights", "random", "--alpha", "1.5", "--out", str(tmp_path))
    assert done.returncode == 2 and "argument --alpha: must be a number from 0 to 1, got '1.5'" in done.stderr
