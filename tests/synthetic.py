"""A tiny folder dataset of drawn shapes, one shape per emotion, with the traps a real dataset has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# folder names on purpose mix cases and aliases; "contempt" is not one of the 7 classes
FOLDERS = {"Anger": 0, "disgust": 1, "FEAR": 2, "happiness": 3, "sadness": 4, "surprised": 5, "neutral": 6}
SIDE = 48


def shape_image(kind: int, rng: np.random.Generator) -> Image.Image:
    """A 48x48 grayscale image of shape `kind` (0-6) at a jittered position, with noise."""
    image = Image.new("L", (SIDE, SIDE), int(rng.integers(20, 60)))
    draw = ImageDraw.Draw(image)
    c = SIDE / 2 + rng.uniform(-4, 4, size=2)
    r = rng.uniform(10, 15)
    box = (c[0] - r, c[1] - r, c[0] + r, c[1] + r)
    fill = int(rng.integers(180, 250))
    if kind == 0:
        draw.ellipse(box, fill=fill)
    elif kind == 1:
        draw.rectangle(box, fill=fill)
    elif kind == 2:
        draw.polygon([(c[0], c[1] - r), (c[0] - r, c[1] + r), (c[0] + r, c[1] + r)], fill=fill)
    elif kind == 3:
        draw.line((box[0], c[1], box[2], c[1]), fill=fill, width=6)
    elif kind == 4:
        draw.line((c[0], box[1], c[0], box[3]), fill=fill, width=6)
    elif kind == 5:
        draw.ellipse(box, outline=fill, width=4)
    else:
        draw.line((box[0], box[1], box[2], box[3]), fill=fill, width=6)
        draw.line((box[0], box[3], box[2], box[1]), fill=fill, width=6)
    noise = rng.normal(0, 8, (SIDE, SIDE))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def make_dataset(root: Path, per_class: dict[str, int] | None = None, seed: int = 0) -> Path:
    """root/{train,val,test}/<folder>/*.png plus a contempt folder and one corrupt file in train."""
    per_class = per_class or {"train": 24, "val": 6, "test": 6}
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for folder, kind in FOLDERS.items():
            out = root / split / folder
            out.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                shape_image(kind, rng).save(out / f"{split}_{folder}_{i:03d}.png")
        contempt = root / split / "contempt"
        contempt.mkdir(exist_ok=True)
        for i in range(3):
            shape_image(0, rng).save(contempt / f"{split}_contempt_{i}.png")
    (root / "train" / "happiness" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root
