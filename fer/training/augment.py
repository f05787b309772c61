"""Training augmentation on whole batches of uint8 crops: one affine warp, photometry, resolution, erasing;
mixup of images and targets.

Per-sample torchvision transforms cost more than the forward/backward pass on a 2-core CPU; here every
random choice is drawn for the batch at once and applied with one `grid_sample`, at about twice the speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fer.preprocess import InputSpec, normalize


@dataclass(frozen=True)
class AugmentConfig:
    scale_min: float = 0.7  # smallest area fraction of the random crop
    rotation: float = 15.0  # degrees, either way
    brightness: float = 0.4
    contrast: float = 0.4
    low_res: float = 0.3  # fraction of faces shown at a lower resolution (domains differ in sharpness)
    low_res_min: int = 20  # smallest side, in pixels, of such a face
    low_res_max: int | None = None  # largest side (None: the crop size)
    erasing: float = 0.25  # fraction of faces with a random rectangle erased


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _warp(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Random resized crop (aspect 0.85..1.15), horizontal flip and rotation as one affine map per face."""
    n = len(x)
    area = _uniform(n, config.scale_min, 1.0, generator)
    aspect = torch.exp(_uniform(n, math.log(0.85), math.log(1.15), generator))
    sx, sy = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    tx, ty = (1 - sx) * _uniform(n, -1, 1, generator), (1 - sy) * _uniform(n, -1, 1, generator)
    angle = _uniform(n, -config.rotation, config.rotation, generator) * math.pi / 180
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos * sx * flip, -sin * sy, tx], 1), torch.stack([sin * sx * flip, cos * sy, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _photometry(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    n = len(x)
    brightness = _uniform(n, 1 - config.brightness, 1 + config.brightness, generator).view(n, 1, 1, 1)
    contrast = _uniform(n, 1 - config.contrast, 1 + config.contrast, generator).view(n, 1, 1, 1)
    x = (x * brightness).clamp(0, 1)
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean).clamp(0, 1)


def _low_res(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """A random part of the batch down to one random side and back up: sharp and blurry faces look alike."""
    picked = torch.nonzero(torch.rand(len(x), generator=generator) < config.low_res).flatten()
    size = x.shape[-1]
    largest = min(size, config.low_res_max or size)
    if len(picked) == 0 or config.low_res_min >= largest:
        return x
    side = int(torch.randint(config.low_res_min, largest, (1,), generator=generator))
    small = F.interpolate(x[picked], size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    x = x.clone()
    x[picked] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return x


def _erase(x: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Zero (the normalised mean) a rectangle of 2-15% of the area in a random part of the batch."""
    n, _, h, w = x.shape
    area = _uniform(n, 0.02, 0.15, generator) * h * w
    aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), generator))
    eh = (area * aspect).sqrt().clamp(1, h - 1).long()
    ew = (area / aspect).sqrt().clamp(1, w - 1).long()
    top = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    in_rows = (rows >= top.view(n, 1, 1)) & (rows < (top + eh).view(n, 1, 1))
    in_cols = (cols >= left.view(n, 1, 1)) & (cols < (left + ew).view(n, 1, 1))
    inside = in_rows & in_cols & (torch.rand(n, generator=generator) < probability).view(n, 1, 1)
    return x.masked_fill(inside.unsqueeze(1), 0.0)


def augment_batch(
    crops: torch.Tensor, spec: InputSpec, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """uint8 crops (N, size, size) -> augmented, normalised model input (N, 1, size, size)."""
    x = crops.float().unsqueeze(1) / 255.0
    x = _low_res(_photometry(_warp(x, config, generator), config, generator), config, generator)
    return _erase(normalize(x.squeeze(1), spec), config.erasing, generator)


def mixup(
    images: torch.Tensor, targets: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend each face and its target with the batch's reverse by one Beta(alpha, alpha) weight (Zhang et al.
    2018). The weight is at least 0.5, so each image's own face stays the main one."""
    keep = float(rng.beta(alpha, alpha))
    keep = max(keep, 1.0 - keep)
    return images.lerp(images.flip(0), 1.0 - keep), targets.lerp(targets.flip(0), 1.0 - keep)
