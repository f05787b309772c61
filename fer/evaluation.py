"""Evaluate a classifier on decoded face crops; prior correction; confusion-matrix plot."""

from __future__ import annotations

from pathlib import Path

import torch

from fer.data import FaceSet
from fer.labels import EMOTIONS
from fer.metrics import Report, report, selection_score
from fer.preprocess import InputSpec, normalize

EVAL_BATCH = 256


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, crops: torch.Tensor, spec: InputSpec, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Logits for uint8 crops (N, size, size), in batches, in eval mode (the model's mode is restored)."""
    was_training = model.training
    model.eval()
    outputs = [
        model(normalize(crops[i : i + EVAL_BATCH], spec).to(device)).float().cpu()
        for i in range(0, len(crops), EVAL_BATCH)
    ]
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0, len(EMOTIONS))


def evaluate_crops(
    model: torch.nn.Module, faces: FaceSet, spec: InputSpec, device: torch.device | str = "cpu"
) -> Report:
    return report(faces.labels, predict_logits(model, faces.crops, spec, device).argmax(1))


def fit_prior_correction(
    logits: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, criterion: str
) -> tuple[float, Report]:
    """Pick tau (logits - tau * log prior, Menon et al. 2021) that maximises `criterion` on validation."""
    log_prior = prior.clamp(min=1e-6).log()
    best: tuple[float, Report] | None = None
    for step in range(41):
        tau = step * 0.05
        result = report(labels, (logits - tau * log_prior).argmax(1))
        if best is None or selection_score(result, criterion) > selection_score(best[1], criterion) + 1e-9:
            best = (tau, result)
    assert best is not None
    return best


def fold_prior_correction(model: torch.nn.Module, prior: torch.Tensor, tau: float) -> None:
    """Bake the correction into the classifier bias, so plain timm loading predicts the same."""
    with torch.no_grad():
        head = model.get_classifier()
        head.bias -= tau * prior.clamp(min=1e-6).log().to(head.bias)


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
