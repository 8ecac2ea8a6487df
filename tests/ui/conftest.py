"""Screenshot-test machinery: one headless Chromium per session, a fresh page per test, baseline comparison.

Baselines live in `tests/ui/baselines/` next to `VERSIONS.json`, which records the Chromium major version
and the Gradio version that rendered each of them. Pixels are compared whatever the versions (this
project's machines run Chromium 150 and 156, and render these pages alike within the tolerance); a
mismatch names both. `pytest tests/ui --update-snapshots` (or `UPDATE_SNAPSHOTS=1`) rewrites only the
baselines whose pixels really moved, so a browser upgrade alone does not churn them.
"""

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw

UI_DIR = Path(__file__).resolve().parent
BASELINES = UI_DIR / "baselines"
VERSIONS_FILE = BASELINES / "VERSIONS.json"
FAILURES = UI_DIR / "_failures"

CHROMIUM = Path(os.environ.get("SNAPMIX_CHROMIUM", "/usr/bin/chromium"))  # Debian's package; never downloaded
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
]
DESKTOP = {"width": 1280, "height": 900}

# Tolerance for anti-aliasing noise: a pixel differs when any channel differs by more than
# PIXEL_THRESHOLD (of 255); an image matches when at most MAX_DIFF_FRACTION of its pixels differ.
PIXEL_THRESHOLD = 16
MAX_DIFF_FRACTION = 0.001


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def _on_ci() -> bool:
    return _truthy(os.environ.get("CI"))


def _unavailable(reason: str):
    """Skip on a developer machine; on CI (CI set) a missing browser is a failure, not a skip."""
    if _on_ci():
        pytest.fail(f"{reason}; CI is set, so the screenshot tests must run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def update_snapshots(request) -> bool:
    return request.config.getoption("--update-snapshots") or _truthy(os.environ.get("UPDATE_SNAPSHOTS"))


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def browser(scratch):
    """Headless Debian Chromium driven by Playwright, with its home, caches and profile in the scratch folder."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium, or set SNAPMIX_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed in this environment")
    home = scratch / "browser-home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "TMPDIR": home / "tmp",  # Playwright puts the temporary browser profile here
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: str(v) for k, v in dirs.items()}
    with _environ(**env):  # the Playwright driver process inherits these
        pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, env={**os.environ, **env}
        )
    except Exception as e:
        pw.stop()
        _unavailable(f"{CHROMIUM} did not start under Playwright: {str(e).splitlines()[0]}")
    yield chromium
    chromium.close()
    pw.stop()


def _running_versions(browser) -> dict[str, str]:
    return {"chromium": browser.version.split(".")[0], "gradio": version("gradio")}


def _describe(versions: dict[str, str] | None) -> str:
    return f"Chromium {versions['chromium']} / Gradio {versions['gradio']}" if versions else "unknown versions"


@pytest.fixture(scope="session")
def render_versions(browser) -> dict[str, str]:
    """The versions rendering this session's screenshots."""
    return _running_versions(browser)


def _baseline_versions() -> dict[str, dict[str, str]]:
    """Baseline name -> the versions that rendered it."""
    return json.loads(VERSIONS_FILE.read_text()) if VERSIONS_FILE.exists() else {}


def _record_versions(name: str, versions: dict[str, str]) -> None:
    made = _baseline_versions()
    made[name] = versions
    VERSIONS_FILE.write_text(json.dumps(made, indent=2, sort_keys=True) + "\n")


def new_page(browser, app_url: str, viewport: dict[str, int] = DESKTOP):
    """A fresh context and page on the app, fonts loaded; the caller closes `page.context`."""
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=1,
        reduced_motion="reduce",
        color_scheme="light",
        locale="en-US",
        timezone_id="UTC",
    )
    context.set_default_timeout(60_000)  # a loaded 2-core VM stalls now and then
    page = context.new_page()
    page.goto(app_url)
    page.locator("#run").wait_for()
    page.evaluate("() => document.fonts.ready.then(() => null)")
    return page


