"""Clips for Chromium's fake webcam (`--use-file-for-fake-video-capture=clip.y4m`) whose frames carry their index.

Each frame's index is written as black / white bars down both side edges (bit k = bar k from the top, white = 1;
mirror-proof), so a page or a test can tell which camera frame a result or a displayed picture belongs to.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT, FPS = 640, 480, 15
BITS, BAR_WIDTH, BAR_HEIGHT = 8, 24, 40  # up to 256 frames
PHOTO_FACE = (181, 62, 268, 172)  # the astronaut's face in the 512x512 photo

# In a page: the index written in an ImageData's bars, read on the left edge.
FRAME_INDEX_JS = f"""(image, bits = {BITS}, barWidth = {BAR_WIDTH}, barHeight = {BAR_HEIGHT}) => {{
  let n = 0;
  for (let k = 0; k < bits; k++) {{
    const i = ((barHeight * k + barHeight / 2) * image.width + barWidth / 2) * 4;
    if (image.data[i] + image.data[i + 1] + image.data[i + 2] > 384) n |= 1 << k;
  }}
  return n;
}}"""


def mark_index(frame: np.ndarray, index: int, bits: int = BITS, width: int = BAR_WIDTH) -> np.ndarray:
    """`frame` (H, W, 3) with `index` written in bars `width` px wide at both side edges (in place; returned)."""
    for k in range(bits):
        value = 255 if index >> k & 1 else 0
        frame[k * BAR_HEIGHT : (k + 1) * BAR_HEIGHT, :width] = value
        frame[k * BAR_HEIGHT : (k + 1) * BAR_HEIGHT, -width:] = value
    return frame


def frame_index(rgb: np.ndarray, bits: int = BITS) -> int:
    """The index written in a frame's bars."""
    return sum(1 << k for k in range(bits) if rgb[BAR_HEIGHT * k + BAR_HEIGHT // 2, BAR_WIDTH // 2].mean() > 128)


def write_y4m(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    """A raw YUV 4:2:0 (JPEG full-range) clip of RGB frames, as Chromium's fake webcam reads it."""
    height, width = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, cb, cr = Image.fromarray(frame).convert("YCbCr").split()
            out.write(b"FRAME\n" + y.tobytes())
            for chroma in (cb, cr):
                out.write(chroma.resize((width // 2, height // 2), Image.BOX).tobytes())
    return path


def photo_frame(
    photo: Image.Image, side: int, left: int, background: tuple[int, int, int] = (40, 40, 40)
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The square photo at `side` px, `left` px from the left, centred vertically on a plain background; the
    astronaut's face box in the frame."""
    top = (HEIGHT - side) // 2
    canvas = Image.new("RGB", (WIDTH, HEIGHT), background)
    canvas.paste(photo.resize((side, side), Image.BILINEAR), (left, top))
    scale = side / 512
    x1, y1, x2, y2 = PHOTO_FACE
    return np.array(canvas), (left + x1 * scale, top + y1 * scale, left + x2 * scale, top + y2 * scale)


def letterboxed(rgb: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """`rgb` scaled to fit width x height, centred on black (a 16:9 clip in a 4:3 camera frame)."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    size = (round(w * scale), round(h * scale))
    canvas = Image.new("RGB", (width, height))
    canvas.paste(Image.fromarray(rgb).resize(size, Image.BILINEAR), ((width - size[0]) // 2, (height - size[1]) // 2))
    return np.array(canvas)
