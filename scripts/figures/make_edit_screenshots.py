"""Screenshots of the `bwcolor edit` page for the README, taken in headless chromium.

    python scripts/figures/make_edit_screenshots.py docs/edit_page.jpg

Serves docs/samples/1909Chicago.jpg (in a temporary copy, so no hint file is written beside the
sample) with its hints, clicks one more place to show the model's suggested colours, and saves
the page as JPEG.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bwcolor.edit.server import EditServer
from bwcolor.edit.session import open_session

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bwcolor-shot-"))
    for name in ("1909Chicago.jpg", "1909Chicago.hints.json"):
        shutil.copy(SAMPLES / name, folder / name)
    server = EditServer(open_session([folder / "1909Chicago.jpg"], folder / "out"))
    server.serve_in_thread()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(server.url)
            page.wait_for_selector("body[data-previews='1']", timeout=120_000)
            box = page.locator("#view").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.86)  # a coat
            page.wait_for_selector(".swatch", timeout=60_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.out), type="jpeg", quality=85)
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
