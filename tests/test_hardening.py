"""Issue 6 through the real HTTP API: hostile uploads, concurrent clients, bounded resources.

The app runs in this process (the session `app_url` fixture), so the tests can also read its
caches, counters and resident memory. Every upload is built here under tmp_path. No test
asserts on wall-clock time.
"""

import gc
import io
import json
import math
import random
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from snapmix_demo import PATCH_MODES, analysis, pipeline, weights
from snapmix_demo.app import files, handlers, requests
from snapmix_demo.app.examples import PHOTO_PAIRS
from snapmix_demo.app.serving import server
from snapmix_demo.imageio import MAX_BYTES
from tests import _queue as q
from tests._files import encode, gif_declaring, png_declaring
from tests._venv import ROOT

CAT, COFFEE = PHOTO_PAIRS[0]
BASE = {"backbone": "resnet18", "mode": "default", "seed": 0, "weights": "random"}
CHEAP = ("resnet18", "mobilenet_v2", "tv_efficientnet_b0", "mixnet_s")
LEAKS = ("/tmp", "Traceback", "site-packages")
ORIENTATION = 0x0112  # EXIF tag


# ## Helpers


def _picture(seed: int, size: tuple[int, int] = (200, 150)) -> Image.Image:
    """A seeded RGB image with structure (gradient, blocks, mild noise): CAMs are not flat on it."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1), np.full(xx.shape, rng.integers(256))], -1)
    for _ in range(3):
        top, left = rng.integers(0, max(h // 2, 1)), rng.integers(0, max(w // 2, 1))
        arr[top : top + h // 3, left : left + w // 3] = rng.integers(0, 256, 3)
    arr = arr + rng.normal(0, 8, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _write(folder: Path, name: str, data: bytes | Image.Image) -> str:
    """Write bytes (or an image, as lossless PNG) to `folder/name`; returns the path."""
    path = folder / name
    path.write_bytes(encode(data, "PNG") if isinstance(data, Image.Image) else data)
    return str(path)


def _call(client: Client, image_a: str = CAT, image_b: str = COFFEE, **kwargs) -> dict:
    return client.predict(
        image_a=handle_file(image_a), image_b=handle_file(image_b), **(BASE | kwargs), api_name="/snapmix"
    )


def _facts(res: dict) -> dict:
    """The result without what may differ between identical requests (timings, cache hits)."""
    return {k: v for k, v in res.items() if k not in ("timings_ms", "forward_passes")}


def _close(a: object, b: object) -> bool:
    """Equal, floats to 1e-6: a forward's reductions may split differently while other requests share the threads."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_close, a, b))
    return a == b


def _assert_clean(message: str) -> None:
    assert message, "an empty error message"
    for leak in LEAKS:
        assert leak not in message, f"{leak!r} leaked into {message!r}"


def _assert_still_serving(client: Client) -> None:
    res = _call(client, seed=12345)
    assert 0 <= res["rho_a"] <= 1 and 0 <= res["rho_b"] <= 1


# ## Hostile uploads: refused with a clear message, and the server keeps serving

_NOT_IMAGES = {
    "text": lambda: b"hello, this is a plain text file\nnot an image\n",
    "html": lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>\n",
    "svg": lambda: (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
        b'<rect width="8" height="8" fill="red"/></svg>'
    ),
    "pdf": lambda: encode(Image.new("RGB", (8, 8), (255, 0, 0)), "PDF"),
}
_REFUSED: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "empty": ("empty.png", lambda: b"", "the file is empty"),
    "truncated-jpeg": ("cut.jpg", lambda: encode(_picture(1), "JPEG")[:600], "truncated or corrupt"),
    "truncated-png": ("cut.png", lambda: encode(_picture(2), "PNG")[:4000], "truncated or corrupt"),
    **{
        f"{kind}-as{suffix}": (f"renamed{suffix}", make, "not an image in a supported format (png, jpeg")
        for kind, make in _NOT_IMAGES.items()
        for suffix in (".png", ".jpg")
    },
    "bomb-png-50000x50000": ("bomb.png", lambda: png_declaring(50000, 50000), "more than 40 million pixels"),
    "bomb-png-7000x7000": ("cap.png", lambda: png_declaring(7000, 7000), "more than 40 million pixels"),
    "bomb-gif-65535x65535": ("bomb.gif", lambda: gif_declaring(65535, 65535), "more than 40 million pixels"),
}


