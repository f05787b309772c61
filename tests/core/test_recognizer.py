"""The public API: `EmotionRecognizer.from_pretrained(model_id).predict(image)`, its JSON, and drawing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from make_inputs import FACE_BOX, blank, multi_face
from PIL import Image

from fer import EMOTIONS, EmotionRecognizer, FacePrediction, draw_faces
from fer.schema import predictions_payload


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id)


def test_three_line_api_on_the_astronaut(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    faces = recognizer.predict(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, FacePrediction)
    np.testing.assert_allclose(face.box, FACE_BOX, atol=6)
    assert face.score > 0.99 and len(face.landmarks or []) == 5
    assert tuple(face.probabilities) == EMOTIONS
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= p <= 1.0 for p in face.probabilities.values())
    assert face.emotion == max(face.probabilities, key=face.probabilities.get)


def test_any_input_type(recognizer: EmotionRecognizer, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    expected = recognizer.predict(astronaut)[0].probabilities
    for source in (path, str(path), path.read_bytes(), Image.open(path)):
        (face,) = recognizer.predict(source)
        assert face.probabilities == pytest.approx(expected, abs=1e-6)


def test_to_dict_is_json_serialisable(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    data = recognizer.predict(astronaut)[0].to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"box", "score", "landmarks", "emotion", "probabilities"}
    assert len(data["box"]) == 4 and len(data["landmarks"]) == 5


def test_payload_has_the_analyze_schema(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    predictions = recognizer.predict(astronaut)
    payload = predictions_payload(predictions, (512, 512), recognizer.model_id)
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {"faces", "image_size", "model"}
    assert payload["image_size"] == [512, 512] and payload["model"] == recognizer.model_id
    (face,) = payload["faces"]
    assert set(face) == {"box", "score", "emotion", "probabilities"}
    assert face["emotion"] == predictions[0].emotion
    assert list(face["probabilities"]) == list(EMOTIONS)
    assert predictions_payload([], (10, 20), "m") == {"faces": [], "image_size": [10, 20], "model": "m"}


def test_no_face_gives_an_empty_list(recognizer: EmotionRecognizer) -> None:
    assert recognizer.predict(blank()) == []


def test_all_faces_in_one_forward_pass(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    canvas, placed = multi_face(astronaut)
    calls: list[int] = []
    hook = recognizer.model.register_forward_hook(lambda _m, args, _out: calls.append(len(args[0])))
    try:
        faces = recognizer.predict(canvas)
    finally:
        hook.remove()
    assert len(faces) == len(placed) and calls == [len(placed)]


def test_predict_faces_matches_classify(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    faces = recognizer.detector.detect(astronaut)
    (prediction,) = recognizer.predict_faces(astronaut, faces)
    probabilities = recognizer.classify(astronaut, [faces[0].box])[0]
    assert list(prediction.probabilities.values()) == pytest.approx(probabilities.tolist(), abs=1e-6)
    assert recognizer.classify(astronaut, []).shape == (0, len(EMOTIONS))


def test_classify_face_on_a_crop(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    x1, y1, x2, y2 = FACE_BOX
    crop = astronaut[y1:y2, x1:x2]
    probabilities = recognizer.classify_face(crop)
    assert tuple(probabilities) == EMOTIONS
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert recognizer.classify_face(Image.fromarray(crop)) == pytest.approx(probabilities, abs=1e-6)
    # the crop is classified as a whole face (squared, not cropped again)
    torch.testing.assert_close(
        torch.tensor(list(probabilities.values())), recognizer.classify(crop, None)[0], atol=1e-6, rtol=0
    )


def test_draw_faces_marks_each_box(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    faces = recognizer.predict(astronaut)
    drawn = draw_faces(astronaut, faces, ids=[7])
    assert drawn.shape == astronaut.shape and drawn.dtype == np.uint8
    assert not np.array_equal(drawn, astronaut)
    x1, y1, x2, y2 = (round(v) for v in faces[0].box)
    changed = np.any(drawn != astronaut, axis=2)
    assert changed[y1 + 20 : y2 - 20, x1].any() and changed[y1 + 20 : y2 - 20, x2 - 1].any()  # the box's sides
    assert not changed[y1 + 25 : y2 - 25, x1 + 25 : x2 - 25].any()  # the face itself is untouched
    np.testing.assert_array_equal(draw_faces(astronaut, []), astronaut)
