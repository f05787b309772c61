"""MTCNN face detection: the astronaut, several faces, no face, downscaled detection, every image mode."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from make_inputs import FACE_BOX, GOOD_CASES, Case, blank, multi_face
from PIL import Image

from fer.detect import DetectorOptions, Face, FaceDetector, enlarged, planar
from fer.images import load_rgb

BOX_TOLERANCE_PX = 6  # MTCNN's box on the astronaut moves by a few pixels with compression and colour mode
MIN_IOU_ACROSS_SCALES = 0.85  # full-size vs downscaled detection of the same face


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def assert_astronaut_face(faces: list[Face], box: tuple[float, ...] = FACE_BOX) -> None:
    assert len(faces) == 1, [f.box for f in faces]
    np.testing.assert_allclose(faces[0].box, box, atol=BOX_TOLERANCE_PX)


def test_astronaut_face(detector: FaceDetector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert_astronaut_face(faces)
    face = faces[0]
    assert face.score > 0.99
    assert face.landmarks is not None and len(face.landmarks) == 5
    x1, y1, x2, y2 = face.box
    assert all(x1 < x < x2 and y1 < y < y2 for x, y in face.landmarks)
    (left_eye_x, left_eye_y), (right_eye_x, right_eye_y), _nose, (_mouth_left_x, mouth_y), _ = face.landmarks
    assert left_eye_x < right_eye_x and max(left_eye_y, right_eye_y) < mouth_y  # upright face


def test_planar_input_gives_the_same_detections_as_an_array(detector: FaceDetector, astronaut: np.ndarray) -> None:
    canvas, _ = multi_face(astronaut)
    view = planar(canvas)
    assert view.shape == canvas.shape and view.permute(2, 0, 1).is_contiguous()
    faces = [detector.mtcnn.detect(image, landmarks=True) for image in (canvas, view)]
    assert len(faces[0][0]) >= 3
    for array_result, planar_result in zip(*faces, strict=True):
        np.testing.assert_array_equal(np.asarray(array_result, np.float32), np.asarray(planar_result, np.float32))


def test_several_faces_at_several_scales_biggest_first(detector: FaceDetector, astronaut: np.ndarray) -> None:
    canvas, placed = multi_face(astronaut)
    faces = detector.detect(canvas)
    assert len(faces) == len(placed)
    for face, (x, y, width, height) in zip(faces, placed, strict=True):  # tiles were pasted biggest first
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert x < cx < x + width and y < cy < y + height
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_no_face_gives_an_empty_list(detector: FaceDetector) -> None:
    assert detector.detect(blank()) == []
    noise = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


def test_face_cut_by_the_border_keeps_its_original_box(detector: FaceDetector, astronaut: np.ndarray) -> None:
    """A face partly outside the frame is still found; its box may run past the border (preprocessing pads)."""
    shifted = astronaut[90:, 200:]  # the face's top-left part is cut off
    faces = detector.detect(shifted)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert x1 < 5 and y1 < 5 and x2 > 40 and y2 > 60


def test_tight_crop_is_found_on_a_padded_retry(detector: FaceDetector, astronaut: np.ndarray) -> None:
    """A crop that the face fills edge to edge: MTCNN misses it as is, and finds it with a border added."""
    tight = np.ascontiguousarray(astronaut[67:169, 186:263])
    assert FaceDetector(DetectorOptions(pad_retries=())).detect(tight) == []
    faces = detector.detect(tight)
    assert len(faces) == 1 and faces[0].score > 0.9
    x1, y1, x2, y2 = faces[0].box  # in the crop's own pixels: the box covers the crop
    assert x1 < 5 and y1 < 5 and x2 > 70 and y2 > 95
    assert all(-30 < x < 107 and -30 < y < 132 for x, y in faces[0].landmarks)
    # with a small max_side the padded retry runs on a downscaled copy; its boxes map back the same
    shrunk = FaceDetector(DetectorOptions(max_side=128)).detect(tight)
    assert len(shrunk) == 1
    np.testing.assert_allclose(shrunk[0].box, faces[0].box, atol=BOX_TOLERANCE_PX)


def test_retries_try_each_border_then_a_small_image_twice_as_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no face, each border is tried in turn, and a small image is looked at again enlarged twice."""
    detector = FaceDetector(DetectorOptions(pad_retries=(0.5, 0.25), upscale_below=160))
    looks: list[tuple[int, int]] = []
    real = detector._detect

    def counted(image: np.ndarray, min_face_scale: float = 1.0) -> list[Face]:
        looks.append(image.shape[:2])
        return real(image, min_face_scale)

    monkeypatch.setattr(detector, "_detect", counted)
    assert detector.detect(np.full((100, 80, 3), 230, np.uint8)) == []
    # as is; borders 0.5 and 0.25 of the shorter side (80); then the 200x160 copy with both borders
    assert looks == [(100, 80), (180, 160), (140, 120), (360, 320), (280, 240)]
    looks.clear()
    assert detector.detect(np.full((400, 300, 3), 230, np.uint8)) == []
    assert len(looks) == 3  # a large image is never enlarged