@pytest.mark.parametrize("side", ["image_a", "image_b"])
@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_hostile_upload_gets_a_clear_message(client, tmp_path, case, side):
    name, make, phrase = _REFUSED[case]
    data = make()
    assert not case.startswith("bomb") or len(data) < 200, "a bomb is a small file"
    with pytest.raises(AppError) as e:
        _call(client, **{side: _write(tmp_path, name, data)})
    assert phrase in str(e.value), f"{e.value!s} lacks {phrase!r}"
    assert f"`{side}`:" in str(e.value), "the message names the image"
    _assert_clean(str(e.value))
    _assert_still_serving(client)


def test_an_image_over_its_size_cap_is_refused_by_the_decoder_by_name(client, tmp_path):
    # uploads may be as large as a checkpoint (tests/test_api_checkpoints.py): images are held to theirs by imageio
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * MAX_BYTES)
    with pytest.raises(AppError, match="`image_a`: the file is larger than 20 MB; please upload a smaller image") as e:
        _call(client, image_a=str(big))
    _assert_clean(str(e.value))
    _assert_still_serving(client)


def test_a_file_of_exactly_the_upload_limit_reaches_the_decoder(client, tmp_path):
    limit = tmp_path / "limit.png"
    limit.write_bytes(b"\x89PNG" + b"\0" * (MAX_BYTES - 4))  # the largest image the decoder judges by its content
    with pytest.raises(AppError, match="not an image in a supported format") as e:
        _call(client, image_a=str(limit))
    _assert_clean(str(e.value))
    _assert_still_serving(client)


def test_a_server_path_that_was_not_uploaded_is_refused(client, app_url):
    def file_data(path: str) -> dict:
        return {"path": path, "meta": {"_type": "gradio.FileData"}}

    body = {"data": [file_data("/etc/hostname"), file_data(COFFEE), *q.VALUES]}
    event = httpx.post(f"{app_url}gradio_api/call/snapmix", json=body, timeout=30).json()["event_id"]
    stream = httpx.get(f"{app_url}gradio_api/call/snapmix/{event}", timeout=60).text
    assert "event: error" in stream
    _assert_clean(stream)
    _assert_still_serving(client)


# ## Odd but valid uploads: decoded as `imageio` promises, checked through the result


def _animated_gif(folder: Path) -> tuple[str, str, str]:
    frames = [_picture(seed, (96, 64)).quantize(64) for seed in (10, 11, 12)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    shown = Image.open(io.BytesIO(data))
    assert shown.n_frames == 3
    first = shown.convert("RGB")
    shown.seek(1)
    return _write(folder, "anim.gif", data), _write(folder, "first.png", first), _write(folder, "second.png", shown)


def _png_16bit(folder: Path) -> tuple[str, str, None]:
    gray8 = np.asarray(_picture(20).convert("L"), dtype=np.uint16)
    src = Image.fromarray(gray8 * 257)  # 16-bit values whose 8-bit scaling is exact
    assert src.mode == "I;16"
    return (
        _write(folder, "deep.png", encode(src, "PNG")),
        _write(folder, "ref.png", Image.fromarray(gray8.astype(np.uint8))),
        None,
    )


def _cmyk_jpeg(folder: Path) -> tuple[str, str, None]:
    data = encode(_picture(30).convert("CMYK"), "JPEG", quality=95)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == "CMYK"
    return _write(folder, "cmyk.jpg", data), _write(folder, "ref.png", decoded.convert("RGB")), None


def _palette_transparent(folder: Path) -> tuple[str, str, None]:
    src = _picture(40).quantize(16)
    index = np.asarray(src)
    palette = np.array(src.getpalette()[: 16 * 3], dtype=np.uint8).reshape(16, 3)
    expected = np.where((index == 3)[..., None], np.uint8(255), palette[index])  # index 3 is see-through: white
    data = encode(src, "PNG", transparency=3)
    assert Image.open(io.BytesIO(data)).mode == "P" and (index == 3).any()
    return _write(folder, "pal.png", data), _write(folder, "ref.png", Image.fromarray(expected)), None


def _gray_alpha(folder: Path) -> tuple[str, str, None]:
    lum = _picture(50).convert("L")
    alpha = np.where(np.arange(lum.width)[None, :] % 40 < 20, 255, 0).repeat(lum.height, 0).astype(np.uint8)
    data = encode(Image.merge("LA", (lum, Image.fromarray(alpha))), "PNG")
    expected = np.where(alpha == 255, np.asarray(lum), np.uint8(255))  # transparent pixels shown on white
    return _write(folder, "la.png", data), _write(folder, "ref.png", Image.fromarray(expected)), None


def _exif_rotated(orientation: int) -> Callable[[Path], tuple[str, str, str]]:
    def make(folder: Path) -> tuple[str, str, str]:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        data = encode(_picture(60 + orientation, (240, 160)), "JPEG", quality=95, exif=exif)
        stored = Image.open(io.BytesIO(data)).convert("RGB")  # the pixels as stored, sideways
        upright = stored.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270}[orientation])
        return (
            _write(folder, "photo.jpg", data),
            _write(folder, "upright.png", upright),
            _write(folder, "raw.png", stored),
        )

    return make


