"""Probabilities that mean something: a temperature fitted on validation logits, and the calibration error."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F

ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 100) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T) (Guo et al. 2017)."""
    return fit_temperature_over_sets([(logits, labels)], steps)


def fit_temperature_over_sets(sets: Sequence[tuple[torch.Tensor, torch.Tensor]], steps: int = 100) -> float:
    """The temperature T minimising the mean over `sets` (logits, labels) of each set's negative log-likelihood:
    every set counts alike, however many faces it has, since serving cannot tell which domain a face is from."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.stack([F.cross_entropy(logits / log_t.exp(), labels) for logits, labels in sets]).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins, weighted by size."""
    confidence, predicted = probabilities.max(1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += float(inside.double().mean() * (confidence[inside].double().mean() - correct[inside].mean()).abs())
    return ece


def fold_temperature(model: torch.nn.Module, temperature: float) -> None:
    """Divide the classifier by T, so plain timm loading gives the calibrated probabilities."""
    with torch.no_grad():
        head = model.get_classifier()
        head.weight.div_(temperature)
        head.bias.div_(temperature)
