"""The README's picture: the app (bundled model) in Chromium, the group example analysed on the Upload tab.

    python scripts/screenshot.py [--out docs/images/app.png] [--model ID]

Starts `app.py` on a free port as the tests do (tests/live_server.py), drives Debian's Chromium with Playwright,
and writes a palette PNG (256 colours) of the page from its header to the faces table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from live_server import CHROMIUM, CHROMIUM_FLAGS, serve_app  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from fer.model import DEFAULT_MODEL  # noqa: E402

OUT = ROOT / "docs" / "images" / "app.png"
VIEWPORT = {"width": 1200, "height": 900}
RESULT_TIMEOUT_MS = 300_000  # the first analysis on a busy 2-core machine
GROUP_EXAMPLE = 1  # the second Upload example: five faces
COLOURS = 256


def capture(url: str, out: Path) -> None:
    """Click the group example, wait for its faces, and save the page from the top to the faces table."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url, wait_until="load")
            page.locator("#upload-examples button").nth(GROUP_EXAMPLE).click()
            page.locator("#faces-table [role=row]").nth(4).wait_for(timeout=RESULT_TIMEOUT_MS)
            page.locator("#faces img").wait_for()
            page.wait_for_timeout(1000)  # the annotated image fades in
            table = page.locator("#faces-table").bounding_box()
            height = table["y"] + table["height"] + 16
            page.screenshot(
                path=out, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}, full_page=True
            )
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write (default: docs/images/app.png)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model id to serve (default: the bundled one)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, serve_app(args.model, Path(folder) / "app.log") as app:
        capture(app.url, args.out)
    with Image.open(args.out) as shot:
        shot.convert("RGB").quantize(COLOURS).save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
