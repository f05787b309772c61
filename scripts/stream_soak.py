"""Stream a fake webcam into a running app for a while; print the app's RSS and Gradio cache size over time.

python scripts/stream_soak.py --url http://127.0.0.1:7860/ --pid APP_PID --seconds 330
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "ui")]

from fake_camera import write_y4m  # noqa: E402
from live_server import CHROMIUM, WEBCAM_FLAGS  # noqa: E402
from test_browser import webcam_frames  # noqa: E402

WARMUP_S = 30


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cache_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout.split()
    return int(out[0]) / 1024 if out else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--pid", type=int, required=True, help="the app's process id")
    parser.add_argument("--seconds", type=float, default=330)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gradio")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    frames, _ = webcam_frames()
    video = write_y4m(Path(tempfile.mkdtemp()) / "webcam.y4m", frames)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*WEBCAM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(args.url, wait_until="load")
        page.get_by_role("tab", name="Webcam").click()
        page.get_by_text("Click to Access Webcam").click()
        page.get_by_label("capture photo").click()
        start = time.time()
        while (elapsed := time.time() - start) < args.seconds:
            stats = page.locator("#stream-stats").inner_text()
            print(
                f"{elapsed:6.0f} s  RSS {rss_mb(args.pid):7.1f} MB  cache {cache_mb(args.cache):6.1f} MB  {stats}",
                flush=True,
            )
            time.sleep(WARMUP_S)
        browser.close()


if __name__ == "__main__":
    main()
