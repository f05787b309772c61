"""The model shipped in models/fer-resnet18: loads offline, matches plain timm, calls the astronaut happy."""

from __future__ import annotations

import json

import numpy as np
import timm
import torch

from fer import EMOTIONS, EmotionRecognizer
from fer.model import DEFAULT_MODEL, DEFAULT_MODEL_DIR
from fer.preprocess import faces_batch


def test_bundled_model_is_a_small_safetensors_timm_folder() -> None:
    files = {p.name for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= files
    assert not any(name.endswith((".bin", ".pth", ".pt", ".ckpt")) for name in files)
    assert (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size < 50 * 2**20
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert config["label_names"] == list(EMOTIONS)
    assert config["pretrained_cfg"]["input_size"] == [1, 75, 75]


def test_bundled_model_calls_the_astronaut_happy(astronaut: np.ndarray) -> None:
    faces = EmotionRecognizer.from_pretrained(DEFAULT_MODEL).predict(astronaut)
    assert len(faces) == 1
    assert faces[0].emotion == "happy", faces[0].probabilities
    assert faces[0].probabilities["happy"] > 0.5


def test_bundled_model_calls_a_tight_crop_of_the_astronaut_happy(astronaut: np.ndarray) -> None:
    faces = EmotionRecognizer.from_pretrained(DEFAULT_MODEL).predict(np.ascontiguousarray(astronaut[67:169, 186:263]))
    assert len(faces) == 1 and faces[0].emotion == "happy", faces


def test_plain_timm_predicts_what_the_app_predicts(astronaut: np.ndarray) -> None:
    recognizer = EmotionRecognizer.from_pretrained(DEFAULT_MODEL)
    faces = recognizer.detector.detect(astronaut)
    app_probabilities = recognizer.classify(astronaut, [f.box for f in faces])
    plain = timm.create_model(f"local-dir:{DEFAULT_MODEL_DIR}", pretrained=True).eval()
    assert recognizer.info.flip_average  # the card's snippet averages the face and its mirror image
    x = faces_batch(astronaut, [f.box for f in faces], recognizer.info.spec)
    with torch.inference_mode():
        plain_probabilities = ((plain(x) + plain(x.flip(-1))) / 2).softmax(1)
    assert torch.allclose(app_probabilities, plain_probabilities, atol=1e-5)


def test_model_card_at_the_top_is_the_bundled_model_card() -> None:
    card = (DEFAULT_MODEL_DIR.parent.parent / "model_card.md").read_text()
    assert card == (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert "{{" not in card and "### rafdb/test, end to end (n = 2388)" in card  # a table per test set