def _one_pixel(folder: Path) -> tuple[str, str, None]:
    colour = (200, 40, 90)
    return (
        _write(folder, "dot.png", Image.new("RGB", (1, 1), colour)),
        _write(folder, "ref.png", Image.new("RGB", (7, 5), colour)),
        None,
    )


def _sliver(folder: Path) -> tuple[str, str, None]:
    img = _picture(70, (10000, 8))
    return _write(folder, "sliver.jpg", encode(img, "JPEG", quality=90)), None, None


# case -> (odd upload, a lossless PNG of the pixels it must decode to or None, a decoy that must differ or None)
_ODD = {
    "animated-gif-first-frame": _animated_gif,
    "png-16-bit": _png_16bit,
    "jpeg-cmyk": _cmyk_jpeg,
    "png-palette-transparency": _palette_transparent,
    "png-gray-alpha": _gray_alpha,
    "jpeg-exif-rotate-90": _exif_rotated(6),
    "jpeg-exif-rotate-180": _exif_rotated(3),
    "png-1x1": _one_pixel,
    "jpeg-10000x8": _sliver,
}


@pytest.mark.parametrize("case", sorted(_ODD))
def test_odd_upload_is_decoded_as_promised(client, tmp_path, case):
    odd, reference, decoy = _ODD[case](tmp_path)
    res = _call(client, image_a=odd, seed=5)
    assert res["input_size"] == [224, 224]
    assert 0 <= res["rho_a"] <= 1 and 0 <= res["rho_b"] <= 1
    if reference is not None:
        ref = _call(client, image_a=reference, seed=5)
        assert _facts(ref) == _facts(res)
        assert ref["forward_passes"] == 0, "the reference's pixels must hash to the odd upload's cached analysis"
    if decoy is not None:
        assert _facts(_call(client, image_a=decoy, seed=5)) != _facts(res), "the comparison must tell them apart"
    _assert_still_serving(client)


# ## Concurrency: many clients at once get what each would get alone


def _pairs(folder: Path, n: int) -> list[tuple[str, str]]:
    """`n` image pairs; no image belongs to two pairs."""
    return [
        (
            _write(folder, f"a{k}.png", _picture(100 + 2 * k)),
            _write(folder, f"b{k}.jpg", encode(_picture(101 + 2 * k), "JPEG")),
        )
        for k in range(n)
    ]


def _box(rng: random.Random) -> str:
    top, left = rng.randrange(0, 150), rng.randrange(0, 150)
    return f"{top}, {left}, {top + rng.randrange(1, 74)}, {left + rng.randrange(1, 74)}"


def _request(rng: random.Random, pairs: list[tuple[str, str]]) -> dict:
    """A random request over cheap backbones, modes and seeds; sometimes explicit boxes and targets.

    Targets are set on both sides or neither, and each image belongs to one pair, so A's and B's
    analyses are always cached together and every forward is the same batch of two: a lone
    cached side would make the other run as a batch of one, which moves floats by ~1e-7.
    """
    k = rng.randrange(len(pairs))
    req = {"image_a": pairs[k][0], "image_b": pairs[k][1], "backbone": rng.choice(CHEAP)}
    req |= {"mode": rng.choice(PATCH_MODES), "seed": rng.randrange(2**31)}
    if rng.random() < 0.3:
        req |= {"target_a": str(7 + k), "target_b": str(500 + k)}
    if rng.random() < 0.3:
        req |= {"box_a": _box(rng), "box_b": _box(rng)}
    return req


def _run_clients(app_url: str, plans: list[list[dict]]) -> list[list[dict]]:
    """Each plan on its own `Client`, all started together; the results, plan by plan."""
    start = threading.Barrier(len(plans), timeout=300)  # a guard against hanging, not a timing assertion

    def work(plan: list[dict]) -> list[dict]:
        own = Client(app_url, verbose=False)
        start.wait()
        return [_call(own, **req) for req in plan]

    with ThreadPoolExecutor(len(plans)) as pool:
        return list(pool.map(work, plans))


def test_concurrent_clients_get_what_each_would_get_alone(client, app_url, tmp_path):
    rng = random.Random(6)
    pairs = _pairs(tmp_path, 5)
    plans = [[_request(rng, pairs) for _ in range(3)] for _ in range(8)]
    together = _run_clients(app_url, plans)
    analysis.clear_caches()
    for plan, results in zip(plans, together, strict=True):
        for req, res in zip(plan, results, strict=True):
            alone = _call(client, **req)
            assert _close(_facts(res), _facts(alone)), f"concurrent result differs from the lone one for {req}"


