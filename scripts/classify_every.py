"""What classifying a followed face on fewer frames costs in labels and saves in time, on the same frames.

    python scripts/classify_every.py [--clip CLIP] [--frames N] [--every 1 2 3] [--backend onnx|torch]

The webcam path (fer.stream.StreamProcessor, webcam detector settings) runs over the clip's frames (letterboxed to
640x480, read once) with each `classify_every`; the boxes and ids do not depend on it, so each face of each frame
is compared with the same face classified on every frame: the label shown (smoothed), and the largest difference
of a shown probability. Time is the mean of `process` per frame, annotation included.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer.bench.latency import WEBCAM_CLIP, clip_frames, load_recognizer, table  # noqa: E402
from fer.labels import EMOTIONS  # noqa: E402
from fer.recognizer import EmotionRecognizer  # noqa: E402
from fer.runtime import BACKENDS, glue_threads, torch_threads  # noqa: E402
from fer.stream import StreamProcessor, TrackingOptions  # noqa: E402
from fer.tracking import TrackedFace  # noqa: E402


@dataclass
class Run:
    """One pass over the frames: each frame's faces, the seconds each frame took, the classifier's face count."""

    faces: list[list[TrackedFace]]
    seconds: list[float]
    classified: int


def run(recognizer: EmotionRecognizer, frames: list[np.ndarray], every: int) -> Run:
    stream = StreamProcessor(recognizer, stale_s=None, options=TrackingOptions(classify_every=every))
    classified = 0
    predict_faces = recognizer.predict_faces

    def counted(frame, faces):
        nonlocal classified
        classified += len(faces)
        return predict_faces(frame, faces)

    recognizer.predict_faces = counted
    faces, seconds = [], []
    try:
        for frame in frames:
            start = time.perf_counter()
            faces.append(stream.process(frame).faces)
            seconds.append(time.perf_counter() - start)
    finally:
        del recognizer.predict_faces
    return Run(faces, seconds, classified)


def compare(reference: Run, other: Run) -> tuple[float, float]:
    """(share of faces shown with the reference's label, largest shown-probability difference)."""
    same, total, worst = 0, 0, 0.0
    for expected, found in zip(reference.faces, other.faces, strict=True):
        by_id = {face.id: face.prediction for face in found}
        for face in expected:
            total += 1
            mine = by_id[face.id]  # the same boxes and ids: classification does not steer the tracking
            same += mine.emotion == face.prediction.emotion
            difference = max(abs(mine.probabilities[e] - face.prediction.probabilities[e]) for e in EMOTIONS)
            worst = max(worst, difference)
    return (same / total if total else 1.0), worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=WEBCAM_CLIP)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    args = parser.parse_args()
    recognizer = load_recognizer(None, args.backend)
    frames = list(clip_frames(args.clip, args.frames))
    with torch_threads(glue_threads(recognizer.backend)):
        run(recognizer, frames[:10], 1)  # warm-up
        runs = {every: run(recognizer, frames, every) for every in sorted({1, *args.every})}
    reference = runs[1]
    faces = sum(len(f) for f in reference.faces)
    print(f"{recognizer.model_id}, {recognizer.runtime}; {len(frames)} frames of {args.clip.name}, {faces} faces\n")
    rows = []
    for every, measured in runs.items():
        labels, worst = compare(reference, measured)
        mean_ms = float(np.mean(measured.seconds)) * 1000
        rows.append(
            [
                str(every),
                f"{mean_ms:.1f}",
                f"{1000 / mean_ms:.1f}",
                f"{measured.classified / faces:.2f}" if faces else "-",
                f"{labels:.1%}",
                f"{worst:.3f}",
            ]
        )
    headers = ["classify every", "ms per frame", "frames/s", "classified per face", "labels as every frame", "worst p"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
