"""StreamProcessor: detection every few frames, batched classification (a followed face every other frame), stable
ids, smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from fer.detect import WEBCAM_OPTIONS, FaceDetector
from fer.faces import Face
from fer.recognizer import EmotionRecognizer
from fer.stream import StreamProcessor, TrackingOptions
from fer.tracking import SMOOTHING_WINDOW, FaceTracker


class CountingDetector(FaceDetector):
    """The webcam detector, counting its calls."""

    calls = 0

    def detect(self, image: np.ndarray) -> list:
        self.calls += 1
        return super().detect(image)


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id, detector_options=WEBCAM_OPTIONS)


def test_detects_every_nth_frame_and_on_a_new_size(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    detector = CountingDetector(WEBCAM_OPTIONS)
    stream = StreamProcessor(recognizer, detector, detect_every=3)
    results = [stream.process(astronaut, now=i / 30) for i in range(7)]
    assert [r.detected for r in results] == [True, False, False, True, False, False, True]
    assert detector.calls == 3
    assert all(len(r.faces) == 1 and r.faces[0].id == 1 for r in results)
    assert results[-1].fps == pytest.approx(30.0)
    assert stream.process(astronaut[:400, :400], now=7 / 30).detected  # new frame size: detect at once


def test_smoothed_probabilities_and_annotation(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    stream = StreamProcessor(recognizer, detect_every=2, options=TrackingOptions(classify_every=1))
    raws = []
    for index in range(SMOOTHING_WINDOW + 2):
        frame = np.ascontiguousarray(np.roll(astronaut, 3 * index, axis=1))  # new pixels: new probabilities
        result = stream.process(frame, now=index / 30)
        raws.append(np.array(list(result.faces[0].raw.probabilities.values())))
    smoothed = np.array(list(result.faces[0].prediction.probabilities.values()))
    np.testing.assert_allclose(smoothed, np.mean(raws[-SMOOTHING_WINDOW:], axis=0), atol=1e-6)
    assert result.image.shape == frame.shape and np.abs(result.image.astype(int) - frame).max() > 100


def test_a_pause_starts_a_new_stream(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    stream = StreamProcessor(recognizer, detect_every=5, stale_s=2.0)
    stream.process(astronaut, now=0.0)
    assert not stream.process(astronaut, now=0.1).detected
    after = stream.process(astronaut, now=5.0)  # the 3rd frame, but after a 4.9 s gap: detect, fresh timings
    assert after.detected and after.fps == 0.0 and after.faces[0].id == 1


def test_detect_every_must_be_positive(recognizer: EmotionRecognizer) -> None:
    with pytest.raises(ValueError, match="detect_every"):
        StreamProcessor(recognizer, detect_every=0)
    with pytest.raises(ValueError, match="classify_every"):
        StreamProcessor(recognizer, options=TrackingOptions(classify_every=0))


def test_a_followed_face_is_classified_every_other_frame(
    recognizer: EmotionRecognizer, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    classified: list[int] = []
    predict_faces = recognizer.predict_faces
    monkeypatch.setattr(
        recognizer, "predict_faces", lambda f, faces: classified.append(len(faces)) or predict_faces(f, faces)
    )
    stream = StreamProcessor(recognizer, detect_every=3, options=TrackingOptions(classify_every=2))
    results = []
    for index in range(6):
        frame = np.ascontiguousarray(np.roll(astronaut, 2 * index, axis=1))  # new pixels: new probabilities
        results.append(stream.process(frame, now=index / 30))
    assert classified == [1, 0, 1, 0, 1, 0]
    raws = [np.array(list(r.faces[0].raw.probabilities.values())) for r in results]
    for skipped in (1, 3, 5):
        np.testing.assert_array_equal(raws[skipped], raws[skipped - 1])  # kept, not classified again
        face = results[skipped].faces[0]
        assert face.raw.box != results[skipped - 1].faces[0].raw.box and face.prediction.box == face.raw.box
    assert not np.array_equal(raws[2], raws[0])
    smoothed = np.array(list(results[3].faces[0].prediction.probabilities.values()))
    np.testing.assert_allclose(smoothed, np.mean(raws[:4], axis=0), atol=1e-6)  # the kept ones count again
    assert len({r.faces[0].id for r in results}) == 1


def test_a_face_no_track_holds_must_be_classified() -> None:
    tracker = FaceTracker()
    face = Face((10.0, 10.0, 60.0, 60.0), 0.99)
    assert tracker.due([face], every=5) == [True]
    with pytest.raises(ValueError, match="classified"):
        tracker.update([face])


def test_status_line_gives_the_real_time_per_frame_without_a_face(recognizer: EmotionRecognizer) -> None:
    from fer.ui.blocks import stream_frame

    blank, stream = np.full((480, 640, 3), 90, np.uint8), None
    for _ in range(4):  # the detector runs on the first frame only; the others cost next to nothing
        _, stats, stream = stream_frame(recognizer, recognizer.detector, blank, stream)
    mean_ms = stream.meter.mean_latency_s * 1000
    assert mean_ms > 1.0 and f"{mean_ms:.1f} ms per frame" in stats and "no face" in stats
