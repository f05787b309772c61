"""The one face result type and its one JSON shape (/analyze, `fer predict --json`, each face of a video frame)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

DIGITS = 4  # scores and probabilities in JSON and CSV; boxes and landmarks get 1 decimal


@dataclass
class Face:
    """One detected face: box (x1, y1, x2, y2) in original-image pixels, score, 5 landmarks (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: list[tuple[float, float]] | None = field(default=None)


@dataclass
class FacePrediction(Face):
    """A detected face with its emotion and the 7 emotion probabilities (positional order as before: box, score,
    landmarks, emotion, probabilities; the defaults only follow from Face's optional landmarks)."""

    emotion: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)

    def to_dict(self, digits: int = DIGITS) -> dict:
        """Every field (landmarks too), rounded, JSON-ready."""
        data = asdict(self)
        data["box"] = [round(v, 1) for v in self.box]
        data["score"] = round(self.score, digits)
        data["probabilities"] = {k: round(v, digits) for k, v in self.probabilities.items()}
        if self.landmarks is not None:
            data["landmarks"] = [[round(x, 1), round(y, 1)] for x, y in self.landmarks]
        return data

    def to_json(self) -> dict:
        """The face's JSON, the same everywhere: {box, score, emotion, probabilities}."""
        return face_json(self.box, self.score, self.emotion, self.probabilities)


def face_json(box: Sequence[float], score: float, emotion: str, probabilities: Mapping[str, float]) -> dict:
    """`{"box": [x1, y1, x2, y2], "score", "emotion", "probabilities": {name: p}}`, rounded."""
    return {
        "box": [round(float(v), 1) for v in box],
        "score": round(float(score), DIGITS),
        "emotion": emotion,
        "probabilities": {name: round(float(p), DIGITS) for name, p in probabilities.items()},
    }
