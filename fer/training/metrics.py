"""Classification figures that do not hide rare classes: accuracy, macro recall, macro-F1, confusion."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from fer.labels import EMOTIONS


@dataclass
class Report:
    """Figures of one evaluation; `confusion[i][j]` counts true class i predicted as j."""

    n: int
    accuracy: float
    macro_recall: float
    macro_f1: float
    recall: dict[str, float]
    precision: dict[str, float]
    confusion: list[list[int]]
    no_face: int = 0  # faces the detector missed (end-to-end figures count them as wrong)
    support: dict[str, int] | None = None  # faces per true class, missed ones included

    def line(self) -> str:
        weakest = min(self.present(), key=self.recall.get)
        return (
            f"acc {self.accuracy:.2%}  macro-recall {self.macro_recall:.2%}  macro-F1 {self.macro_f1:.2%}  "
            f"weakest {weakest} {self.recall[weakest]:.0%}"
        )

    def present(self) -> list[str]:
        """The classes with at least one face (those the macros average over)."""
        support = self.support or {name: sum(row) for name, row in zip(EMOTIONS, self.confusion, strict=True)}
        return [name for name in EMOTIONS if support[name]]

    def table(self) -> str:
        rows = ["| class | n | recall | precision |", "|---|---|---|---|"]
        for i, name in enumerate(EMOTIONS):
            n = self.support[name] if self.support else sum(self.confusion[i])
            if not n:
                continue
            rows.append(f"| {name} | {n} | {self.recall[name]:.1%} | {self.precision[name]:.1%} |")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return asdict(self)


def report(targets: torch.Tensor, predictions: torch.Tensor) -> Report:
    """Figures from true and predicted class indices (classes absent from targets are left out of macros).

    A prediction of -1 means no face was found: it counts as wrong, and stays out of the confusion matrix."""
    k = len(EMOTIONS)
    found = predictions >= 0
    confusion = torch.bincount(targets[found] * k + predictions[found], minlength=k * k).reshape(k, k).double()
    support, predicted = torch.bincount(targets, minlength=k).double(), confusion.sum(0)
    tp = confusion.diag()
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    f1 = torch.where(recall + precision > 0, 2 * recall * precision / (recall + precision).clamp(min=1e-12), tp * 0)
    present = support > 0
    return Report(
        n=int(support.sum()),
        accuracy=float(tp.sum() / support.sum().clamp(min=1)),
        macro_recall=float(recall[present].mean()),
        macro_f1=float(f1[present].mean()),
        recall={name: float(recall[i]) for i, name in enumerate(EMOTIONS)},
        precision={name: float(precision[i]) for i, name in enumerate(EMOTIONS)},
        confusion=confusion.long().tolist(),
        no_face=int((~found).sum()),
        support={name: int(support[i]) for i, name in enumerate(EMOTIONS)},
    )


def selection_score(result: Report, criterion: str) -> float:
    """The number model selection maximises: 'accuracy', 'macro_recall' or 'balanced' (their mean)."""
    if criterion == "accuracy":
        return result.accuracy
    if criterion == "macro_recall":
        return result.macro_recall
    return (result.accuracy + result.macro_recall) / 2