def test_enlarged_look_maps_boxes_back(detector: FaceDetector, astronaut: np.ndarray) -> None:
    """A face found on the enlarged copy has its box in the image's own pixels, as the plain retry gives it."""
    tight = np.ascontiguousarray(astronaut[67:169, 186:263])
    plain, zoomed = detector._detect_padded(tight, 0.5, 1), detector._detect_padded(enlarged(tight, 2), 0.5, 2)
    assert len(plain) == len(zoomed) == 1
    assert iou(plain[0].box, zoomed[0].box) > MIN_IOU_ACROSS_SCALES
    np.testing.assert_allclose(plain[0].landmarks, zoomed[0].landmarks, atol=BOX_TOLERANCE_PX)


def test_downscaled_detection_maps_boxes_back(astronaut: np.ndarray) -> None:
    big = np.asarray(Image.fromarray(astronaut).resize((1024, 1024), Image.BILINEAR))
    downscaled = FaceDetector(DetectorOptions(min_face_size=40, max_side=512))
    assert downscaled.scale_for(1024, 1024) == 0.5
    faces = downscaled.detect(big)
    # exactly what full-size detection finds on the copy the detector looked at (where faces are half as big)
    small = np.asarray(Image.fromarray(big).resize((512, 512), Image.BILINEAR, reducing_gap=2.0))
    on_small = FaceDetector(DetectorOptions(min_face_size=20, max_side=None)).detect(small)
    assert len(faces) == len(on_small) == 1
    np.testing.assert_allclose(faces[0].box, np.array(on_small[0].box) * 2, atol=0.01)
    np.testing.assert_allclose(faces[0].landmarks, np.array(on_small[0].landmarks) * 2, atol=0.01)
    # and close to detecting at full resolution
    full = FaceDetector(DetectorOptions(max_side=None)).detect(big)
    assert len(full) == 1 and iou(full[0].box, faces[0].box) > MIN_IOU_ACROSS_SCALES
    assert iou(faces[0].box, tuple(2 * v for v in FACE_BOX)) > MIN_IOU_ACROSS_SCALES


def test_no_downscaling_below_max_side() -> None:
    detector = FaceDetector(DetectorOptions(max_side=640))
    assert detector.scale_for(640, 480) == 1.0
    assert detector.scale_for(1280, 720) == 0.5
    assert FaceDetector(DetectorOptions(max_side=None)).scale_for(8000, 5000) == 1.0


def test_min_face_size_is_in_original_pixels(astronaut: np.ndarray) -> None:
    """The face is ~220 px tall in a 1024 px image detected at 512 px: a 280 px minimum (140 px on the copy)
    still finds it, a 520 px minimum does not."""
    big = np.asarray(Image.fromarray(astronaut).resize((1024, 1024), Image.BILINEAR))
    assert len(FaceDetector(DetectorOptions(min_face_size=280, max_side=512)).detect(big)) == 1
    assert FaceDetector(DetectorOptions(min_face_size=520, max_side=512)).detect(big) == []


class Meeting(torch.nn.Module):
    """A network that makes each thread's first call wait until `parties` threads are inside it at once."""

    def __init__(self, net: torch.nn.Module, parties: int):
        super().__init__()
        self.net, self.barrier, self.met = net, threading.Barrier(parties, timeout=20), set()

    def forward(self, batch: torch.Tensor):
        if threading.get_ident() not in self.met:
            self.met.add(threading.get_ident())
            self.barrier.wait()  # BrokenBarrierError if the other detection cannot run meanwhile
        return self.net(batch)


def test_two_images_of_different_sizes_are_detected_at_the_same_time(astronaut: np.ndarray) -> None:
    """Requests share one detector: two detections needing different smallest-face settings (a 512 and a 1024
    px image) run at once, neither changes the other's setting nor the shared MTCNN's."""
    detector = FaceDetector(DetectorOptions(max_side=512))
    big = np.asarray(Image.fromarray(astronaut).resize((1024, 1024), Image.BILINEAR))
    alone = [detector.detect(image) for image in (astronaut, big)]
    assert detector.sized(20).min_face_size == 20 and detector.sized(12).min_face_size == 12
    detector.mtcnn.pnet = Meeting(detector.mtcnn.pnet, parties=2)  # the per-size copies share the networks
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(detector.detect, (astronaut, big)))
    assert detector.mtcnn.min_face_size == 20
    for one, other in zip(alone, together, strict=True):
        assert [face.box for face in one] == [face.box for face in other] and len(one) == 1


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda c: c.name)
def test_every_image_mode(case: Case, detector: FaceDetector, astronaut: np.ndarray) -> None:
    assert_astronaut_face(detector.detect(load_rgb(case.make(astronaut))))
