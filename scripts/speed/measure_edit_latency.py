"""`bwcolor edit`: time from choosing a colour at a click to the updated preview, in a real browser.

Makes a 3000x2000 gray scan (from a sample photo, enlarged), serves it as `bwcolor edit` does,
and in headless chromium (Playwright) clicks N places in turn: each click asks for suggestions,
then picking the first suggested colour adds a hint; the time from that pick to the redrawn
preview is measured (the page's own preview counter). Prints median and worst.

    python scripts/speed/measure_edit_latency.py --clicks 20 [--model effnet_unet]

Pause other work on the machine first (a training run: kill -STOP / -CONT).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bwcolor.edit.server import EditServer
from bwcolor.edit.session import open_session

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "1909Chicago.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--model", default="effnet_unet")
    ap.add_argument("--size", default="3000x2000")
    args = ap.parse_args()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    width, height = (int(v) for v in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="bwcolor-latency-"))
    gray = cv2.resize(
        cv2.imread(str(SAMPLE), cv2.IMREAD_GRAYSCALE), (width, height), interpolation=cv2.INTER_CUBIC
    )
    cv2.imwrite(str(folder / "scan.png"), gray)
    server = EditServer(open_session([folder / "scan.png"], folder / "out", args.model))
    server.serve_in_thread()
    rng = np.random.default_rng(0)
    times = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("body[data-previews='1']", timeout=120_000)
            box = page.locator("#view").bounding_box()
            placed: list[tuple[float, float]] = []
            for i in range(args.clicks):
                while True:  # a click on a placed hint selects it: click elsewhere
                    x, y = (
                        box["x"] + box["width"] * rng.uniform(0.3, 0.7),
                        box["y"] + box["height"] * rng.uniform(0.3, 0.7),
                    )
                    if all(np.hypot(x - px, y - py) > 30 for px, py in placed):
                        break
                placed.append((x, y))
                page.mouse.click(x, y)
                try:
                    page.wait_for_selector(".swatch", timeout=60_000)
                except PlaywrightTimeout:
                    raise SystemExit(f"click {i}: no suggestions ({page.inner_text('#status')})") from None
                start = time.perf_counter()
                page.locator(".swatch").first.click()
                page.wait_for_selector(f"body[data-previews='{i + 2}']", timeout=60_000)
                times.append(time.perf_counter() - start)
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    ms = [round(t * 1000) for t in times]
    print(json.dumps({"size": args.size, "clicks": len(ms), "median_ms": statistics.median(ms), "worst_ms": max(ms),
                      "all_ms": ms}))  # fmt: skip


if __name__ == "__main__":
    main()
