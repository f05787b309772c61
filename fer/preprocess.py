"""The one preprocessing path from a face in an image to the model's input (serving and training)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

DEFAULT_MARGIN = -0.09  # FER2013 crops are ~9% tighter than an MTCNN box (median box side 1.10x the image, measured)


@dataclass(frozen=True)
class InputSpec:
    """What the classifier expects, read from the model's config.json (never hard-coded)."""

    size: int
    mean: float
    std: float
    margin: float = DEFAULT_MARGIN
    # the finest detail the model is shown: each crop goes down to detail x detail pixels and back up to size
    # (bilinear, antialiased), so sharp and blurry sources look alike; None shows crops as they are
    detail: int | None = None


def square_box(box: Sequence[float], margin: float) -> tuple[int, int, int, int]:
    """A square around `box` (x1, y1, x2, y2), enlarged by `margin` of its larger side, in integer pixels."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left, top = round(cx - side / 2.0), round(cy - side / 2.0)
    side_px = max(1, round(side))
    return left, top, left + side_px, top + side_px


def to_gray(region: np.ndarray) -> np.ndarray:
    """HxW uint8 gray (ITU-R BT.601 luma, rounded) of an RGB array; a gray array is returned as it is."""
    if region.ndim == 2:
        return region
    rgb = region[..., :3].astype(np.float32)
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32) + 0.5).astype(np.uint8)


def face_crop(
    image: np.ndarray,
    box: Sequence[float] | None,
    size: int,
    margin: float = DEFAULT_MARGIN,
) -> np.ndarray:
    """Crop a square face (with margin, edge-padded past the border), grayscale, resize to size x size uint8.

    `image` is HxWx3 RGB or HxW gray uint8; `box` is (x1, y1, x2, y2) in its pixels, or None for an image
    that is already a face crop (a dataset image), which is then only squared, grayscaled and resized.
    """
    height, width = image.shape[:2]
    if box is None:
        left, top, right, bottom = square_box((0, 0, width, height), 0.0)
    else:
        left, top, right, bottom = square_box(box, margin)
    x1, y1, x2, y2 = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"Face box {tuple(box or ())} lies outside the {width}x{height} image.")
    region = to_gray(image[y1:y2, x1:x2])
    pad = ((y1 - top, bottom - y2), (x1 - left, right - x2))
    if any(p for pair in pad for p in pair):
        region = np.pad(region, pad, mode="edge")
    # np.array, not asarray: a writable copy, which torch.from_numpy takes without a warning
    return np.array(Image.fromarray(region).resize((size, size), Image.BILINEAR, reducing_gap=2.0))


@lru_cache(maxsize=8)
def detail_operator(size: int, detail: int) -> torch.Tensor:
    """The (size, size) matrix R with which `R.T @ crop @ R` is the crop resized to detail x detail and back
    (torch's bilinear interpolation, antialiased going down), built by resizing the unit vectors: resizing is
    linear and separable, so one matrix product per side does it for a whole batch."""
    down = F.interpolate(torch.eye(size).view(size, 1, 1, size), (1, detail), mode="bilinear", antialias=True)
    up = F.interpolate(torch.eye(detail).view(detail, 1, 1, detail), (1, size), mode="bilinear")
    return down.view(size, detail) @ up.view(detail, size)


def limit_detail(x: torch.Tensor, detail: int | None) -> torch.Tensor:
    """Float crops (..., H, W), H == W, with no detail finer than `detail` pixels across (None: unchanged)."""
    size = x.shape[-1]
    if detail is None or detail >= size:
        return x
    operator = detail_operator(size, detail)
    return operator.T @ x @ operator


def normalize(crops: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """uint8 (or 0..1 float) crops of shape (..., H, W) to the model's normalised float input (..., 1, H, W),
    limited to the spec's detail."""
    x = crops.float() / 255.0 if crops.dtype == torch.uint8 else crops.float()
    return ((limit_detail(x, spec.detail) - spec.mean) / spec.std).unsqueeze(-3)


def faces_batch(image: np.ndarray, boxes: Sequence[Sequence[float]], spec: InputSpec) -> torch.Tensor:
    """All faces of one image as one N x 1 x size x size batch."""
    if not boxes:
        return torch.empty(0, 1, spec.size, spec.size)
    crops = np.stack([face_crop(image, box, spec.size, spec.margin) for box in boxes])
    return normalize(torch.from_numpy(crops), spec)
