"""`python -m fer.bench --tracking`: how well faces are tracked through real clips, current path vs new path.

Every processed frame of each clip is compared with a reference: facenet-pytorch's MTCNN at its defaults on the
full-resolution frame (computed once per clip and cached). Figures per clip, stride and path:

- recall: reference faces >= REF_MIN_HEIGHT px tall with p >= REF_SCORE that a drawn box overlaps by IoU >= MATCH_IOU;
- boxes on no face: drawn boxes overlapping every reference face with p >= FACE_SCORE by IoU < NO_FACE_IOU;
- id switches: a reference face (linked frame to frame by IoU within a shot) drawn under a new id;
- ids across cuts: track ids drawn both before and after a scene cut (cuts are found at stride 1: a thumbnail
  change >= REF_CUT_CHANGE between consecutive frames);
- frames/s: processed frames per second of StreamProcessor.process (detect or follow, classify, track, annotate).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.recognizer import EmotionRecognizer
from fer.scene import thumbnail
from fer.stream import FROZEN, StreamProcessor, TrackingOptions
from fer.tracking import iou
from fer.video.analysis import video_detector
from fer.video.io import probe, read_frames

CLIPS = ("face_recognition_short_hamilton_clip_640x360_9.2s.mp4", "facenet_pytorch_video_1920x1080_4.2s.mp4")
STRIDES = (1, 3)
PATHS = {"current (frozen boxes)": FROZEN, "new (O-Net follow, cuts, motion)": TrackingOptions()}
REF_MIN_HEIGHT, REF_SCORE, MATCH_IOU = 36.0, 0.95, 0.4
FACE_SCORE, NO_FACE_IOU = 0.7, 0.3
LINK_IOU = 0.3  # reference faces in consecutive processed frames with this overlap are one face
REF_CUT_CHANGE = 20.0  # Hamilton: cuts change a thumbnail by 27.7-30.4 at stride 1, motion within a shot <= 13.6
CACHE_DIR = Path.home() / ".cache" / "fer" / "tracking"  # reference detections, one file per clip
Boxes = list[tuple[float, float, float, float]]


@dataclass
class Reference:
    """Per frame of a clip: MTCNN-default boxes (x1, y1, x2, y2) and probabilities; the frames that start a shot."""

    boxes: list[np.ndarray]
    scores: list[np.ndarray]
    cuts: list[int]


@dataclass
class TrackingScore:
    clip: str
    stride: int
    path: str
    recall: float
    no_face: float
    drawn: int
    switches: int
    carried: int
    fps: float
    detected: float  # share of processed frames where the detector ran

    def row(self) -> list[str]:
        return [
            self.clip,
            str(self.stride),
            self.path,
            f"{self.recall:.3f}",
            f"{self.no_face:.1%} of {self.drawn}",
            str(self.switches),
            str(self.carried),
            f"{self.fps:.1f}",
            f"{self.detected:.0%}",
        ]


HEADERS = [
    "clip",
    "stride",
    "path",
    f"recall (ref p >= {REF_SCORE}, >= {REF_MIN_HEIGHT:g} px, IoU >= {MATCH_IOU})",
    "drawn boxes on no face",
    "id switches",
    "ids across cuts",
    "frames/s",
    "detector runs",
]


def decode(path: Path) -> list[np.ndarray]:
    """Every frame of a clip, RGB (as the video CLI reads them)."""
    return [rgb for _, _, rgb in read_frames(path, probe(path))]


def reference(path: Path, frames: list[np.ndarray], cache: Path) -> Reference:
    """MTCNN at facenet-pytorch's defaults on every full-size frame (cached by the clip's content hash)."""
    from facenet_pytorch import MTCNN

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cached = cache / f"{path.stem}-{digest}.npz"
    if cached.is_file():
        data = np.load(cached)
        counts = np.cumsum(data["counts"])[:-1]
        boxes, scores = np.split(data["boxes"], counts), np.split(data["scores"], counts)
    else:
        mtcnn = MTCNN(keep_all=True)
        boxes, scores = [], []
        for rgb in frames:
            found, probs = mtcnn.detect(rgb)
            boxes.append(np.zeros((0, 4), np.float32) if found is None else found.astype(np.float32))
            scores.append(np.zeros(0, np.float32) if found is None else probs.astype(np.float32))
        cache.mkdir(parents=True, exist_ok=True)
        counts = np.array([len(b) for b in boxes])
        np.savez(cached, boxes=np.concatenate(boxes), scores=np.concatenate(scores), counts=counts)
    thumbs = [thumbnail(rgb) for rgb in frames]
    cuts = [i for i in range(1, len(frames)) if np.abs(thumbs[i] - thumbs[i - 1]).mean() >= REF_CUT_CHANGE]
    return Reference(list(boxes), list(scores), cuts)


def best(box: Sequence[float], others: Sequence[Sequence[float]]) -> tuple[float, int]:
    """(largest IoU of `box` with any of `others`, its index; -1 when there is none)."""
    overlaps = [iou(tuple(box), tuple(other)) for other in others]
    return (max(overlaps), int(np.argmax(overlaps))) if overlaps else (0.0, -1)


def score_run(
    ref: Reference, indices: list[int], drawn: list[Boxes], ids: list[list[int]]
) -> tuple[float, float, int, int, int]:
    """(recall, share of drawn boxes on no face, drawn boxes, id switches, ids across cuts) of one run."""
    targets = found = on_nothing = total = switches = 0
    shot_of = np.searchsorted(ref.cuts, indices, side="right")  # frames in one shot share a number
    links: list[tuple[int, int | None]] = []  # per target face of the previous frame: (reference track, last id)
    previous: Boxes = []
    next_track = 0
    for k, index in enumerate(indices):
        boxes, scores = ref.boxes[index], ref.scores[index]
        faces = [tuple(b) for b, p in zip(boxes, scores, strict=True) if p >= FACE_SCORE]
        for box in drawn[k]:
            total += 1
            on_nothing += best(box, faces)[0] < NO_FACE_IOU
        wanted = [
            tuple(b) for b, p in zip(boxes, scores, strict=True) if p >= REF_SCORE and b[3] - b[1] >= REF_MIN_HEIGHT
        ]
        new_links: list[tuple[int, int | None]] = []
        for box in wanted:
            overlap, match = best(box, drawn[k])
            drawn_id = ids[k][match] if overlap >= MATCH_IOU else None
            targets += 1
            found += drawn_id is not None
            link_overlap, link = best(box, previous)
            same_shot = k > 0 and shot_of[k] == shot_of[k - 1]
            if same_shot and link_overlap >= LINK_IOU:
                track, last_id = links[link]
            else:
                track, last_id, next_track = next_track, None, next_track + 1
            if drawn_id is not None and last_id is not None and drawn_id != last_id:
                switches += 1
            new_links.append((track, drawn_id if drawn_id is not None else last_id))
        links, previous = new_links, wanted
    carried = 0
    for shot in range(1, len(ref.cuts) + 1):
        before = {i for k in range(len(indices)) if shot_of[k] == shot - 1 for i in ids[k]}
        after = {i for k in range(len(indices)) if shot_of[k] == shot for i in ids[k]}
        carried += len(before & after)
    return found / max(targets, 1), on_nothing / max(total, 1), total, switches, carried


def run_path(
    recognizer: EmotionRecognizer, frames: list[np.ndarray], stride: int, options: TrackingOptions
) -> tuple[list[int], list[Boxes], list[list[int]], float, float]:
    """(processed frame indices, drawn boxes, their ids, frames/s, share of detector frames) of one path."""
    processor = StreamProcessor(recognizer, video_detector(backend=recognizer.backend), stale_s=None, options=options)
    indices = list(range(0, len(frames), stride))
    drawn, ids, detected = [], [], 0
    start = time.perf_counter()
    for index in indices:
        result = processor.process(frames[index])
        drawn.append([face.prediction.box for face in result.faces])
        ids.append([face.id for face in result.faces])
        detected += result.detected
    seconds = time.perf_counter() - start
    return indices, drawn, ids, len(indices) / seconds, detected / len(indices)


def tracking_rows(
    recognizer: EmotionRecognizer, video_dir: Path, cache: Path, paths: dict[str, TrackingOptions] = PATHS
) -> tuple[list[TrackingScore], list[str]]:
    """Every clip x stride x path, and a note per clip (its reference faces and cuts)."""
    scores, notes = [], []
    for name in CLIPS:
        path = video_dir / name
        if not path.is_file():
            notes.append(f"{name}: not found in {video_dir}, skipped")
            continue
        frames = decode(path)
        ref = reference(path, frames, cache)
        height, width = frames[0].shape[:2]
        label = "Hamilton" if "hamilton" in name else "street"
        notes.append(
            f"{label} {width}x{height}: {len(frames)} frames, {sum(len(b) for b in ref.boxes)} reference faces, "
            f"cuts before frames {ref.cuts or 'none'}"
        )
        for stride in STRIDES:
            for path_name, options in paths.items():
                indices, drawn, ids, fps, detected = run_path(recognizer, frames, stride, options)
                recall, no_face, total, switches, carried = score_run(ref, indices, drawn, ids)
                scores.append(
                    TrackingScore(
                        f"{label} {width}x{height}",
                        stride,
                        path_name,
                        recall,
                        no_face,
                        total,
                        switches,
                        carried,
                        fps,
                        detected,
                    )
                )
    return scores, notes
