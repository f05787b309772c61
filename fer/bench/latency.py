"""`python -m fer.bench`: per-frame latency of the whole path (detect, crop, classify, annotate) at 640x480.

The fast path (fer.stream.StreamProcessor with the webcam detector settings) is timed next to the straightforward
baseline (MTCNN at its defaults on the full frame, one forward pass per face) in the same run, on a 1-face and a
6-face frame, after a warm-up. Frames come from ../shared/data/face_media when present, else the astronaut photo.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fer.detect import WEBCAM_OPTIONS, Face, FaceDetector
from fer.draw import draw_faces
from fer.faces import FacePrediction
from fer.images import load_rgb
from fer.labels import EMOTIONS
from fer.model import ModelInfo, new_classifier
from fer.preprocess import InputSpec
from fer.recognizer import EmotionRecognizer
from fer.runtime import Backend, glue_threads, torch_threads
from fer.stream import StreamProcessor, TrackingOptions

FRAME_SIZE = (640, 480)
DEFAULT_FRAMES = 60
DEFAULT_WARMUP = 5
MEDIA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "face_media"
ONE_FACE_PHOTO = "single_face/face_recognition_obama.jpg"
SIX_FACE_PHOTO = "multi_face/facenet_pytorch_multiface.jpg"
MULTI_FACE_DIR = "multi_face"
WEBCAM_CLIP = MEDIA_DIR / "video" / "face_recognition_short_hamilton_clip_640x360_9.2s.mp4"
ASTRONAUT_HEAD = (110, 0, 350, 260)  # head and shoulders of skimage's astronaut, tiled 3x2 for the 6-face frame
RANDOM_MODEL = "random"  # an untrained ResNet18: the same speed as the trained one, for timing before training
HEADERS = [
    "frame",
    "path",
    "median ms",
    "p90 ms",
    "CPU ms/frame",
    "median frames/s",
    "mean frames/s",
    "vs baseline (median / mean)",
    "faces",
    "labels (last frame)",
]


@dataclass
class Timing:
    """Latencies (s) and CPU seconds of the measured frames of one path on one frame."""

    scenario: str
    path: str
    latencies: list[float]
    cpu_s: float
    predictions: list[FacePrediction]  # of the last measured frame: the quality figure beside the speed

    @property
    def labels(self) -> str:
        """Each face's label and its probability, biggest face first, e.g. 'happy 97, neutral 55'."""
        return ", ".join(f"{p.emotion} {p.probabilities[p.emotion]:.0%}".rstrip("%") for p in self.predictions)

    @property
    def fps(self) -> float:
        """Throughput: frames over total time (the slow detection frames weigh in)."""
        return len(self.latencies) / sum(self.latencies)

    @property
    def median_fps(self) -> float:
        """Frames/s of the median frame."""
        return 1.0 / statistics.median(self.latencies)

    def row(self, baseline: Timing | None) -> list[str]:
        median_ms = statistics.median(self.latencies) * 1000
        p90_ms = float(np.percentile(self.latencies, 90)) * 1000
        cpu_ms = self.cpu_s / len(self.latencies) * 1000
        ratio = f"{self.median_fps / baseline.median_fps:.1f}x / {self.fps / baseline.fps:.1f}x" if baseline else "1.0x"
        return [
            self.scenario,
            self.path,
            f"{median_ms:.1f}",
            f"{p90_ms:.1f}",
            f"{cpu_ms:.1f}",
            f"{self.median_fps:.1f}",
            f"{self.fps:.1f}",
            ratio,
            str(len(self.predictions)),
            self.labels,
        ]


