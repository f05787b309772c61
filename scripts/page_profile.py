"""Where the in-page webcam's time goes: the page's main thread sampled by Chromium's profiler while it streams.

    python scripts/page_profile.py [--seconds 10] [--warmup 8] [--top 25]

Starts app.py (bundled model) and headless Chromium with the Hamilton clip as fake webcam (as
scripts/page_bench.py), presses Start webcam, waits `--warmup` s, then samples the page's main thread for
`--seconds` s (CDP Profiler, 200 us). Prints frames/s over the sample and, per function, its own ms a frame:
onnxruntime-web's WebAssembly (`wasm-function[...]`, the networks, including the main thread's share of their
threaded work) against the page's JavaScript (resizes, crops, drawing). WebAssembly threads other than the main
one are not sampled.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "tests" / "ui")]

from live_server import CHROMIUM, WEBCAM_FLAGS, app_env, serve_app  # noqa: E402
from page_bench import START_TIMEOUT_S, WEBCAM_CLIP, clip_y4m, press_start, start_page, wait  # noqa: E402

SAMPLING_US = 200
WASM = "wasm-function"


def self_ms(profile: dict) -> dict[str, float]:
    """Each function's own sampled milliseconds, by 'name file:line'."""
    nodes = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    totals: dict[str, float] = defaultdict(float)
    for sample, delta_us in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]
        name = frame["functionName"] or "(anonymous)"
        totals[f"{name} {frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber']}"] += delta_us / 1000
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from fer.model import DEFAULT_MODEL

    folder = Path(tempfile.mkdtemp(prefix="fer-page-profile-"))
    video, _, _ = clip_y4m(WEBCAM_CLIP, folder)
    with serve_app(DEFAULT_MODEL, folder / "app.log", env=app_env(DEFAULT_MODEL)) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*WEBCAM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
        )
        page, _ = start_page(browser, app.url, "browser", None)
        press_start(page, "browser")
        wait(page, "window.benchResults.length > 0", START_TIMEOUT_S)
        time.sleep(args.warmup)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": SAMPLING_US})
        first = page.evaluate("window.ferStats.frames")
        cdp.send("Profiler.start")
        started = time.monotonic()
        time.sleep(args.seconds)
        profile = cdp.send("Profiler.stop")["profile"]
        elapsed = time.monotonic() - started
        frames = page.evaluate("window.ferStats.frames") - first
        threads = page.evaluate("window.ferStats.threads")
        browser.close()
    totals = self_ms(profile)
    wasm = sum(ms for name, ms in totals.items() if name.startswith(WASM))
    idle = sum(ms for name, ms in totals.items() if name.startswith("(idle)"))
    script = sum(totals.values()) - wasm - idle
    print(
        f"{frames} frames in {elapsed:.1f} s: {frames / elapsed:.1f} frames/s, onnxruntime-web on {threads} thread(s)"
    )
    print(
        f"main thread, ms a frame: networks (WebAssembly) {wasm / frames:.1f}, everything else {script / frames:.1f},"
        f" idle {idle / frames:.1f}\n"
    )
    for name, ms in sorted(totals.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{ms / frames:7.2f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
