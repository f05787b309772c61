"""Boxes and emotion labels drawn on an image."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer.faces import FacePrediction

Box = tuple[float, float, float, float]  # x1, y1, x2, y2

COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (230, 57, 70),
    "disgust": (106, 153, 78),
    "fear": (155, 93, 229),
    "happy": (255, 190, 11),
    "sad": (58, 134, 255),
    "surprise": (255, 112, 166),
    "neutral": (200, 200, 200),
}


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The label font at `size` px, loaded once (not on every frame)."""
    return ImageFont.load_default(size=size)


def percent(probability: float) -> str:
    """How a probability is shown everywhere (labels, tables, the live line): '76%'."""
    return f"{probability:.0%}"


def label_text(face: FacePrediction, face_id: int | None = None) -> str:
    prefix = f"#{face_id} " if face_id is not None else ""
    return f"{prefix}{face.emotion} {percent(face.probabilities[face.emotion])}"


def _overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, width) * max(0.0, height)


def place_labels(
    boxes: Sequence[Box], sizes: Sequence[Sequence[tuple[int, int]]], image_size: tuple[int, int]
) -> list[tuple[Box, int]]:
    """Where each face's label goes: a rectangle of one of `sizes[i]` (w, h: the full label, then shorter ones)
    above, below or inside the top or bottom of its box, aligned left, right or centred. The first size that
    covers none of the other faces' boxes and labels already placed is taken, else the one covering least.
    Returns (rectangle, index of the size used) per face."""
    image_w, image_h = image_size
    placed: list[tuple[Box, int]] = []
    for index, ((x1, y1, x2, y2), options) in enumerate(zip(boxes, sizes, strict=True)):
        others = [box for other, box in enumerate(boxes) if other != index] + [rect for rect, _ in placed]
        best: tuple[float, int, Box] | None = None
        for choice, (w, h) in enumerate(options):
            tops = [top for top in (y1 - h, y2, y1, y2 - h) if 0 <= top <= image_h - h] or [
                max(0.0, min(y1, image_h - h))
            ]
            lefts = [min(max(0.0, left), max(0.0, image_w - w)) for left in (x1, x2 - w, (x1 + x2 - w) / 2)]
            for top in tops:
                for left in lefts:
                    rect = (left, top, left + w, top + h)
                    cover = sum(_overlap(rect, other) for other in others)
                    if best is None or cover < best[0]:
                        best = (cover, choice, rect)
            if best[0] == 0:
                break
        placed.append((best[2], best[1]))
    return placed


def draw_faces(image: np.ndarray, faces: Sequence[FacePrediction], ids: Sequence[int] | None = None) -> np.ndarray:
    """A copy of the RGB image with each face's box and '#id emotion NN%' label; `ids` defaults to 1, 2, ... in
    the order given (as the app's table and `fer predict`'s lines number them). Labels avoid the other faces;
    where a full label cannot, it is shortened to the face's number (the Upload tab's table has the rest)."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    scale = max(canvas.size) / 640
    width = max(2, round(2 * scale))
    font = _font(max(12, round(16 * scale)))
    ids = range(1, len(faces) + 1) if ids is None else ids
    texts = [(label_text(face, face_id), f"#{face_id}") for face, face_id in zip(faces, ids, strict=True)]
    extents = [[draw.textbbox((0, 0), text, font=font) for text in options] for options in texts]
    sizes = [[(x2 - x1 + 2 * width, y2 - y1 + 2 * width) for x1, y1, x2, y2 in options] for options in extents]
    labels = place_labels([face.box for face in faces], sizes, canvas.size)
    for face in faces:
        draw.rectangle(face.box, outline=COLORS.get(face.emotion, (255, 255, 255)), width=width)
    for face, options, extent, ((x1, y1, x2, y2), choice) in zip(faces, texts, extents, labels, strict=True):
        draw.rectangle((x1, y1, x2, y2), fill=COLORS.get(face.emotion, (255, 255, 255)))
        draw.text((x1 + width, y1 + width - extent[choice][1]), options[choice], fill=(0, 0, 0), font=font)
    return np.asarray(canvas)
