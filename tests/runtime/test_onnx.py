"""The ONNX Runtime backend: files exported from the loaded weights and cached by their hash, the same faces and
probabilities as PyTorch, and serving that runs onnxruntime by default (never a silent fall back to PyTorch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from make_inputs import multi_face

from fer.detect import WEBCAM_OPTIONS, FaceDetector
from fer.model import load_classifier
from fer.recognizer import EmotionRecognizer
from fer.runtime import check_backend, cpu_count, default_backend
from fer.runtime.export import classifier_onnx, mtcnn_onnx
from fer.runtime.onnx import OnnxNet
from fer.runtime.serving import request_threads
from fer.stream import StreamProcessor

BOX_TOLERANCE_PX = 1.0
PROBABILITY_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def recognizers(random_model_id: str) -> dict[str, EmotionRecognizer]:
    return {
        backend: EmotionRecognizer.from_pretrained(random_model_id, backend=backend) for backend in ("onnx", "torch")
    }


def frames(astronaut: np.ndarray) -> list[np.ndarray]:
    """The astronaut, three faces of different sizes, and a shifted, darker copy of the astronaut."""
    shifted = np.roll(astronaut, (17, -23), axis=(0, 1))
    return [astronaut, multi_face(astronaut)[0], (shifted * 0.7).astype(np.uint8)]


def assert_same_predictions(onnx_faces: list, torch_faces: list) -> None:
    assert len(onnx_faces) == len(torch_faces) > 0
    for a, b in zip(onnx_faces, torch_faces, strict=True):
        np.testing.assert_allclose(a.box, b.box, atol=BOX_TOLERANCE_PX)
        np.testing.assert_allclose(
            list(a.probabilities.values()), list(b.probabilities.values()), atol=PROBABILITY_TOLERANCE
        )
        assert a.emotion == b.emotion


def test_serving_runs_onnxruntime_by_default(random_model_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FER_BACKEND", raising=False)
    recognizer = EmotionRecognizer.from_pretrained(random_model_id)
    assert default_backend() == "onnx" and recognizer.backend == "onnx"
    assert isinstance(recognizer.model, OnnxNet)
    assert all(isinstance(getattr(recognizer.detector.mtcnn, name), OnnxNet) for name in ("pnet", "rnet", "onet"))


def test_a_detector_shared_by_requests_shares_the_cpus_out(
    random_model_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's request detector (two queue workers) runs each network on its share of the CPUs; the classifier,
    which the webcam stream shares, and other detectors keep one thread per CPU."""
    monkeypatch.setattr("fer.runtime.serving.cpu_count", lambda: 8)
    assert (request_threads(2), request_threads(3), request_threads(16)) == (4, 2, 1)
    recognizer = EmotionRecognizer.from_pretrained(random_model_id, backend="onnx", detector_threads=1)
    threads = lambda net: net.session.get_session_options().intra_op_num_threads  # noqa: E731
    assert [threads(getattr(recognizer.detector.mtcnn, name)) for name in ("pnet", "rnet", "onet")] == [1, 1, 1]
    assert threads(recognizer.model) == threads(FaceDetector(WEBCAM_OPTIONS, backend="onnx").mtcnn.pnet) == cpu_count()


def test_torch_backend_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_BACKEND", "torch")
    assert default_backend() == "torch"
    detector = FaceDetector()
    assert detector.backend == "torch" and not isinstance(detector.mtcnn.pnet, OnnxNet)
    monkeypatch.setenv("FER_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="onnx, torch"):
        default_backend()
    assert check_backend("onnx") == "onnx"


def test_onnx_finds_the_same_faces_and_probabilities(
    recognizers: dict[str, EmotionRecognizer], astronaut: np.ndarray
) -> None:
    for frame in frames(astronaut):
        assert_same_predictions(recognizers["onnx"].predict(frame), recognizers["torch"].predict(frame))


def test_onnx_classifies_crops_alike_in_any_batch(
    recognizers: dict[str, EmotionRecognizer], astronaut: np.ndarray
) -> None:
    canvas, boxes = multi_face(astronaut)
    for some in (boxes[:1], boxes):  # exported with one face: the batch axis stays free
        probabilities = [recognizers[b].classify(canvas, some) for b in ("onnx", "torch")]
        assert probabilities[0].shape == (len(some), 7)
        torch.testing.assert_close(probabilities[0], probabilities[1], atol=PROBABILITY_TOLERANCE, rtol=0)


def test_onnx_follows_faces_alike(random_model_id: str, astronaut: np.ndarray) -> None:
    """The webcam path (320 px detector, O-Net following between detections) over a moving face."""
    streams = {
        backend: StreamProcessor(
            EmotionRecognizer.from_pretrained(random_model_id, WEBCAM_OPTIONS, backend=backend), stale_s=None
        )
        for backend in ("onnx", "torch")
    }
    for step in range(6):
        frame = np.roll(astronaut, 4 * step, axis=1)
        results = [streams[b].process(frame, now=step / 15).faces for b in ("onnx", "torch")]
        assert_same_predictions(*[[face.prediction for face in faces] for faces in results])


def test_export_is_cached_by_the_weights_hash(random_model_id: str, tmp_path: Path) -> None:
    model, info = load_classifier(random_model_id)
    first = classifier_onnx(model, info.spec.size, flip_average=True, folder=tmp_path)
    modified = first.stat().st_mtime_ns
    assert classifier_onnx(model, info.spec.size, flip_average=True, folder=tmp_path) == first
    assert first.stat().st_mtime_ns == modified  # not exported again
    plain = classifier_onnx(model, info.spec.size, flip_average=False, folder=tmp_path)
    assert plain != first
    with torch.no_grad():
        model.get_classifier().bias.add_(1.0)
    changed = classifier_onnx(model, info.spec.size, flip_average=True, folder=tmp_path)
    assert changed not in (first, plain)
    assert {p.name for p in tmp_path.iterdir()} == {first.name, plain.name, changed.name}  # no temporary file left


def test_mtcnn_files_and_cache_folder_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_ONNX_CACHE", str(tmp_path))
    detector = FaceDetector(backend="onnx")
    names = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.onnx"))
    assert names == ["onet", "pnet", "rnet"]
    assert {net.path for net in (detector.mtcnn.pnet, detector.mtcnn.rnet, detector.mtcnn.onet)} == set(
        mtcnn_onnx(FaceDetector(backend="torch").mtcnn, tmp_path).values()
    )
