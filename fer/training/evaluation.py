"""Evaluate a classifier on decoded face crops; prior correction; confusion-matrix plot."""

from __future__ import annotations

from pathlib import Path

import torch

from fer.labels import EMOTIONS
from fer.model import classifier_logits
from fer.preprocess import InputSpec, normalize
from fer.training.data import FaceSet
from fer.training.metrics import Report, report, selection_score

EVAL_BATCH = 256
TAU_GRID = tuple(round(step * 0.05, 2) for step in range(41))
MAX_ACCURACY_DROP = 0.01  # accuracy the prior correction may give up for macro recall (issue: 1 point)


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    crops: torch.Tensor,
    spec: InputSpec,
    device: torch.device | str = "cpu",
    flip_average: bool = False,
) -> torch.Tensor:
    """Logits for uint8 crops (N, size, size), in batches, in eval mode (the model's mode is restored);
    `flip_average` as served (`fer.model.classifier_logits`)."""
    was_training = model.training
    model.eval()
    outputs = [
        classifier_logits(model, normalize(crops[i : i + EVAL_BATCH], spec).to(device), flip_average).float().cpu()
        for i in range(0, len(crops), EVAL_BATCH)
    ]
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0, len(EMOTIONS))


def evaluate_crops(
    model: torch.nn.Module, faces: FaceSet, spec: InputSpec, device: torch.device | str = "cpu"
) -> Report:
    return report(faces.labels, predict_logits(model, faces.crops, spec, device).argmax(1))


def corrected_logits(logits: torch.Tensor, prior: torch.Tensor, tau: float) -> torch.Tensor:
    """logits - tau * log prior: favours the rare classes as tau grows (tau = 1 balances a calibrated model)."""
    return logits - tau * prior.clamp(min=1e-6).log().to(logits)


def fit_prior_correction(
    logits: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, max_accuracy_drop: float = MAX_ACCURACY_DROP
) -> tuple[float, Report]:
    """Pick tau (logits - tau * log prior, Menon et al. 2021) on validation: the most macro recall among the
    taus whose accuracy stays within `max_accuracy_drop` of the uncorrected accuracy (ties: more accuracy)."""
    results = [(tau, report(labels, corrected_logits(logits, prior, tau).argmax(1))) for tau in TAU_GRID]
    floor = results[0][1].accuracy - max_accuracy_drop - 1e-9
    return max(
        (item for item in results if item[1].accuracy >= floor), key=lambda i: (i[1].macro_recall, i[1].accuracy)
    )


def fit_prior_correction_per_set(
    logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], prior: torch.Tensor, criterion: str
) -> float:
    """For a mix: the tau with the best mean of the sets' selection scores on their val data (the rule that
    selects epochs), so no one set's class balance decides for the others."""

    def mean_score(tau: float) -> float:
        scores = [
            selection_score(report(labels[name], corrected_logits(logits[name], prior, tau).argmax(1)), criterion)
            for name in logits
        ]
        return sum(scores) / len(scores)

    return max(TAU_GRID, key=mean_score)


def fold_prior_correction(model: torch.nn.Module, prior: torch.Tensor, tau: float) -> None:
    """Bake the correction into the classifier bias, so plain timm loading predicts the same."""
    with torch.no_grad():
        head = model.get_classifier()
        head.bias.copy_(corrected_logits(head.bias, prior, tau))


def plot_confusion(result: Report, path: Path, title: str) -> Path:
    """Row-normalised confusion matrix as a PNG (counts in each cell)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = torch.tensor(result.confusion, dtype=torch.float64)
    rates = counts / counts.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            color = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, f"{rates[i, j]:.0%}\n{int(counts[i, j])}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45)
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
