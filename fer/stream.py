"""Frame-by-frame processing for live streams and clips: detect every few frames, classify every frame, track."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from fer.detect import Face, FaceDetector
from fer.draw import draw_faces
from fer.recognizer import EmotionRecognizer
from fer.tracking import FaceTracker, TrackedFace

DETECT_EVERY = 3  # the detector runs on one frame in this many; the frames between re-classify the last boxes
FPS_WINDOW = 15  # frames over which frames/s is measured
STALE_S = 2.0  # a gap this long between frames means a new stream: tracks and timings are forgotten


@dataclass
class FrameResult:
    """One processed frame: the annotated image, the tracked faces (smoothed), and timings."""

    image: np.ndarray
    faces: list[TrackedFace]
    detected: bool  # whether the detector ran on this frame (else the previous boxes were reused)
    latency_s: float
    fps: float


class FpsMeter:
    """Frames per second over the last `window` frames."""

    def __init__(self, window: int = FPS_WINDOW):
        self.times: deque[float] = deque(maxlen=window)

    def tick(self, now: float) -> float:
        self.times.append(now)
        return self.fps

    @property
    def fps(self) -> float:
        span = self.times[-1] - self.times[0] if self.times else 0.0
        return (len(self.times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self.times.clear()


class StreamProcessor:
    """`StreamProcessor(recognizer).process(frame)` -> FrameResult; one instance per stream (it holds the tracks).

    The detector runs on every `detect_every`-th frame (and whenever the frame size changes); the frames in
    between classify the faces at their last detected boxes, so every frame gets fresh probabilities while
    detection, the costly part, is amortised. Probabilities are smoothed per tracked face (fer.tracking).
    """

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        detector: FaceDetector | None = None,
        detect_every: int = DETECT_EVERY,
        stale_s: float | None = STALE_S,
        annotate: bool = True,
    ):
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}.")
        self.recognizer = recognizer
        self.detector = detector or recognizer.detector
        self.detect_every, self.stale_s, self.annotate = detect_every, stale_s, annotate
        self.tracker = FaceTracker()
        self.meter = FpsMeter()
        self._faces: list[Face] = []
        self._since_detect = 0
        self._shape: tuple[int, ...] | None = None
        self._last: float | None = None

    def reset(self) -> None:
        """Forget tracks, boxes and timings (a new stream)."""
        self.tracker.reset()
        self.meter.reset()
        self._faces, self._since_detect, self._shape, self._last = [], 0, None, None

    def process(self, frame: np.ndarray, now: float | None = None) -> FrameResult:
        """Detect (every few frames), classify all faces in one batch, track, smooth and annotate an RGB frame."""
        start = time.perf_counter()
        now = start if now is None else now
        if self._last is not None and self.stale_s is not None and now - self._last > self.stale_s:
            self.reset()
        self._last = now
        detected = self._shape != frame.shape or self._since_detect >= self.detect_every
        if detected:
            self._faces, self._shape, self._since_detect = self.detector.detect(frame), frame.shape, 0
        self._since_detect += 1
        tracked = self.tracker.update(self.recognizer.predict_faces(frame, self._faces))
        image = frame
        if self.annotate:
            image = draw_faces(frame, [face.prediction for face in tracked], ids=[face.id for face in tracked])
        latency = time.perf_counter() - start
        return FrameResult(image, tracked, detected, latency, self.meter.tick(now))
