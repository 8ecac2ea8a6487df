"""Driving the app's page as a user does: examples, uploads, waiting for the queue, reading what is shown."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
CAT, COFFEE, ASTRONAUT = (EXAMPLES_DIR / n for n in ("cat.jpg", "coffee.jpg", "astronaut.jpg"))
NARROW = {"width": 400, "height": 860}  # phone-like

ALL_IDLE = """() => Array.from(document.querySelectorAll('[data-testid="status-tracker"]'))
    .every(e => e.classList.contains('hide'))"""
RESULT_PANELS = ("#cam-a", "#cam-b", "#mixed", "#weights-chart", "#top-a", "#top-b")


def wait_idle(page) -> None:
    """Wait until no event is pending or running (every status tracker hidden)."""
    page.wait_for_timeout(300)  # let a just-triggered event show its tracker first
    page.wait_for_function(ALL_IDLE)


def run_first_example(page) -> None:
    """Click the first photo example (it loads both images, sets the model and runs) and wait for every output."""
    page.locator("#examples-photos tr.tr-body").nth(0).locator("td").first.click()
    page.locator("#status .timing").wait_for()
    wait_idle(page)
    for panel in ("#cam-a", "#cam-b", "#mixed"):
        page.locator(f"{panel} img").wait_for(state="attached")


def upload(page, side: str, path: Path | str) -> None:
    """Put a file into Image A or Image B ("a" or "b") through the page's own file input."""
    page.locator(f"#image-{side} input[type=file]").set_input_files(str(path))


def shown_image(page, panel: str) -> str | None:
    """The URL of the picture a result panel shows, or None when it is empty."""
    img = page.locator(f"{panel} img")
    return img.first.get_attribute("src") if img.count() else None


def error_badges(page) -> list[str]:
    """Output panels that show Gradio's own "Error" status instead of content."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid="status-tracker"]'))
            .filter(e => !e.classList.contains('hide') && /\\bError\\b/.test(e.innerText))
            .map(e => (e.closest('[id]') || e).id)"""
    )


def banner(page) -> str:
    return page.locator("#banner").inner_text().strip()
