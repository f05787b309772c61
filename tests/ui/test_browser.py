"""Real browser: headless Chromium with a fake webcam (a .y4m of the astronaut) streams to the Webcam tab.

Each fake-webcam frame carries its index as black/white bars at both side edges (mirror-proof), so the test can
tell which frame an annotated result belongs to, compare it with the frame the browser sent, and measure the
delay from capture to display. Skips only where Chromium is absent and CI is unset.
"""

from __future__ import annotations

import base64
import io
import re
import time
import urllib.request
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from fake_camera import write_y4m
from live_server import CHROMIUM, WEBCAM_FLAGS, LiveApp, chromium, live_app  # noqa: F401
from PIL import Image

from fer.labels import EMOTIONS

pytestmark = pytest.mark.slow

WIDTH, HEIGHT, FPS = 640, 480, 15
FRAMES = 60  # the fake webcam loops every FRAMES / FPS = 4 s; delays are measured modulo that
BITS, BAR_WIDTH, BAR_HEIGHT = 6, 24, 40  # frame index, bit k = bar k from the top, white = 1
PHOTO_FACE = (181, 62, 268, 172)  # the astronaut's face in the 512x512 photo
FIRST_FRAME_TIMEOUT_S = 180  # the first frame waits for the stream to open and the model to warm up
MEASURE_S = 12
MIN_FRAMES = 8
DIFF_LEVEL = 80  # a pixel whose channel differs by more than this from the sent frame was drawn on