@pytest.fixture
def open_page(browser, app_url) -> Iterator[Callable]:
    """`open_page(viewport=DESKTOP)`: a new page on the app; closed after the test."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP):
        page = new_page(browser, app_url, viewport)
        contexts.append(page.context)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page):
    return open_page()


# ## Comparing with a baseline


def compare(actual: Image.Image, expected: Image.Image) -> tuple[float, Image.Image | None]:
    """Fraction of pixels that differ beyond PIXEL_THRESHOLD, and a mask of them (None when the sizes differ)."""
    if actual.size != expected.size:
        return 1.0, None
    diff = np.asarray(ImageChops.difference(actual.convert("RGB"), expected.convert("RGB")))
    changed = diff.max(axis=2) > PIXEL_THRESHOLD
    return float(changed.mean()), Image.fromarray(changed)


def _diff_image(actual: Image.Image, expected: Image.Image, changed: Image.Image | None) -> Image.Image:
    """The expected image faded to grey with the differing pixels in red (or both overlaid when sizes differ)."""
    width, height = max(actual.width, expected.width), max(actual.height, expected.height)
    base = Image.new("RGB", (width, height), "white")
    base.paste(expected.convert("L").convert("RGB"), (0, 0))
    out = Image.blend(Image.new("RGB", (width, height), "white"), base, 0.35)
    if changed is None:
        changed = Image.new("1", (width, height), 0)
        padded_a = Image.new("RGB", (width, height), "white")
        padded_a.paste(actual.convert("RGB"), (0, 0))
        padded_e = Image.new("RGB", (width, height), "white")
        padded_e.paste(expected.convert("RGB"), (0, 0))
        changed = Image.fromarray(np.asarray(ImageChops.difference(padded_a, padded_e)).max(axis=2) > PIXEL_THRESHOLD)
    out.paste((255, 0, 0), (0, 0), changed.convert("L").point(lambda v: 255 if v else 0))
    return out


def _composite(expected: Image.Image, actual: Image.Image, diff: Image.Image) -> Image.Image:
    """expected | actual | diff, side by side under a one-line caption each."""
    panels = [("expected (baseline)", expected.convert("RGB")), ("actual", actual.convert("RGB")), ("diff", diff)]
    gap, caption = 12, 20
    width = sum(im.width for _, im in panels) + gap * (len(panels) - 1)
    height = max(im.height for _, im in panels) + caption
    sheet = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    x = 0
    for title, im in panels:
        draw.text((x + 4, 4), title, fill="white")
        sheet.paste(im, (x, caption))
        x += im.width + gap
    return sheet


@pytest.fixture
def assert_snapshot(update_snapshots, render_versions) -> Callable:
    """`assert_snapshot(png_bytes, name)`: compare with `baselines/<name>.png`; when updating, rewrite it if moved."""

    def check(png: bytes, name: str) -> None:
        baseline = BASELINES / f"{name}.png"
        for stale in FAILURES.glob(f"{name}.*.png"):
            stale.unlink()
        actual = Image.open(io.BytesIO(png))
        actual.load()
        if not baseline.exists():
            if update_snapshots:
                _rewrite(baseline, actual, render_versions)
                return
            pytest.fail(f"no baseline {baseline}; run with --update-snapshots to create it", pytrace=False)
        expected = Image.open(baseline)
        expected.load()
        fraction, changed = compare(actual, expected)
        if fraction <= MAX_DIFF_FRACTION:
            return
        if update_snapshots:
            _rewrite(baseline, actual, render_versions)
            return
        _fail(name, actual, expected, fraction, changed, render_versions)

    return check


def _rewrite(baseline: Path, actual: Image.Image, versions: dict[str, str]) -> None:
    BASELINES.mkdir(parents=True, exist_ok=True)
    actual.save(baseline, optimize=True)
    _record_versions(baseline.stem, versions)


def _fail(
    name: str,
    actual: Image.Image,
    expected: Image.Image,
    fraction: float,
    changed: Image.Image | None,
    running: dict[str, str],
) -> None:
    """Save expected, actual, diff and a side-by-side composite; fail naming them and both renderers."""
    FAILURES.mkdir(exist_ok=True)
    diff = _diff_image(actual, expected, changed)
    paths = {kind: FAILURES / f"{name}.{kind}.png" for kind in ("actual", "expected", "diff", "composite")}
    actual.save(paths["actual"])
    expected.save(paths["expected"])
    diff.save(paths["diff"])
    _composite(expected, actual, diff).save(paths["composite"])
    what = (
        f"size {actual.size} != baseline {expected.size}"
        if changed is None
        else f"{fraction:.3%} of pixels differ by more than {PIXEL_THRESHOLD} (allowed {MAX_DIFF_FRACTION:.1%})"
    )
    pytest.fail(
        f"screenshot `{name}` does not match its baseline: {what}; the baseline was rendered by "
        f"{_describe(_baseline_versions().get(name))}, this run by {_describe(running)}; expected | actual | diff "
        f"side by side in {paths['composite']} (separate files {name}.actual/.expected/.diff.png next to it); if "
        "the change is intended, review it and run with --update-snapshots",
        pytrace=False,
    )
