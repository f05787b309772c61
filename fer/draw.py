"""Boxes and emotion labels drawn on an image."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer.recognizer import FacePrediction

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


def label_text(face: FacePrediction, face_id: int | None = None) -> str:
    prefix = f"#{face_id} " if face_id is not None else ""
    return f"{prefix}{face.emotion} {face.probabilities[face.emotion]:.0%}"


def draw_faces(image: np.ndarray, faces: Sequence[FacePrediction], ids: Sequence[int] | None = None) -> np.ndarray:
    """A copy of the RGB image with each face's box and 'emotion NN%' label."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    scale = max(canvas.size) / 640
    width = max(2, round(2 * scale))
    font = _font(max(12, round(16 * scale)))
    for index, face in enumerate(faces):
        color = COLORS.get(face.emotion, (255, 255, 255))
        x1, y1, x2, y2 = face.box
        draw.rectangle((x1, y1, x2, y2), outline=color, width=width)
        text = label_text(face, None if ids is None else ids[index])
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_w, label_h = right - left + 2 * width, bottom - top + 2 * width
        x, y = label_corner(face.box, (label_w, label_h), canvas.size)
        draw.rectangle((x, y, x + label_w, y + label_h), fill=color)
        draw.text((x + width - left, y + width - top), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def label_corner(box: Sequence[float], label: tuple[float, float], image: tuple[int, int]) -> tuple[float, float]:
    """Top-left corner of a label (w, h) for a box in an image (w, h): above the box, else below it, else inside
    its top; moved left or right (and down or up) so the whole label stays inside the image."""
    (x1, y1, _, y2), (label_w, label_h), (width, height) = box, label, image
    if y1 - label_h >= 0:
        y = y1 - label_h
    elif y2 + label_h <= height:
        y = y2
    else:
        y = y1
    x = min(max(x1, 0.0), width - label_w)
    return max(0.0, x), min(max(0.0, y), max(0.0, height - label_h))