# In the page: each new annotated image is decoded (its frame index) together with the frame the webcam shows now.
WATCH_RESULTS = """([bits, barWidth, barHeight]) => {
  window.results = [];
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const index = (source, width, height) => {
    canvas.width = width; canvas.height = height; ctx.drawImage(source, 0, 0, width, height);
    let n = 0;
    for (let k = 0; k < bits; k++) {
      const [r, g, b] = ctx.getImageData(barWidth / 2, barHeight * k + barHeight / 2, 1, 1).data;
      if (r + g + b > 384) n |= 1 << k;
    }
    return n;
  };
  const root = document.querySelector('#live');
  let last = null;
  new MutationObserver(() => {
    const img = root.querySelector('img');
    if (!img || !img.src || img.src === last) return;
    const src = (last = img.src);
    const record = () => {
      const video = document.querySelector('#webcam video');
      window.results.push({t: performance.now(), src, out: index(img, img.naturalWidth, img.naturalHeight),
                           cam: video ? index(video, video.videoWidth, video.videoHeight) : -1});
    };
    img.complete && img.naturalWidth ? record() : img.addEventListener('load', record, {once: true});
  }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def webcam_frames() -> tuple[list[np.ndarray], list[tuple[float, float, float, float]]]:
    """FRAMES 640x480 RGB frames of the astronaut drifting and zooming, index bars on both edges; face boxes."""
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    frames, boxes = [], []
    for i in range(FRAMES):
        phase = i / FRAMES
        side = round(400 + 16 * np.sin(2 * np.pi * phase))
        left, top = round(110 + 24 * np.sin(2 * np.pi * phase)), (HEIGHT - side) // 2
        canvas = Image.new("RGB", (WIDTH, HEIGHT), (40, 40, 40))
        canvas.paste(photo.resize((side, side), Image.BILINEAR), (left, top))
        frame = np.array(canvas)
        for k in range(BITS):
            value = 255 if i >> k & 1 else 0
            frame[k * BAR_HEIGHT : (k + 1) * BAR_HEIGHT, :BAR_WIDTH] = value
            frame[k * BAR_HEIGHT : (k + 1) * BAR_HEIGHT, -BAR_WIDTH:] = value
        frames.append(frame)
        scale = side / 512
        x1, y1, x2, y2 = PHOTO_FACE
        boxes.append((left + x1 * scale, top + y1 * scale, left + x2 * scale, top + y2 * scale))
    return frames, boxes


def frame_index(rgb: np.ndarray) -> int:
    """The index written in a frame's bars (read on the left edge; the bars are mirror-symmetric)."""
    return sum(1 << k for k in range(BITS) if rgb[BAR_HEIGHT * k + BAR_HEIGHT // 2, BAR_WIDTH // 2].mean() > 128)


def decode_data_url(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def test_webcam_stream_comes_back_annotated(chromium, live_app: LiveApp, tmp_path: Path) -> None:  # noqa: F811
    frames, boxes = webcam_frames()
    video = write_y4m(tmp_path / "webcam.y4m", frames)
    browser = chromium.chromium.launch(
        executable_path=str(CHROMIUM), args=[*WEBCAM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
    )
    sent: deque[str] = deque(maxlen=3 * FRAMES)  # the frames the browser posted (JPEG data URLs)

    def keep_frame(request) -> None:
        if request.method == "POST" and "/gradio_api/stream/" in request.url:
            payload = (request.post_data_json or {}).get("data", [None])[0]
            url = payload.get("url") if isinstance(payload, dict) else payload
            if isinstance(url, str) and url.startswith("data:image"):
                sent.append(url)

    failed: list[str] = []  # downloads cut short (net::ERR_CONTENT_LENGTH_MISMATCH), see fer/ui/live_frames.py
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", keep_frame)
        page.on(
            "requestfailed",  # an image replaced before it loaded is ERR_ABORTED, which is normal
            lambda request: (
                "CONTENT_LENGTH" in str(request.failure) and failed.append(f"{request.url} {request.failure}")
            ),
        )
        page.goto(live_app.url, wait_until="load")
        page.get_by_role("tab", name="Webcam").click()
        page.evaluate(WATCH_RESULTS, [BITS, BAR_WIDTH, BAR_HEIGHT])
        page.get_by_text("Click to Access Webcam").click()
        page.get_by_label("capture photo").click()  # Gradio's record button: starts streaming
        page.wait_for_function("window.results.length > 0", timeout=FIRST_FRAME_TIMEOUT_S * 1000)
        time.sleep(MEASURE_S)
        results = page.evaluate("window.results")
        stats = page.locator("#stream-stats").inner_text()
        page.screenshot(path=tmp_path / "webcam.png")
        print(f"\nscreenshot: {tmp_path / 'webcam.png'}")
    finally:
        browser.close()

    assert not failed and "Too little data" not in live_app.log.read_text(), failed
    # frames arrive, each a different annotated frame, with frames/s and the face's label shown
    assert len({r["src"] for r in results}) >= MIN_FRAMES, f"{len(results)} frames in {MEASURE_S} s"
    assert re.search(r"\d+\.\d frames/s", stats), stats
    assert re.search(rf"#\d+ ({'|'.join(EMOTIONS)}) \d+%", stats), stats

    # the latest result is the frame the browser sent plus a box and label drawn around the face, nothing else
    with urllib.request.urlopen(results[-1]["src"]) as response:
        shown = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
    index = frame_index(shown)
    original = next((f for f in map(decode_data_url, reversed(sent)) if frame_index(f) == index), None)
    assert original is not None, f"frame {index} was never sent"
    drawn = np.abs(shown.astype(int) - original.astype(int)).max(axis=2) > DIFF_LEVEL
    drawn[:, : BAR_WIDTH + 8] = drawn[:, -BAR_WIDTH - 8 :] = False  # JPEG ringing at the index bars
    x1, y1, x2, y2 = boxes[index]
    x1, x2 = WIDTH - x2, WIDTH - x1  # Gradio mirrors webcam frames before sending them
    margin = 40
    near_face = np.zeros_like(drawn)
    near_face[max(0, round(y1) - 2 * margin) : round(y2) + margin, max(0, round(x1) - margin) : round(x2) + margin] = 1
    inside, outside = int((drawn & near_face).sum()), int((drawn & ~near_face).sum())
    assert inside >= 300 and outside <= inside // 10, f"drawn pixels: {inside} near the face, {outside} elsewhere"

    # how live it feels (issue 5 asks for >= 10 frames/s here): printed, not asserted
    times = [r["t"] for r in results[3:]]
    fps = (len(times) - 1) / ((times[-1] - times[0]) / 1000) if len(times) > 1 else 0.0
    delays = [((r["cam"] - r["out"]) % FRAMES) / FPS * 1000 for r in results[3:] if r["cam"] >= 0]
    print(
        f"browser: {fps:.1f} annotated frames/s received, capture-to-display delay median "
        f"{np.median(delays):.0f} ms, p90 {np.percentile(delays, 90):.0f} ms ({len(results)} frames; "
        f"{inside} drawn pixels near the face, {outside} elsewhere); {' '.join(stats.split())}"
    )
