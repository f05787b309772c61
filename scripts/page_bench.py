"""Measure the Webcam tab in headless Chromium with the Hamilton clip as every page's fake webcam.

    python scripts/page_bench.py                         # starts app.py (bundled model), 1 page, in-page webcam
    python scripts/page_bench.py --pages 8 --seconds 60  # 8 pages streaming at once
    python scripts/page_bench.py --mode server           # the same figures for the server stream
    python scripts/page_bench.py --url http://127.0.0.1:7860/ --pid APP_PID   # an app already running
    python scripts/page_bench.py --no-isolation          # the page without cross-origin isolation (one thread)

Per page: annotated frames/s shown, the delay from capture to display (median and p90: the clip's frames carry
their index as bars, the page's annotated frame is compared with the frame its camera shows at that moment),
ferStats' frames/s and ms a frame. For the app: its process's CPU seconds per second of streaming
(/proc/<pid>/stat) and what a first visit downloads (page load, then Start webcam until the first frame).
The clip (letterboxed to 640x480, its index in 8 px bars at both edges) is converted to .y4m with PyAV, into a
temporary folder, on each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "ui")]

from fake_camera import BAR_HEIGHT, letterboxed, mark_index, write_y4m  # noqa: E402
from live_server import CHROMIUM, WEBCAM_FLAGS, app_env, serve_app  # noqa: E402

from fer.bench.latency import WEBCAM_CLIP  # noqa: E402

BITS = 9  # up to 512 frames (the clip has 275)
# Narrow bars: the tests' 24 px bars change a thumbnail region enough on every frame to make the tracking's
# new-face trigger (fer/scene.py) run the detector on every frame; 8 px ones change it by about 13 of 20.
BAR_WIDTH = 8
START_TIMEOUT_S = 240

# In the page: on every annotated frame, which clip frame it shows and which one the camera shows now.
WATCH = """([bits, barWidth, barHeight, mode]) => {
  window.benchResults = [];
  const strip = document.createElement('canvas');
  strip.width = barWidth; strip.height = barHeight * bits;
  const ctx = strip.getContext('2d', {willReadFrequently: true});
  const index = (source, width) => {
    // the bars are on both edges; read the left one of `source` drawn at its natural size
    ctx.drawImage(source, 0, 0, barWidth, barHeight * bits, 0, 0, barWidth, barHeight * bits);
    const data = ctx.getImageData(0, 0, barWidth, barHeight * bits).data;
    let n = 0;
    for (let k = 0; k < bits; k++) {
      const i = ((barHeight * k + barHeight / 2) * barWidth + barWidth / 2) * 4;
      if (data[i] + data[i + 1] + data[i + 2] > 384) n |= 1 << k;
    }
    return n;
  };
  const record = (shown, video, extra = {}) => {
    window.benchResults.push({t: performance.now(), out: index(shown), cam: video ? index(video) : -1, ...extra});
  };
  if (mode === 'browser') {
    window.addEventListener('fer-frame', (event) => record(document.getElementById('fer-canvas'),
      document.getElementById('fer-camera'), {ms: event.detail.shown - event.detail.captured}));
    return;
  }
  const root = document.querySelector('#live');
  let last = null;
  new MutationObserver(() => {
    const img = root.querySelector('img');
    if (!img || !img.src || img.src === last) return;
    last = img.src;
    const done = () => record(img, document.querySelector('#webcam video'));
    img.complete && img.naturalWidth ? done() : img.addEventListener('load', done, {once: true});
  }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def clip_y4m(clip: Path, folder: Path) -> tuple[Path, int, Fraction]:
    """The clip letterboxed to 640x480 with index bars, as .y4m; its frame count and frames/s."""
    import av

    frames = []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or 30)
        for frame in container.decode(stream):
            frames.append(mark_index(letterboxed(frame.to_ndarray(format="rgb24")), len(frames), BITS, BAR_WIDTH))
    return write_y4m(folder / "clip.y4m", frames, fps), len(frames), fps


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else [values[0]] * 9
    return f"median {statistics.median(values):.0f} ms, p90 {q[8]:.0f} ms"


def start_page(browser, url: str, mode: str, weights: list[int] | None):
    """A fresh context and page on the Webcam tab, streaming; `weights` (if given) collects response bytes."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    if weights is not None:  # until the first frame: `weights` is closed with a None, streamed frames are not counted
        page.on(
            "requestfinished",
            lambda r: None if weights[-1:] == [None] else weights.append(r.sizes()["responseBodySize"]),
        )
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Webcam").click()
    wait(page, "!!window.ferWebcam", 60)
    page.evaluate(WATCH, [BITS, BAR_WIDTH, BAR_HEIGHT, mode])
    return page, hosts


def wait(page, expression: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{expression} still false after {timeout_s} s: {page.evaluate('window.ferStats')}")
        time.sleep(0.25)


def press_start(page, mode: str) -> None:
    if mode == "browser":
        page.get_by_role("button", name="Start webcam").click()
    else:
        page.get_by_text("Click to Access Webcam").click()
        page.get_by_label("capture photo").click()


def measure(args: argparse.Namespace, url: str, pid: int | None) -> int:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="fer-page-bench-"))
    video, frame_count, fps = clip_y4m(args.clip, folder)
    print(f"clip: {args.clip.name}, {frame_count} frames at {float(fps):.2f} frames/s -> {video}", flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*WEBCAM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
        )
        weights: list[int] = []
        pages = []
        page, hosts = start_page(browser, url, args.mode, weights)
        load_bytes = sum(weights)
        pages.append((page, hosts))
        for _ in range(args.pages - 1):
            pages.append(start_page(browser, url, args.mode, None))
        for page, _ in pages:
            press_start(page, args.mode)
        first = "window.benchResults.length > 0"
        for page, _ in pages:
            wait(page, first, START_TIMEOUT_S)
        start_bytes = sum(weights) - load_bytes
        weights.append(None)
        time.sleep(args.warmup)
        for page, _ in pages:
            page.evaluate("window.benchResults = []")
        cpu_before, started = (cpu_seconds(pid) if pid else None), time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        cpu = (cpu_seconds(pid) - cpu_before) / elapsed if pid else None
        rows = [
            (page.evaluate("window.benchResults"), page.evaluate("({...window.ferStats})"), hosts)
            for page, hosts in pages
        ]
        if args.screenshot:
            pages[0][0].screenshot(path=args.screenshot)
        browser.close()

    print(f"\n{args.pages} page(s), mode {args.mode}, {elapsed:.0f} s measured after {args.warmup:.0f} s warm-up:")
    all_fps, all_delays, failed = [], [], 0
    for n, (results, stats, hosts) in enumerate(rows, start=1):
        span = (results[-1]["t"] - results[0]["t"]) / 1000 if len(results) > 1 else 0.0
        shown = (len(results) - 1) / span if span > 0 else 0.0
        delays = [((r["cam"] - r["out"]) % frame_count) / float(fps) * 1000 for r in results if r["cam"] >= 0]
        inner = [r["ms"] for r in results if "ms" in r]
        all_fps.append(shown)
        all_delays += delays
        foreign = sorted(host for host in hosts if not host.startswith("127.0.0.1"))
        failed += shown == 0 or bool(foreign) or stats.get("mode") != args.mode
        print(
            f"  page {n}: {shown:5.1f} annotated frames/s shown, capture to display {summary(delays)} "
            f"(grab to drawn {summary(inner)}); ferStats {stats.get('mode')} {stats.get('fps', 0):.1f} frames/s, "
            f"{stats.get('msPerFrame', 0):.1f} ms a frame, {stats.get('threads')} thread(s)"
            + (f"; OTHER HOSTS: {foreign}" if foreign else "")
        )
    print(
        f"  all pages: {statistics.mean(all_fps):.1f} frames/s each on average, capture to display {summary(all_delays)}"
    )
    if cpu is not None:
        print(f"  app process: {cpu:.3f} CPU seconds per second of streaming")
    print(
        f"  first visit downloads {load_bytes / 1e6:.2f} MB to show the page, then {start_bytes / 1e6:.2f} MB on "
        f"Start webcam until the first frame ({(load_bytes + start_bytes) / 1e6:.2f} MB in all)"
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start app.py with the bundled model)")
    parser.add_argument("--pid", type=int, help="the running app's process id (for its CPU time)")
    parser.add_argument("--pages", type=int, default=1, help="pages streaming at once (default: 1)")
    parser.add_argument("--mode", choices=("browser", "server"), default="browser")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (default: 30)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds streamed before measuring")
    parser.add_argument("--clip", type=Path, default=WEBCAM_CLIP)
    parser.add_argument("--no-isolation", action="store_true", help="serve without COOP/COEP (FER_PAGE_ISOLATION=0)")
    parser.add_argument("--screenshot", type=Path, help="save page 1 here at the end")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    if args.url:
        return measure(args, args.url, args.pid)
    with ExitStack() as stack:
        log = Path(tempfile.mkdtemp(prefix="fer-page-bench-")) / "app.log"
        extra = {"FER_PAGE_ISOLATION": "0"} if args.no_isolation else {}
        from fer.model import DEFAULT_MODEL

        app = stack.enter_context(serve_app(DEFAULT_MODEL, log, env=app_env(DEFAULT_MODEL, **extra)))
        print(f"app.py on {app.url} (pid {app.process.pid}), log {log}", flush=True)
        return measure(args, app.url, app.process.pid)


if __name__ == "__main__":
    sys.exit(main())
