"""The JSON answer shared by the app's /analyze endpoint and `python -m fer predict --json`."""

from __future__ import annotations

from collections.abc import Sequence

from fer.faces import FacePrediction


def predictions_payload(predictions: Sequence[FacePrediction], image_size: tuple[int, int], model_id: str) -> dict:
    """`{"faces": [{box, score, emotion, probabilities}], "image_size": [w, h], "model": id}`, JSON-ready."""
    faces = [prediction.to_json() for prediction in predictions]
    return {"faces": faces, "image_size": [int(image_size[0]), int(image_size[1])], "model": model_id}
