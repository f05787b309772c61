"""A clip's faces: track and classify every face of every processed frame (as the webcam does); the results."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from fer.detect import DetectorOptions, FaceDetector
from fer.faces import DIGITS, face_json
from fer.identity import identify
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.runtime import Backend
from fer.stream import StreamProcessor
from fer.tracking import SMOOTHING_WINDOW
from fer.video.io import VideoError, VideoInfo, VideoWriter, probe, read_frames

MAX_STRIDE = 30
TRUNCATED_TOLERANCE = 0.02  # a clip decoding to fewer of the frames its container states is refused as truncated
# Clip faces are often smaller than webcam faces: from 32 px, found on a copy up to 1280 px (1080p and 4K frames).
# Detecting on one processed frame in 3 (the frames between re-classify the last boxes) keeps 640x360 near real time.
VIDEO_OPTIONS = DetectorOptions(min_face_size=32, max_side=1280, pad_retries=())  # frames: one look each
VIDEO_DETECT_EVERY = 3

Progress = Callable[[int, int | None], None]  # (frames read, total frames if known)


@dataclass
class FaceRow:
    """One tracked face in one processed frame; probabilities are smoothed over the track (as in the webcam tab)."""

    time_s: float
    frame: int
    face_id: int
    box: tuple[float, float, float, float]
    score: float
    probabilities: dict[str, float]
    emotion: str

    def csv_row(self) -> dict:
        x1, y1, x2, y2 = (round(v, 1) for v in self.box)
        probabilities = {name: round(self.probabilities[name], DIGITS) for name in EMOTIONS}
        return {
            "time_s": round(self.time_s, 3),
            "frame": self.frame,
            "face_id": self.face_id,
            "x1": x1,
            "y1": y1,
            "x2": x2,
            "y2": y2,
            "score": round(self.score, DIGITS),
            **probabilities,
            "emotion": self.emotion,
        }


@dataclass
class VideoResult:
    """Everything measured on a clip: one FaceRow per face per processed frame, and how long it took."""

    info: VideoInfo
    model_id: str
    stride: int
    detect_every: int
    frames_read: int = 0
    frames: list[tuple[int, float]] = field(default_factory=list)  # (frame index, time s) of processed frames
    rows: list[FaceRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Clip frames consumed per second of processing (compare with the clip's own fps for real time)."""
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0

    def faces(self) -> list[dict]:
        """Per tracked face: when it is seen, in how many processed frames, its mean probabilities."""
        summary = []
        for face_id in sorted({row.face_id for row in self.rows}):
            rows = [row for row in self.rows if row.face_id == face_id]
            mean = np.mean([[row.probabilities[name] for name in EMOTIONS] for row in rows], axis=0)
            summary.append(
                {
                    "id": face_id,
                    "first_s": round(rows[0].time_s, 3),
                    "last_s": round(rows[-1].time_s, 3),
                    "frames": len(rows),
                    "emotion": EMOTIONS[int(mean.argmax())],
                    "mean_probabilities": {n: round(float(p), DIGITS) for n, p in zip(EMOTIONS, mean, strict=True)},
                }
            )
        return summary

    def summary(self) -> dict:
        """The JSON summary (what /analyze_video returns): clip, settings, speed and one entry per face."""
        return {
            "video": self.info.to_dict(),
            "model": self.model_id,
            "stride": self.stride,
            "detect_every": self.detect_every,
            "smoothing_window": SMOOTHING_WINDOW,
            "frames_read": self.frames_read,
            "frames_processed": len(self.frames),
            "processing_s": round(self.seconds, 2),
            "processing_fps": round(self.fps, 2),
            "faces": self.faces(),
        }

    def to_json(self) -> dict:
        """The summary plus every processed frame with its faces: {id, **the one face JSON} (fer/faces.py)."""
        by_frame: dict[int, list[dict]] = {}
        for row in self.rows:
            face = face_json(row.box, row.score, row.emotion, {n: row.probabilities[n] for n in EMOTIONS})
            by_frame.setdefault(row.frame, []).append({"id": row.face_id, **face})
        frames = [{"frame": index, "time_s": round(t, 3), "faces": by_frame.get(index, [])} for index, t in self.frames]
        return {**self.summary(), "frames": frames}


@lru_cache(maxsize=2)
def video_detector(options: DetectorOptions = VIDEO_OPTIONS, backend: Backend | None = None) -> FaceDetector:
    """One detector per settings and backend, shared (its state is only its settings)."""
    return FaceDetector(options, backend=backend)


def analyze_video(
    path: str | os.PathLike,
    recognizer: EmotionRecognizer,
    out_video: str | os.PathLike | None = None,
    stride: int = 1,
    detect_every: int = VIDEO_DETECT_EVERY,
    detector: FaceDetector | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> VideoResult:
    """Track and classify every face of every `stride`-th frame; write the annotated frames to `out_video` (mp4).

    The output holds the processed frames only, at fps / stride, so it lasts as long as the clip. Raises
    VideoError for a clip that cannot be used; `out_video` is then removed (use `staged` for all-or-nothing).
    `name` is how messages and the summary name the clip (default: the path as given)."""
    if not 1 <= stride <= MAX_STRIDE:
        raise VideoError(f"The frame stride must be between 1 and {MAX_STRIDE}, got {stride}.")
    info = probe(path, name)
    processor = StreamProcessor(
        recognizer,
        detector or video_detector(backend=recognizer.backend),
        detect_every,
        stale_s=None,
        annotate=out_video is not None,
    )
    result = VideoResult(info, identify(recognizer.model_id).id, stride, detect_every)
    rate = Fraction(info.fps or 25).limit_denominator(1001) / stride
    writer = VideoWriter(out_video, rate, audio_from=path) if out_video is not None else None
    start = time.perf_counter()
    try:
        for index, seconds, rgb in read_frames(path, info, stride):
            result.frames_read = index + 1
            if rgb is not None:
                frame = processor.process(rgb)
                result.frames.append((index, seconds))
                result.rows += [
                    FaceRow(
                        seconds,
                        index,
                        face.id,
                        face.prediction.box,
                        face.prediction.score,
                        face.prediction.probabilities,
                        face.prediction.emotion,
                    )
                    for face in frame.faces
                ]
                if writer is not None:
                    writer.write(frame.image)
            if progress is not None:
                progress(result.frames_read, info.expected_frames)
        if not result.frames:
            raise VideoError(f"'{info.name}' has no decodable video frame (zero-length or corrupt clip).")
        if info.frames and result.frames_read < info.frames * (1 - TRUNCATED_TOLERANCE) - 1:
            raise VideoError(
                f"'{info.name}' is truncated or damaged: {result.frames_read} of its {info.frames} frames could be "
                "decoded. Re-export or re-download it."
            )
    except BaseException:
        if writer is not None:
            writer.abort()
            Path(out_video).unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    result.seconds = time.perf_counter() - start
    return result