def letterbox(rgb: np.ndarray, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Fit a photo into a `size` frame (aspect kept), black borders, like a webcam frame."""
    return np.asarray(ImageOps.pad(Image.fromarray(rgb), size, Image.BILINEAR, color=(0, 0, 0)))


def astronaut_frames() -> tuple[np.ndarray, np.ndarray]:
    """1-face and 6-face frames made from skimage's astronaut photo (used when ../shared is absent)."""
    from skimage import data

    photo = data.astronaut()
    width, height = FRAME_SIZE
    head = Image.fromarray(photo).crop(ASTRONAUT_HEAD)
    tile = np.asarray(ImageOps.pad(head, (width // 3, height // 2), Image.BILINEAR, color=(0, 0, 0)))
    grid = np.concatenate([np.concatenate([tile] * 3, axis=1)] * 2, axis=0)
    return letterbox(photo), letterbox(grid)


def bench_frames(media: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(1-face frame, 6-face frame, where they come from)."""
    one, six = media / ONE_FACE_PHOTO, media / SIX_FACE_PHOTO
    if one.is_file() and six.is_file():
        return letterbox(load_rgb(one)), letterbox(load_rgb(six)), f"{ONE_FACE_PHOTO}, {SIX_FACE_PHOTO}"
    return *astronaut_frames(), "skimage astronaut (face_media not found)"


def clip_frames(clip: Path, limit: int) -> Iterator[np.ndarray]:
    """Up to `limit` frames of the clip, letterboxed to 640x480 (the astronaut drifting when there is no clip)."""
    if clip.is_file():
        from fer.video.io import probe, read_frames

        for index, _, frame in read_frames(clip, probe(clip)):
            if index >= limit:
                return
            yield letterbox(frame)
        return
    from skimage import data

    photo = letterbox(data.astronaut())
    for index in range(limit):
        yield np.roll(photo, 3 * index, axis=1)


def load_recognizer(model_id: str | None, backend: Backend | None = None) -> EmotionRecognizer:
    if model_id == RANDOM_MODEL:
        info = ModelInfo(RANDOM_MODEL, EMOTIONS, InputSpec(size=75, mean=0.5, std=0.25))
        return EmotionRecognizer(new_classifier(), info, FaceDetector(WEBCAM_OPTIONS, backend=backend), backend)
    return EmotionRecognizer.from_pretrained(model_id, detector_options=WEBCAM_OPTIONS, backend=backend)


class Baseline:
    """The straightforward path: MTCNN at its defaults on the full frame, one classifier forward per face, all of
    it in PyTorch (`recognizer` should run the classifier by the torch backend)."""

    def __init__(self, recognizer: EmotionRecognizer):
        from facenet_pytorch import MTCNN

        self.recognizer, self.mtcnn = recognizer, MTCNN(keep_all=True)

    def detect(self, frame: np.ndarray) -> list[Face]:
        boxes, scores = self.mtcnn.detect(frame)
        if boxes is None:
            return []
        return [Face(tuple(float(v) for v in box), float(score)) for box, score in zip(boxes, scores, strict=True)]

    def process(self, frame: np.ndarray) -> list[FacePrediction]:
        predictions = [self.recognizer.predict_faces(frame, [face])[0] for face in self.detect(frame)]
        draw_faces(frame, predictions)
        return predictions


Step = Callable[[np.ndarray], list[FacePrediction]]


def measure(step: Step, frame: np.ndarray, frames: int, warmup: int) -> tuple[list, float, list[FacePrediction]]:
    """Run `step` (returns the faces found) on fresh copies of the frame: latencies, CPU seconds, last faces."""
    for _ in range(warmup):
        step(frame.copy())
    latencies, predictions = [], []
    cpu_start = time.process_time()
    for _ in range(frames):
        incoming = frame.copy()  # a new frame arrives
        start = time.perf_counter()
        predictions = step(incoming)
        latencies.append(time.perf_counter() - start)
    return latencies, time.process_time() - cpu_start, predictions


def run(
    recognizer: EmotionRecognizer,
    baseline: Baseline,
    one: np.ndarray,
    six: np.ndarray,
    frames: int,
    warmup: int,
    options: TrackingOptions,
) -> list[list[str]]:
    """Timing rows of the baseline and the fast path (with `options`, and detecting every frame) on the 1-face
    and the 6-face frame."""
    rows = []
    for scenario, frame in (("1 face", one), ("6 faces", six)):
        base = Timing(
            scenario,
            "baseline: MTCNN defaults, full frame, 1 forward/face",
            *measure(baseline.process, frame, frames, warmup),
        )
        rows.append(base.row(None))
        for every in sorted({1, options.detect_every}):
            stream = StreamProcessor(recognizer, stale_s=None, options=replace(options, detect_every=every))
            label = "fast: 320px detect, batched" + (f", detect every {every}" if every > 1 else ", detect every frame")
            label += f", classify every {options.classify_every}" if options.classify_every > 1 else ""
            with torch_threads(glue_threads(recognizer.backend)):
                measured = measure(
                    lambda f, s=stream: [t.prediction for t in s.process(f).faces], frame, frames, warmup
                )
            fast = Timing(scenario, label, *measured)
            rows.append(fast.row(base))
    return rows


def detection_rows(recognizer: EmotionRecognizer, baseline: Baseline, media: Path) -> list[list[str]]:
    """Faces found in each multi-face photo (letterboxed to 640x480): baseline vs the fast path's detector."""
    photos = sorted((media / MULTI_FACE_DIR).glob("*.jpg"))
    frames = [(p.name, letterbox(load_rgb(p))) for p in photos] or [("astronaut x6", astronaut_frames()[1])]
    return [[name, str(len(baseline.detect(f))), str(len(recognizer.detector.detect(f)))] for name, f in frames]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
