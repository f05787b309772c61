"""Each test set on its own, the way users meet the model: face crops (`classify_face`) or whole images
through the detector (`predict`, where a face the detector misses counts as wrong)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.training.calibration import expected_calibration_error
from fer.training.data import scan_split
from fer.training.metrics import Report, report

CROPS, END_TO_END = "crops", "end to end"


@dataclass(frozen=True)
class TestSet:
    name: str  # folder under the data directory, with a test/ split
    how: str  # CROPS or END_TO_END


SUITE = (
    TestSet("ferplus", CROPS),
    TestSet("rafdb", CROPS),
    TestSet("rafdb", END_TO_END),
    TestSet("twposed", END_TO_END),
)


@dataclass
class SetFigures:
    """One test set's figures: all of it, and without the images that leak into training."""

    name: str
    how: str
    report: Report
    ece: float  # of the shipped (calibrated) probabilities
    ece_uncalibrated: float  # of the same weights before the temperature
    clean: Report | None
    clean_removed: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SetFigures:
        clean = Report(**data["clean"]) if data.get("clean") else None
        return cls(**{**data, "report": Report(**data["report"]), "clean": clean})

    @property
    def title(self) -> str:
        return f"{self.name}/test ({self.how})"


def _probabilities(recognizer: EmotionRecognizer, path: Path, how: str) -> torch.Tensor | None:
    if how == CROPS:
        return torch.tensor(list(recognizer.classify_face(path).values()))
    faces = recognizer.predict(path)
    return torch.tensor(list(faces[0].probabilities.values())) if faces else None


def evaluate_set(
    recognizer: EmotionRecognizer, root: Path, how: str, temperature: float = 1.0, leaked: list[str] | None = None
) -> SetFigures:
    """Figures of root/test; `temperature` is the one folded into the model (for the uncalibrated ECE)."""
    samples, _ = scan_split(Path(root) / "test")
    labels = torch.tensor([label for _, label in samples])
    probabilities = torch.full((len(samples), len(EMOTIONS)), float("nan"))
    for i, (path, _) in enumerate(tqdm(samples, desc=f"{Path(root).name} {how}", leave=False)):
        p = _probabilities(recognizer, path, how)
        if p is not None:
            probabilities[i] = p
    found = ~probabilities.isnan().any(1)
    predictions = torch.where(found, probabilities.nan_to_num().argmax(1), -1)
    # softmax(T * log p) undoes the folded 1/T: the probabilities of the same weights before calibration
    uncalibrated = (probabilities[found].clamp(min=1e-12).log() * temperature).softmax(1)
    leaked_set = {str(Path(root) / s) for s in leaked or []}
    keep = torch.tensor([str(path) not in leaked_set for path, _ in samples])
    return SetFigures(
        name=Path(root).name,
        how=how,
        report=report(labels, predictions),
        ece=expected_calibration_error(probabilities[found], labels[found]),
        ece_uncalibrated=expected_calibration_error(uncalibrated, labels[found]),
        clean=report(labels[keep], predictions[keep]) if leaked is not None else None,
        clean_removed=int((~keep).sum()),
    )


def evaluate_suite(
    recognizer: EmotionRecognizer,
    data_dir: Path,
    temperature: float = 1.0,
    leaked: dict[str, list[str]] | None = None,
    suite: tuple[TestSet, ...] = SUITE,
) -> list[SetFigures]:
    """Every test set of `suite` found under `data_dir` (sets that are missing are skipped)."""
    return [
        evaluate_set(
            recognizer, Path(data_dir) / t.name, t.how, temperature, None if leaked is None else leaked.get(t.name, [])
        )
        for t in suite
        if (Path(data_dir) / t.name / "test").is_dir()
    ]
