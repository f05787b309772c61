"""Face identity across frames (greedy IoU matching) and probability smoothing per tracked face."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import compress

import numpy as np

from fer.faces import Face, FacePrediction
from fer.labels import EMOTIONS

SMOOTHING_WINDOW = 5  # frames averaged per face: long enough to stop flicker, short enough to follow a smile
IOU_MATCH = 0.3
MAX_MISSING = 10  # frames a face may vanish (blink of the detector) and keep its id


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    history: deque = field(default_factory=lambda: deque(maxlen=SMOOTHING_WINDOW))
    missing: int = 0
    last: FacePrediction | None = None  # the last classified prediction of this face
    skipped: int = 0  # frames since it was last classified


@dataclass
class TrackedFace:
    """A face with a stable id; `prediction.probabilities` are the smoothed ones."""

    id: int
    prediction: FacePrediction
    raw: FacePrediction


Classify = Callable[[list[Face]], list[FacePrediction]]  # faces of one frame -> their predictions, in one batch


def _due(matched: list[Track | None], every: int) -> list[bool]:
    return [track is None or track.skipped + 1 >= every for track in matched]


class FaceTracker:
    """Feed each frame's predictions to `update`; get them back with ids and smoothed probabilities.

    A face need not be classified on every frame: `due` says which are, and `update` takes a bare `Face` for a face
    that keeps its track's last probabilities (moved to the new box). The smoothing is fed them again, so that its
    window spans the same frames either way (on the Hamilton clip this keeps the labels shown closer to those of
    classifying every frame: scripts/classify_every.py)."""

    def __init__(self, window: int = SMOOTHING_WINDOW, iou_match: float = IOU_MATCH, max_missing: int = MAX_MISSING):
        self.window, self.iou_match, self.max_missing = window, iou_match, max_missing
        self.tracks: list[Track] = []
        self._next_id = 1

    def _match(self, faces: list[FacePrediction]) -> list[Track | None]:
        pairs = sorted(
            ((iou(t.box, f.box), ti, fi) for ti, t in enumerate(self.tracks) for fi, f in enumerate(faces)),
            reverse=True,
        )
        matched: list[Track | None] = [None] * len(faces)
        used: set[int] = set()
        for overlap, ti, fi in pairs:
            if overlap < self.iou_match:
                break
            if ti not in used and matched[fi] is None:
                matched[fi] = self.tracks[ti]
                used.add(ti)
        return matched

    def due(self, faces: list[Face], every: int = 1) -> list[bool]:
        """Which faces to classify on this frame: one that no track holds, or whose track went `every` - 1 frames
        without being classified (`every` 1: all of them)."""
        return _due(self._match(faces), every)

    def update(self, faces: list[Face], classify: Classify | None = None, every: int = 1) -> list[TrackedFace]:
        """Match the frame's faces to the tracks and smooth. With `classify`, the faces due (see `due`) are
        classified by it in one batch; a bare Face left out keeps its track's last probabilities."""
        matched = self._match(faces)
        if classify is not None:
            due = _due(matched, every)
            predicted = iter(classify(list(compress(faces, due))))
            faces = [next(predicted) if d else face for face, d in zip(faces, due, strict=True)]
        result = []
        for face, track in zip(faces, matched, strict=True):
            if track is None:
                if not isinstance(face, FacePrediction):
                    raise ValueError("A face that no track holds must be classified (see FaceTracker.due).")
                track = Track(self._next_id, face.box, deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(track)
            track.box, track.missing = face.box, -1
            if isinstance(face, FacePrediction):
                track.last, track.skipped = face, 0
            else:
                face = replace(track.last, box=face.box, score=face.score, landmarks=face.landmarks)
                track.skipped += 1
            track.history.append(np.array([face.probabilities[e] for e in EMOTIONS]))
            mean = np.mean(track.history, axis=0)
            smoothed = dict(zip(EMOTIONS, (float(v) for v in mean), strict=False))
            emotion = EMOTIONS[int(mean.argmax())]
            result.append(TrackedFace(track.id, replace(face, probabilities=smoothed, emotion=emotion), face))
        for track in self.tracks:
            track.missing += 1
        self.tracks = [t for t in self.tracks if t.missing <= self.max_missing]
        return result

    def end_tracks(self) -> None:
        """Forget every face (a scene cut): the faces that follow get new ids."""
        self.tracks = []

    def reset(self) -> None:
        """Forget every face and start the ids again from 1 (a new stream)."""
        self.tracks, self._next_id = [], 1
