"""EmotionRecognizer: detect every face, classify all of them in one batched forward pass. The public API."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from fer.detect import DetectorOptions, FaceDetector
from fer.faces import Face, FacePrediction
from fer.images import ImageInput, load_rgb
from fer.labels import EMOTIONS, emotion_order
from fer.model import ModelInfo, load_classifier
from fer.preprocess import faces_batch
from fer.runtime import Backend, runtime_description, serving_backend
from fer.runtime.serving import served_classifier


class EmotionRecognizer:
    """`EmotionRecognizer.from_pretrained(model_id).predict(image)` -> list of FacePrediction."""

    def __init__(self, model: torch.nn.Module, info: ModelInfo, detector: FaceDetector, backend: Backend | None = None):
        self.device = next(model.parameters()).device
        self.backend = backend or serving_backend(self.device.type)
        self.info, self.detector = info, detector
        self.model = served_classifier(model.eval(), info, self.backend)
        # the model's outputs in EMOTIONS order, whatever order its config lists them in
        self._order = torch.tensor(emotion_order(info.label_names))

    @classmethod
    def from_pretrained(
        cls,
        model_id: str | None = None,
        detector_options: DetectorOptions | None = None,
        device: str = "cpu",
        backend: Backend | None = None,
        detector_threads: int | None = None,
    ) -> EmotionRecognizer:
        """Load `model_id` (default: $FER_MODEL or the bundled model); `backend` onnx or torch (default: $FER_BACKEND,
        else onnx on the CPU); `detector_threads`: onnxruntime threads per detector network (default: one per CPU)."""
        model, info = load_classifier(model_id)
        detector = FaceDetector(detector_options or DetectorOptions(), device, backend, detector_threads)
        return cls(model.to(device), info, detector, backend)

    @property
    def runtime(self) -> str:
        """What runs the networks, in words, e.g. 'networks run by onnxruntime 1.32.0 (CPU, 2 threads)'."""
        return runtime_description(self.backend, self.device.type)

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @torch.inference_mode()
    def classify(self, image: np.ndarray, boxes: Sequence[Sequence[float]] | None) -> torch.Tensor:
        """Probabilities (N, 7) in EMOTIONS order for `boxes` of an RGB image (None: the image is a face)."""
        batch = faces_batch(image, [None] if boxes is None else boxes, self.info.spec)
        if len(batch) == 0:
            return torch.empty(0, len(EMOTIONS))
        logits = self.model(batch.to(self.device)).float().cpu()
        return logits.softmax(dim=1)[:, self._order]

    def classify_face(self, face_image: ImageInput) -> dict[str, float]:
        """The 7 probabilities for an image that is already a cropped face."""
        return self.classify_rgb(load_rgb(face_image))

    def classify_rgb(self, rgb: np.ndarray) -> dict[str, float]:
        """`classify_face` for an RGB uint8 array that `load_rgb` returned (checked and decoded once, not again)."""
        probabilities = self.classify(rgb, None)[0]
        return {name: float(p) for name, p in zip(EMOTIONS, probabilities, strict=False)}

    def predict_faces(self, image: np.ndarray, faces: list[Face]) -> list[FacePrediction]:
        """Classify already detected faces of an RGB array."""
        probabilities = self.classify(image, [face.box for face in faces])
        return [
            FacePrediction(
                box=face.box,
                score=face.score,
                landmarks=face.landmarks,
                emotion=EMOTIONS[int(p.argmax())],
                probabilities={name: float(v) for name, v in zip(EMOTIONS, p, strict=False)},
            )
            for face, p in zip(faces, probabilities, strict=False)
        ]

    def predict(self, image: ImageInput) -> list[FacePrediction]:
        """Every face of an image (path, bytes, PIL, array), biggest first; no face gives []."""
        return self.predict_rgb(load_rgb(image))

    def predict_rgb(self, rgb: np.ndarray) -> list[FacePrediction]:
        """`predict` for an RGB uint8 array that `load_rgb` returned (checked and decoded once, not again)."""
        return self.predict_faces(rgb, self.detector.detect(rgb))
