"""Following faces between detector runs, on frames made from the astronaut photo: a moving face, a face that
disappears, a scene cut, a face at the edge; and the tracking benchmark's scoring."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fer.bench.tracking import Reference, score_run
from fer.detect import FaceDetector
from fer.draw import draw_faces, place_labels
from fer.recognizer import EmotionRecognizer, FacePrediction
from fer.scene import SceneWatch
from fer.stream import FROZEN, StreamProcessor, TrackingOptions
from fer.tracking import iou
from fer.video.analysis import VIDEO_OPTIONS

FRAME = (480, 640)
HEAD = (130, 20, 330, 230)  # the astronaut's head and some background, (x1, y1, x2, y2)


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id, detector_options=VIDEO_OPTIONS)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(VIDEO_OPTIONS)


def scene(astronaut: np.ndarray, x: int, y: int = 120, background: int = 60) -> np.ndarray:
    """A 640x480 frame: flat background, the astronaut's head with its top-left corner at (x, y), cut by the
    border where it reaches past it."""
    frame = np.full((*FRAME, 3), background, np.uint8)
    x1, y1, x2, y2 = HEAD
    head = astronaut[y1:y2, x1:x2]
    left, right = max(0, -x), min(head.shape[1], FRAME[1] - x)
    frame[y : y + head.shape[0], x + left : x + right] = head[:, left:right]
    return frame


def test_a_moving_face_is_followed_between_detections(
    recognizer: EmotionRecognizer, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    frames = [scene(astronaut, 100 + 6 * i) for i in range(9)]  # 6 px a frame: too little to count as motion
    truth = [detector.detect(frame)[0].box for frame in frames]
    for options, follows in ((None, True), (FROZEN, False)):
        stream = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None, options=options)
        results = [stream.process(frame) for frame in frames]
        assert [r.detected for r in results] == [True] + [False] * 8
        overlaps = [iou(r.faces[0].prediction.box, box) for r, box in zip(results, truth, strict=True)]
        assert all(r.faces[0].id == 1 for r in results)
        if follows:
            assert min(overlaps) > 0.8  # the box moved with the face
        else:
            assert overlaps[-1] < 0.6  # the frozen box stayed behind: what the new path fixes


def test_a_face_that_disappears_loses_its_box(
    recognizer: EmotionRecognizer, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    empty = np.full((*FRAME, 3), 60, np.uint8)
    stream = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None)
    assert len(stream.process(scene(astronaut, 200)).faces) == 1
    assert stream.process(empty).faces == []
    # without the scene watch (which sees the change), O-Net's check drops the box and the detector looks again
    follow_only = StreamProcessor(recognizer, detector, 9, None, options=TrackingOptions(scene=False))
    assert len(follow_only.process(scene(astronaut, 200)).faces) == 1
    gone = follow_only.process(empty)
    assert gone.detected and gone.faces == []
    assert not follow_only.process(empty).detected  # nothing to follow, nothing lost: no detector run
    frozen = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None, options=FROZEN)
    frozen.process(scene(astronaut, 200))
    assert len(frozen.process(empty).faces) == 1  # the old path kept a box on the empty background


def test_a_cut_restarts_the_tracks(
    recognizer: EmotionRecognizer, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    first, second = scene(astronaut, 200, background=30), scene(astronaut, 210, background=220)  # a new shot
    stream = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None)
    before = [stream.process(first) for _ in range(3)]
    after = [stream.process(second) for _ in range(3)]
    assert [r.cut for r in before + after] == [False, False, False, True, False, False]
    assert after[0].detected and len(after[0].faces) == 1
    assert {f.id for r in before for f in r.faces} == {1} and {f.id for r in after for f in r.faces} == {2}
    frozen = StreamProcessor(recognizer, detector, detect_every=3, stale_s=None, options=FROZEN)
    carried = [frozen.process(frame) for frame in [first] * 3 + [second]]
    assert carried[-1].faces[0].id == 1  # the old path gave the new shot's face the old face's id


def test_a_new_face_makes_the_detector_run_at_once(
    recognizer: EmotionRecognizer, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    alone = scene(astronaut, 20)
    joined = alone.copy()
    joined[120:330, 420:620] = alone[120:330, 20:220]  # a second face enters where no face is followed
    steady = TrackingOptions(motion=float("inf"))  # not the whole frame's motion: the change away from the faces
    for options, sees_it in ((steady, True), (replace(steady, new_face=float("inf")), False)):
        stream = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None, options=options)
        results = [stream.process(frame) for frame in (alone, alone, joined)]
        assert [r.detected for r in results] == [True, False, sees_it]
        assert len(results[-1].faces) == (2 if sees_it else 1)
    watch = SceneWatch()
    watch.update(alone)
    change = watch.update(joined)
    assert change.changed_outside([(20, 120, 220, 330)], alone.shape, 20.0)
    assert not change.changed_outside([(20, 120, 220, 330), (420, 120, 620, 330)], alone.shape, 20.0)


class ScoredDetector(FaceDetector):
    """The video detector, its faces given the scores of `scores`, one per call (O-Net's follow is real)."""

    def __init__(self, scores: list[float]):
        super().__init__(VIDEO_OPTIONS)
        self.scores = scores

    def detect(self, image: np.ndarray) -> list:
        return [replace(face, score=self.scores.pop(0)) for face in super().detect(image)]


def test_a_new_face_needs_a_sure_detection_a_followed_one_does_not(
    recognizer: EmotionRecognizer, astronaut: np.ndarray
) -> None:
    frame = scene(astronaut, 200)
    stream = StreamProcessor(recognizer, ScoredDetector([0.92, 0.99, 0.92]), detect_every=1, stale_s=None)
    results = [stream.process(frame) for _ in range(3)]
    assert all(r.detected for r in results)
    assert results[0].faces == []  # a face first seen at 0.92 is not drawn (yet)
    assert [f.id for f in results[1].faces] == [1]  # seen at 0.99: a track starts
    (kept,) = results[2].faces  # the same face at 0.92: the detector's box stays on the track
    assert kept.id == 1 and kept.prediction.score == pytest.approx(0.92)
    lenient = TrackingOptions(new_score=0.9)
    stream = StreamProcessor(recognizer, ScoredDetector([0.92]), detect_every=1, stale_s=None, options=lenient)
    assert len(stream.process(frame).faces) == 1


def test_scene_watch_tells_a_cut_from_motion(astronaut: np.ndarray) -> None:
    watch = SceneWatch()
    assert watch.update(scene(astronaut, 100)).cut  # the first frame starts a shot
    still = watch.update(scene(astronaut, 100))
    moved = watch.update(scene(astronaut, 160))
    cut = watch.update(scene(astronaut[::-1], 300, background=230))
    assert (still.cut, still.motion) == (False, False) and (moved.cut, moved.motion) == (False, True) and cut.cut


def test_a_face_at_the_edge_keeps_its_box_and_label_inside(
    recognizer: EmotionRecognizer, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    frames = [scene(astronaut, 500 + 4 * i) for i in range(4)]  # the head runs into the right border
    stream = StreamProcessor(recognizer, detector, detect_every=9, stale_s=None)
    results = [stream.process(frame) for frame in frames]
    assert all(len(r.faces) == 1 and r.faces[0].id == 1 for r in results)
    box = results[-1].faces[0].prediction.box
    assert box[2] > 600  # followed up to (or past) the border
    for corner_box in ((600, 5, 700, 100), (-20, 470, 40, 520), (300, -10, 340, 478)):
        (x1, y1, x2, y2), _ = place_labels([corner_box], [[(90, 20)]], (640, 480))[0]
        assert 0 <= x1 and x2 <= 640 and 0 <= y1 and y2 <= 480
    face = FacePrediction((560.0, 2.0, 660.0, 90.0), 1.0, None, "neutral", {"neutral": 1.0})
    drawn = draw_faces(np.zeros((*FRAME, 3), np.uint8), [face], ids=[12])
    label = np.argwhere(np.all(drawn == (200, 200, 200), axis=2))  # the label's gray background
    assert label[:, 1].max() == 639 and label[:, 1].min() < 560  # flush with the right border, moved left


def test_score_run_counts_misses_strays_switches_and_carried_ids() -> None:
    face, other = np.array([[100, 100, 160, 170]], np.float32), np.array([[300, 100, 360, 170]], np.float32)
    ref = Reference([face, face, other, other], [np.array([0.99])] * 4, cuts=[2])
    drawn = [[(100, 100, 160, 170)], [(101, 100, 161, 170), (0, 0, 40, 40)], [(300, 100, 360, 170)], []]
    recall, no_face, total, switches, carried = score_run(ref, [0, 1, 2, 3], drawn, [[1], [2, 3], [2], []])
    assert recall == 0.75 and total == 4 and no_face == 0.25  # frame 3's face missed; the 40 px box is on nothing
    assert switches == 1 and carried == 1  # id 1 -> 2 on one face; id 2 on both sides of the cut
