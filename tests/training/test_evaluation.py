"""Figures and the prior correction that trades accuracy for balance across the 7 emotions."""

from __future__ import annotations

import pytest
import torch

from fer.labels import EMOTIONS
from fer.model import new_classifier
from fer.training.calibration import fit_temperature, fit_temperature_over_sets
from fer.training.evaluation import fit_prior_correction, fold_prior_correction
from fer.training.metrics import report, selection_score

K = len(EMOTIONS)
SEPARATION = 1.5  # class means 1.5 apart in unit-variance noise


def test_report_leaves_absent_classes_out_of_the_macros() -> None:
    targets = torch.tensor([0, 0, 0, 1, 3, 3])
    predictions = torch.tensor([0, 0, 3, 1, 3, 0])
    result = report(targets, predictions)
    assert result.n == 6 and abs(result.accuracy - 4 / 6) < 1e-9
    assert abs(result.macro_recall - (2 / 3 + 1 + 1 / 2) / 3) < 1e-9  # only angry, disgust, happy occur
    assert result.confusion[0] == [2, 0, 0, 1, 0, 0, 0]
    assert abs(selection_score(result, "balanced") - (result.accuracy + result.macro_recall) / 2) < 1e-9


def _skewed_logits(prior: torch.Tensor, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced labels scored by a model that adds log(prior): rare classes lose their close calls."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(K).repeat_interleave(per_class)
    features = SEPARATION * torch.nn.functional.one_hot(labels, K) + torch.randn(len(labels), K, generator=generator)
    return SEPARATION * features + prior.log(), labels  # the Bayes log-posterior under `prior`, up to a constant


def test_prior_correction_restores_the_rare_classes() -> None:
    prior = torch.tensor([0.1, 0.005, 0.02, 0.3, 0.12, 0.1, 0.355])
    logits, labels = _skewed_logits(prior, per_class=400)
    uncorrected = report(labels, logits.argmax(1))
    tau, corrected = fit_prior_correction(logits, labels, prior, max_accuracy_drop=1.0)
    assert 0.7 <= tau <= 1.3  # the skew added is exactly log(prior), i.e. tau = 1
    assert uncorrected.recall["disgust"] < 0.2 < 0.5 < corrected.recall["disgust"]
    assert corrected.macro_recall > uncorrected.macro_recall + 0.08


def test_prior_correction_keeps_tau_near_zero_when_logits_are_balanced() -> None:
    prior = torch.tensor([0.1, 0.005, 0.02, 0.3, 0.12, 0.1, 0.355])
    logits, labels = _skewed_logits(torch.full((K,), 1.0 / K), per_class=400)
    tau, _ = fit_prior_correction(logits, labels, prior, max_accuracy_drop=1.0)
    assert tau <= 0.15


def test_prior_correction_gives_up_at_most_the_allowed_accuracy() -> None:
    """Imbalanced labels, as in FER+ val: correcting fully would cost accuracy; the drop stays within 1 point."""
    prior = torch.tensor([0.1, 0.005, 0.02, 0.3, 0.12, 0.1, 0.355])
    logits, labels = _skewed_logits(prior, per_class=400)
    keep = torch.cat([torch.nonzero(labels == k)[: max(8, int(prior[k] * 2800))].flatten() for k in range(K)])
    logits, labels = logits[keep], labels[keep]
    uncorrected = report(labels, logits.argmax(1))
    tau, corrected = fit_prior_correction(logits, labels, prior)
    _, unlimited = fit_prior_correction(logits, labels, prior, max_accuracy_drop=1.0)
    assert 0 < tau < 1
    assert uncorrected.accuracy - 0.01 <= corrected.accuracy < uncorrected.accuracy
    assert unlimited.accuracy < uncorrected.accuracy - 0.01  # the limit is what holds the accuracy
    assert corrected.macro_recall > uncorrected.macro_recall


def test_folded_correction_predicts_like_corrected_logits() -> None:
    torch.manual_seed(0)
    model = new_classifier().eval()
    prior = torch.tensor([0.1, 0.005, 0.02, 0.3, 0.12, 0.1, 0.355])
    images = torch.randn(4, 1, 75, 75)
    with torch.no_grad():
        before = model(images)
        fold_prior_correction(model, prior, 0.6)
        after = model(images)
    assert torch.allclose(after, before - 0.6 * prior.log(), atol=1e-5)


def test_temperature_over_sets_counts_each_set_alike() -> None:
    """A big set that wants T = 1 and a small overconfident one: pooled, the big set decides; over sets, both."""
    generator = torch.Generator().manual_seed(0)
    big_labels = torch.randint(0, 7, (4000,), generator=generator)
    big = torch.nn.functional.one_hot(big_labels, 7).float() * 2.0 + torch.randn(4000, 7, generator=generator)
    small_labels = torch.randint(0, 7, (200,), generator=generator)
    small = torch.randn(200, 7, generator=generator) * 6.0  # confident and mostly wrong
    pooled = fit_temperature(torch.cat([big, small]), torch.cat([big_labels, small_labels]))
    over_sets = fit_temperature_over_sets([(big, big_labels), (small, small_labels)])
    assert over_sets > pooled * 1.5
    assert fit_temperature_over_sets([(big, big_labels)]) == pytest.approx(fit_temperature(big, big_labels))
