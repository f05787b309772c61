"""Frame-by-frame processing for live streams and clips: detect now and then, follow faces in between, track."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from fer.detect import Face, FaceDetector
from fer.draw import draw_faces
from fer.recognizer import EmotionRecognizer
from fer.scene import MOTION_CHANGE, NEW_FACE_CHANGE, SceneWatch
from fer.tracking import IOU_MATCH, MAX_MISSING, FaceTracker, TrackedFace, iou

DETECT_EVERY = 3  # the detector runs on one frame in this many at least; the frames between follow the last boxes
# A followed face is classified on one frame in this many at least (a new face at once); in between it keeps its
# last probabilities (fer.tracking). Labels on the Hamilton clip: scripts/classify_every.py, docs/performance.md.
CLASSIFY_EVERY = 2
FPS_WINDOW = 15  # frames over which frames/s and the time per frame are measured
STALE_S = 2.0  # a gap this long between frames means a new stream: tracks and timings are forgotten
KEEP_SCORE = 0.9  # O-Net score a followed box needs to stay (the detector's own minimum)
# Detector score a face needs to start a track (to overlap no box of the last frame); a face already followed
# needs only the detector's minimum. Most boxes on no face in the clips (fer.bench --tracking) were such new
# detections scoring 0.90-0.93 (hands, a coat) and gone a frame later; real faces mostly start above 0.95.
NEW_SCORE = 0.95


@dataclass(frozen=True)
class TrackingOptions:
    """How faces are followed between detector runs."""

    detect_every: int = DETECT_EVERY
    follow: bool = True  # move each box with O-Net every frame, drop it when it no longer holds a face
    keep_score: float = KEEP_SCORE
    new_score: float = NEW_SCORE  # detector score a face overlapping no box of the last frame needs to be drawn
    follow_passes: int = 1  # O-Net passes per followed box
    motion: float = MOTION_CHANGE  # thumbnail change (fer.scene) that makes the detector run at once
    new_face: float = NEW_FACE_CHANGE  # change of a thumbnail region away from the followed faces: detect at once
    scene: bool = True  # restart the tracks on a scene cut; detect at once on a cut, on motion, after a lost face
    max_missing: int = 0  # frames a track survives without its face (followed faces are never missing by a blink)
    classify_every: int = CLASSIFY_EVERY  # a followed face is classified on one frame in this many (1: every frame)


# The path before issue 12: boxes frozen between detections, tracks kept MAX_MISSING frames, no cut detection.
FROZEN = TrackingOptions(follow=False, scene=False, max_missing=MAX_MISSING)


@dataclass
class FrameResult:
    """One processed frame: the annotated image, the tracked faces (smoothed), and timings."""

    image: np.ndarray
    faces: list[TrackedFace]
    detected: bool  # whether the detector ran on this frame (else the previous boxes were followed)
    latency_s: float  # this frame
    fps: float
    mean_latency_s: float  # per frame over the last FPS_WINDOW frames (detector runs included)
    cut: bool = False  # a scene cut was seen: tracks restarted


class FpsMeter:
    """Frames per second and mean time per frame over the last `window` frames."""

    def __init__(self, window: int = FPS_WINDOW):
        self.times: deque[float] = deque(maxlen=window)
        self.latencies: deque[float] = deque(maxlen=window)

    def tick(self, now: float, latency_s: float = 0.0) -> float:
        self.times.append(now)
        self.latencies.append(latency_s)
        return self.fps

    @property
    def fps(self) -> float:
        span = self.times[-1] - self.times[0] if self.times else 0.0
        return (len(self.times) - 1) / span if span > 0 else 0.0

    @property
    def mean_latency_s(self) -> float:
        return sum(self.latencies) / len(self.latencies) if self.latencies else 0.0

    def reset(self) -> None:
        self.times.clear()
        self.latencies.clear()


def unmatched(faces: list[Face], others: list[Face], overlap: float = IOU_MATCH) -> list[Face]:
    """The faces that overlap none of `others` by `overlap` IoU or more."""
    return [face for face in faces if all(iou(face.box, other.box) < overlap for other in others)]


class StreamProcessor:
    """`StreamProcessor(recognizer).process(frame)` -> FrameResult; one instance per stream (it holds the tracks).

    The detector runs every `detect_every`-th frame, on a new frame size, and (with `scene`) at once on a scene
    cut, on motion, on a change away from the followed faces (a face may have entered), or after a followed face
    was lost. In between, each face's box is moved onto the face by MTCNN's O-Net and dropped when O-Net no longer
    sees a face there (`follow`). On a detector frame, a followed face the detector missed stays if O-Net still
    sees it. A detection away from the last frame's boxes starts a track only with a score of `new_score`. A cut
    restarts the tracks (new ids). The faces due for classification (a new face, or a followed one every
    `classify_every` frames) are classified in one batch; probabilities are smoothed per tracked face (fer.tracking).
    """

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        detector: FaceDetector | None = None,
        detect_every: int | None = None,
        stale_s: float | None = STALE_S,
        annotate: bool = True,
        options: TrackingOptions | None = None,
    ):
        options = options or TrackingOptions()
        if detect_every is not None:
            options = replace(options, detect_every=detect_every)
        if options.detect_every < 1 or options.classify_every < 1:
            raise ValueError(
                f"detect_every and classify_every must be at least 1, got {options.detect_every}"
                f" and {options.classify_every}."
            )
        self.recognizer = recognizer
        self.detector = detector or recognizer.detector
        self.options, self.stale_s, self.annotate = options, stale_s, annotate
        self.tracker = FaceTracker(max_missing=options.max_missing)
        self.scene = SceneWatch(motion=options.motion)
        self.meter = FpsMeter()
        self._faces: list[Face] = []
        self._since_detect = 0
        self._shape: tuple[int, ...] | None = None
        self._last: float | None = None

    @property
    def detect_every(self) -> int:
        return self.options.detect_every

    def reset(self) -> None:
        """Forget tracks, boxes and timings (a new stream)."""
        self.tracker.reset()
        self.scene.reset()
        self.meter.reset()
        self._faces, self._since_detect, self._shape, self._last = [], 0, None, None

    def process(self, frame: np.ndarray, now: float | None = None) -> FrameResult:
        """Detect or follow the faces of an RGB frame, classify them in one batch, track, smooth and annotate."""
        start = time.perf_counter()
        now = start if now is None else now
        if self._last is not None and self.stale_s is not None and now - self._last > self.stale_s:
            self.reset()
        self._last = now
        detect = self._shape != frame.shape or self._since_detect >= self.options.detect_every
        cut = False
        if self.options.scene:
            change = self.scene.update(frame)
            cut = change.cut and self._shape == frame.shape
            entered = change.changed_outside([face.box for face in self._faces], frame.shape, self.options.new_face)
            detect = detect or change.cut or change.motion or entered
            if cut:
                self.tracker.end_tracks()
                self._faces = []
        self._faces, detect = self._locate(frame, detect)
        self._shape = frame.shape
        self._since_detect = 1 if detect else self._since_detect + 1
        classify = partial(self.recognizer.predict_faces, frame)
        tracked = self.tracker.update(self._faces, classify, self.options.classify_every)
        image = frame
        if self.annotate:
            image = draw_faces(frame, [face.prediction for face in tracked], ids=[face.id for face in tracked])
        latency = time.perf_counter() - start
        fps = self.meter.tick(now, latency)
        return FrameResult(image, tracked, detect, latency, fps, self.meter.mean_latency_s, cut)

    def _locate(self, frame: np.ndarray, detect: bool) -> tuple[list[Face], bool]:
        """(this frame's faces, whether the detector ran): the followed faces, with the detector's when `detect`
        or when a followed face was lost (then a face the detector misses stays if O-Net still sees it; a new face
        needs `new_score`)."""
        if not self.options.follow:
            return (self.detector.detect(frame) if detect else self._faces), detect
        followed = self._follow(frame, self._faces) if self._shape == frame.shape else []
        if not detect and len(followed) == len(self._faces):
            return followed, False
        known = followed + self._faces  # a detection overlapping none of them would start a track
        found = [
            face
            for face in self.detector.detect(frame)
            if face.score >= self.options.new_score or not unmatched([face], known)
        ]
        return found + unmatched(followed, found), True

    def _follow(self, frame: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces moved by O-Net, without those that no longer hold a face."""
        kept: list[Face] = []
        for face in self.detector.refine(frame, [f.box for f in faces], self.options.follow_passes):
            if self._holds_face(face, frame.shape) and unmatched([face], kept):  # two boxes on one face: one stays
                kept.append(face)
        return kept

    def _holds_face(self, face: Face, shape: tuple[int, ...]) -> bool:
        height, width = shape[:2]
        x1, y1, x2, y2 = face.box
        inside = min(x2, width) - max(x1, 0.0) > 0 and min(y2, height) - max(y1, 0.0) > 0
        return inside and face.score >= self.options.keep_score
