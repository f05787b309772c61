"""Odd and bad image files built from the astronaut photo: every input kind the app, API and CLI must handle.

`GOOD_CASES` decode to an upright RGB image that still shows the astronaut's face; `BAD_CASES` must be refused
with an ImageError whose message matches `error`. `crowd` and `multi_face` compose many faces on one canvas.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

FACE_BOX = (181, 62, 268, 172)  # the astronaut's face in the 512x512 photo
FACE_REGION = (141, 22, 308, 212)  # the face with context around it, for composing crowds
EXIF_SIZE = (512, 400)  # EXIF cases use a non-square crop so that a missed rotation shows in the size
EXIF_ORIENTATION = 0x0112
BOMB_SIDE = 100_000
TINY_SIDE = 16
TRUNCATE_AT = 0.4  # keep this fraction of a JPEG's bytes


@dataclass(frozen=True)
class Case:
    """One input kind: how to build its file bytes from the astronaut, and what loading it must give."""

    name: str
    suffix: str
    make: Callable[[np.ndarray], bytes]
    error: str | None = None  # regex the ImageError message must match; None: the image loads
    size: tuple[int, int] = (512, 512)  # (width, height) of the loaded, upright image

    def write(self, astronaut: np.ndarray, directory: Path) -> Path:
        path = directory / f"{self.name}{self.suffix}"
        path.write_bytes(self.make(astronaut))
        return path


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L"))


def rgba_png(rgb: np.ndarray) -> bytes:
    """Opaque face, transparent left quarter (blended onto white when loaded)."""
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, : rgb.shape[1] // 4] = 0
    return encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG")


def la_png(rgb: np.ndarray) -> bytes:
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, : rgb.shape[1] // 4] = 0
    return encode(Image.merge("LA", (Image.fromarray(gray(rgb)), Image.fromarray(alpha))), "PNG")


def palette_png(rgb: np.ndarray, transparency: bool = False) -> bytes:
    image = Image.fromarray(rgb).quantize(256)
    return encode(image, "PNG", **({"transparency": 0} if transparency else {}))


def png16(rgb: np.ndarray) -> bytes:
    """16-bit grayscale (mode I;16) using the full 0..65535 range."""
    return encode(Image.fromarray(gray(rgb).astype(np.uint16) * 257), "PNG")


def cmyk_jpeg(rgb: np.ndarray) -> bytes:
    return encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)


def exif_jpeg(orientation: int) -> Callable[[np.ndarray], bytes]:
    """Pixels stored rotated, with the EXIF orientation tag that turns them upright again."""
    stored_turn = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]

    def make(rgb: np.ndarray) -> bytes:
        upright = Image.fromarray(rgb[: EXIF_SIZE[1], : EXIF_SIZE[0]])
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        return encode(upright.transpose(stored_turn), "JPEG", quality=95, exif=exif.tobytes())

    return make


def animated_gif(rgb: np.ndarray) -> bytes:
    """The face first, then a blank frame: the first frame is the one analysed."""
    frames = [Image.fromarray(rgb), Image.new("RGB", (rgb.shape[1], rgb.shape[0]), "white")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def truncated_jpeg(rgb: np.ndarray) -> bytes:
    data = encode(Image.fromarray(rgb), "JPEG", quality=90)
    return data[: int(len(data) * TRUNCATE_AT)]


def corrupt_png(rgb: np.ndarray) -> bytes:
    """A valid header, then flipped bytes in the middle of the IDAT data."""
    data = bytearray(encode(Image.fromarray(rgb), "PNG"))
    start = data.index(b"IDAT") + 4
    for offset in range(start + 100, start + 4000, 7):
        data[offset] ^= 0xFF
    return bytes(data)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(_rgb: np.ndarray | None = None, side: int = BOMB_SIDE) -> bytes:
    """A ~1 kB PNG whose header claims side x side RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (1 + 3 * side))  # one row; the decoder would allocate all the others
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def tiny_png(rgb: np.ndarray) -> bytes:
    return encode(Image.fromarray(rgb).resize((TINY_SIDE, TINY_SIDE)), "PNG")


GOOD_CASES: tuple[Case, ...] = (
    Case("rgb", ".png", lambda rgb: encode(Image.fromarray(rgb), "PNG")),
    Case("rgb_jpeg", ".jpg", lambda rgb: encode(Image.fromarray(rgb), "JPEG", quality=95)),
    Case("rgba", ".png", rgba_png),
    Case("la", ".png", la_png),
    Case("grayscale", ".png", lambda rgb: encode(Image.fromarray(gray(rgb)), "PNG")),
    Case("palette", ".png", palette_png),
    Case("palette_transparent", ".png", lambda rgb: palette_png(rgb, transparency=True)),
    Case("gray16", ".png", png16),
    Case("cmyk", ".jpg", cmyk_jpeg),
    Case("exif6", ".jpg", exif_jpeg(6), size=EXIF_SIZE),
    Case("exif8", ".jpg", exif_jpeg(8), size=EXIF_SIZE),
    Case("animated", ".gif", animated_gif),
)

BAD_CASES: tuple[Case, ...] = (
    Case("empty", ".png", lambda rgb: b"", error="empty"),
    Case("text", ".jpg", lambda rgb: b"name,emotion\nalice,happy\n", error="not an image"),
    Case("truncated", ".jpg", truncated_jpeg, error="truncated|damaged"),
    Case("corrupt", ".png", corrupt_png, error="damaged|corrupt|could not be"),
    Case("bomb", ".png", bomb_png, error="100000x100000|too large"),
    Case("tiny", ".png", tiny_png, error=f"{TINY_SIDE}x{TINY_SIDE}.*at least"),
)


def face_tile(astronaut: np.ndarray, side: int) -> np.ndarray:
    """The astronaut's face region resized so that its longer side is `side` pixels."""
    region = Image.fromarray(astronaut).crop(FACE_REGION)
    scale = side / max(region.size)
    return np.asarray(region.resize((round(region.width * scale), round(region.height * scale))))


def crowd(astronaut: np.ndarray, rows: int = 6, cols: int = 6, tile: int = 100) -> np.ndarray:
    """rows x cols copies of the face on a grey canvas (faces ~ tile/2 px wide)."""
    face = face_tile(astronaut, tile)
    height, width = face.shape[:2]
    canvas = np.full((rows * height, cols * width, 3), 128, np.uint8)
    for row in range(rows):
        for col in range(cols):
            canvas[row * height : (row + 1) * height, col * width : (col + 1) * width] = face
    return canvas


def multi_face(astronaut: np.ndarray, sides: tuple[int, ...] = (240, 170, 120)) -> tuple[np.ndarray, list[tuple]]:
    """Copies of the face at several scales side by side; also returns where each copy was pasted (x, y, w, h)."""
    tiles = [face_tile(astronaut, side) for side in sides]
    gap = 40
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) + 1)
    height = max(t.shape[0] for t in tiles) + 2 * gap
    canvas = np.full((height, width, 3), 200, np.uint8)
    placed, x = [], gap
    for t in tiles:
        canvas[gap : gap + t.shape[0], x : x + t.shape[1]] = t
        placed.append((x, gap, t.shape[1], t.shape[0]))
        x += t.shape[1] + gap
    return canvas, placed


def blank(side: int = 256) -> np.ndarray:
    return np.full((side, side, 3), 230, np.uint8)
