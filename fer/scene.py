"""Scene cuts and motion between frames, from the mean absolute difference of tiny grayscale thumbnails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB_SIZE = (32, 18)  # (w, h): coarse enough to ignore noise and compression, fine enough to see a face move
# Measured on the Hamilton clip (gray levels, 0-255): its 3 cuts change a thumbnail by 26-31 whether the frames
# are 1 or 3 apart; within a shot, frames 1 apart change by at most 14, frames 3 apart by up to 23 (a close-up
# swinging through the frame), and then the change before it was as large. A cut is a large change that is also
# a jump from the change before it.
CUT_CHANGE = 18.0
CUT_JUMP = 2.0
MOTION_CHANGE = 6.0  # counts as motion (Hamilton clip, frames 1 apart: median change 3.4, p90 8.5)
GRID = (8, 6)  # (columns, rows) of regions whose changes are told apart: a face entering changes one or two
NEW_FACE_CHANGE = 20.0  # a region away from every followed face changing this much may be a new face


@dataclass
class SceneChange:
    """How a frame differs from the one before: mean absolute thumbnail difference, and the verdicts."""

    change: float
    cut: bool
    motion: bool
    regions: np.ndarray | None = None  # GRID rows x columns of mean changes (None for a first frame)

    def changed_outside(self, boxes: list[tuple[float, ...]], shape: tuple[int, ...], threshold: float) -> bool:
        """Whether a region not touching any of `boxes` (x1, y1, x2, y2 in a frame of `shape`, with a margin of
        one region) changed by `threshold` or more: something appeared or moved where no face is followed."""
        if self.regions is None:
            return True
        rows, columns = self.regions.shape
        height, width = shape[:2]
        away = np.ones_like(self.regions, dtype=bool)
        for x1, y1, x2, y2 in boxes:
            left, right = int(x1 / width * columns) - 1, int(np.ceil(x2 / width * columns)) + 1
            top, bottom = int(y1 / height * rows) - 1, int(np.ceil(y2 / height * rows)) + 1
            away[max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)] = False
        return bool((self.regions[away] >= threshold).any())


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """The frame as a THUMB_SIZE grayscale float array (box-filtered)."""
    return np.asarray(Image.fromarray(frame).convert("L").resize(THUMB_SIZE, Image.BOX), dtype=np.float32)


class SceneWatch:
    """`watch.update(frame)` -> SceneChange against the previous frame given (the first frame is a cut)."""

    def __init__(self, cut_change: float = CUT_CHANGE, cut_jump: float = CUT_JUMP, motion: float = MOTION_CHANGE):
        self.cut_change, self.cut_jump, self.motion = cut_change, cut_jump, motion
        self._thumb: np.ndarray | None = None
        self._change = 0.0

    def update(self, frame: np.ndarray) -> SceneChange:
        thumb, previous = thumbnail(frame), self._thumb
        self._thumb = thumb
        if previous is None or previous.shape != thumb.shape:
            self._change = 0.0
            return SceneChange(float("inf"), True, True)
        difference = np.abs(thumb - previous)
        change = float(difference.mean())
        cut = change >= self.cut_change and change >= self.cut_jump * self._change
        self._change = change
        columns, rows = GRID
        regions = difference.reshape(rows, THUMB_SIZE[1] // rows, columns, THUMB_SIZE[0] // columns).mean(axis=(1, 3))
        return SceneChange(change, cut, change >= self.motion, regions)

    def reset(self) -> None:
        self._thumb, self._change = None, 0.0
