"""Turn a finished run into the shipped model folder: prior correction, honest test figures, model card."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from fer import checkpoint
from fer.audit import AuditResult
from fer.data import DatasetSplits, FaceSet
from fer.evaluation import (
    corrected_logits,
    fit_prior_correction,
    fold_prior_correction,
    plot_confusion,
    predict_logits,
)
from fer.metrics import Report, report
from fer.model import new_classifier, save_classifier
from fer.preprocess import InputSpec

CONFUSION_PNG = "confusion_matrix.png"
METRICS_JSON = "metrics.json"


@dataclass
class ReleaseFigures:
    """What the model card reports."""

    run: str
    best_epoch: int
    epochs: int
    prior_tau: float
    val: Report
    test: Report | None
    clean_test: Report | None
    clean_test_removed: int
    settings: dict
    test_uncorrected: Report | None = None  # the same weights without the prior correction (tau = 0)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("val", "test", "clean_test", "test_uncorrected"):
            value = getattr(self, key)
            data[key] = value.to_dict() if value is not None else None
        return data


def clean_indices(test: FaceSet, audit_result: AuditResult) -> list[int]:
    """Indices of the test images without an exact or near copy in train."""
    leaked = audit_result.leaked("test", "train")
    return [i for i, path in enumerate(test.paths) if str(Path(path).resolve()) not in leaked]


def export_run(
    run_dir: Path,
    splits: DatasetSplits,
    out_dir: Path,
    audit_result: AuditResult | None,
    margin: float | None = None,
    tau: float | None = None,
) -> ReleaseFigures:
    """Best weights + prior correction (chosen on val unless `tau` is given) -> save_for_hf folder, metrics, PNG."""
    run_dir = Path(run_dir)
    best = checkpoint.load(run_dir / "best.ckpt")
    last = checkpoint.load(run_dir / "last.ckpt")
    config = last["config"]
    spec = InputSpec(**best["spec"])
    if margin is not None:
        spec = InputSpec(spec.size, spec.mean, spec.std, margin)
    model = new_classifier(drop_rate=config.get("drop_rate", 0.0))
    model.load_state_dict(best["model"])
    model.eval()
    prior = torch.tensor(splits.train.class_counts(), dtype=torch.float32)
    prior /= prior.sum()
    val_logits = predict_logits(model, splits.val.crops, spec)
    if tau is None:
        tau, val_report = fit_prior_correction(val_logits, splits.val.labels, prior)
    else:
        val_report = report(splits.val.labels, corrected_logits(val_logits, prior, tau).argmax(1))
    test_report = clean_report = uncorrected = None
    removed = 0
    if splits.test is not None:  # the folded bias below gives exactly these corrected logits
        test_logits = predict_logits(model, splits.test.crops, spec)
        uncorrected = report(splits.test.labels, test_logits.argmax(1))
        predictions = corrected_logits(test_logits, prior, tau).argmax(1)
        test_report = report(splits.test.labels, predictions)
        if audit_result is not None:
            keep = clean_indices(splits.test, audit_result)
            clean_report = report(splits.test.labels[keep], predictions[keep])
            removed = len(splits.test) - len(keep)
    fold_prior_correction(model, prior, tau)
    figures = ReleaseFigures(
        run=run_dir.name,
        best_epoch=best["epoch"],
        epochs=last["epochs_done"],
        prior_tau=tau,
        val=val_report,
        test=test_report,
        clean_test=clean_report,
        clean_test_removed=removed,
        settings=config,
        test_uncorrected=uncorrected,
    )
    save_classifier(model, out_dir, spec, extra={"prior_correction_tau": tau})
    (Path(out_dir) / METRICS_JSON).write_text(json.dumps(figures.to_dict(), indent=1))
    shown = test_report or val_report
    plot_confusion(shown, Path(out_dir) / CONFUSION_PNG, f"FER+ {'test' if test_report else 'val'} (n={shown.n})")
    return figures