def test_models_built_concurrently_match_models_built_alone():
    # Seeded random init uses torch's process-wide generator: builds in parallel threads must not interleave.
    def state(name: str) -> dict:
        return weights.load_backbone(name, weights="random").state_dict()

    alone = {name: state(name) for name in CHEAP}
    start = threading.Barrier(len(CHEAP), timeout=300)

    def build(name: str) -> dict:
        start.wait()
        return state(name)

    with ThreadPoolExecutor(len(CHEAP)) as pool:
        together = dict(zip(CHEAP, pool.map(build, CHEAP), strict=True))
    for name in CHEAP:
        differing = [k for k, v in alone[name].items() if not torch.equal(v, together[name][k])]
        assert not differing, f"{name} built alongside others got other weights: {differing[:3]}"


def test_concurrent_first_requests_build_each_model_once(app_url, monkeypatch):
    keys = [("resnet18", "random"), ("mobilenet_v2", "random"), ("mixnet_s", "random")]
    assert len(keys) <= weights.model_cache_info()["maxsize"], "evictions would force rebuilds"
    built = []
    real_load = weights.models.build_backbone

    def slow_load(spec, kind: str):  # widen the race window: others ask while this one builds
        built.append((spec.name, kind))
        threading.Event().wait(0.5)
        return real_load(spec, kind)

    monkeypatch.setattr(weights.models, "build_backbone", slow_load)
    weights.clear_model_cache()
    before = weights.model_cache_info()["builds"]
    plans = [[{"backbone": keys[i % 3][0], "seed": i}] for i in range(9)]
    results = _run_clients(app_url, plans)
    assert weights.model_cache_info()["builds"] - before == 3
    assert sorted(built) == sorted(keys)
    assert set(weights.model_cache_info()["keys"]) == set(keys)
    assert all(0 <= r[0]["rho_a"] <= 1 for r in results)


# ## Bounded resources


# Resident memory rises ~1 MB per request while the analysis cache fills (two new analyses per request here),
# then stays flat: measured in a fresh process, 541 MB after request 2, 570 after 45, 572-578 up to request 120.
# The loop runs in a fresh process (tests/_memory_probe.py): a test worker's RSS moves by tens of MB with what
# its earlier tests left running (CI: +20 MB from request 45 to 90, trimmed, with no result referenced). Compare
# requests 40-45 (cache full) with 85-90 (alone: 583.1 and 583.5 MB). A leak of one PairResult per request (three
# 224x224 RGB images and two float32 maps, ~0.85 MB) would add ~38 MB over those 45 requests.
RSS_GROWTH_MB = 20


def _live_results() -> tuple[int, int]:
    """How many pair results and analyses anything still references: the allocator-independent leak count."""
    objects = gc.get_objects()
    return sum(isinstance(o, pipeline.PairResult) for o in objects), sum(
        isinstance(o, analysis.Analysis) for o in objects
    )


def test_memory_and_caches_stay_bounded_over_many_requests():
    probe = subprocess.run(
        [sys.executable, "-m", "tests._memory_probe"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    facts = json.loads(next(line for line in probe.stdout.splitlines() if line.startswith("{")))
    rss = {int(k): v for k, v in facts["rss"].items()}
    warm, late = (statistics.median(v for k, v in rss.items() if end - 5 <= k <= end) for end in (45, 90))
    print(f"RSS MB: start {rss[0]:.0f}, median of requests 40-45 {warm:.0f}, of 85-90 {late:.0f}; {facts}")
    assert facts["full_at_40"], "the analysis cache should be full by request 40"
    assert facts["live"]["90"] == facts["live"]["45"], f"results and analyses still referenced: {facts['live']}"
    assert late - warm < RSS_GROWTH_MB, f"RSS still grows: {warm:.0f} MB after 45 requests, {late:.0f} after 90"
    assert facts["analyses"] <= facts["analyses_max"] == analysis.ANALYSIS_CACHE_SIZE
    assert facts["models"] <= facts["models_max"]


def test_result_files_folder_stays_bounded():
    extra = 6
    for seed in range(files.KEEP_RESULT_FOLDERS + extra):
        own = (None, None, "")  # no checkpoint, class file or pasted names
        request = (CAT, COFFEE, "resnet18", "random", "default", "predicted", "predicted", 5.0, seed, "", "", *own)
        outputs = handlers.on_run(*request, "jet", 0.5, requests.VIEWS[0])
        assert outputs[0].error is None and all(Path(p).exists() for p in outputs[-1])
    kept = list(server.RESULTS_DIR.glob("r-*/result.json"))
    assert 0 < len(kept) <= files.KEEP_RESULT_FOLDERS
