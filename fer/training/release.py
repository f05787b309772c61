"""Turn a finished run into the shipped model folder: prior correction, honest test figures, model card."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from fer.model import new_classifier, save_classifier
from fer.preprocess import InputSpec
from fer.training import checkpoint
from fer.training.audit import AuditResult
from fer.training.calibration import (
    expected_calibration_error,
    fit_temperature,
    fit_temperature_over_sets,
    fold_temperature,
)
from fer.training.data import DatasetSplits, FaceSet, class_prior
from fer.training.evaluation import (
    corrected_logits,
    fit_prior_correction,
    fit_prior_correction_per_set,
    fold_prior_correction,
    plot_confusion,
    predict_logits,
)
from fer.training.metrics import Report, report
from fer.training.suite import SetFigures, evaluate_suite

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
    temperature: float = 1.0  # folded into the classifier after the prior correction
    val_ece: tuple[float, float] | None = None  # (before, after) the temperature, on val
    val_sets: dict[str, Report] | None = None  # per set of a mix
    val_set_ece: dict[str, float] | None = None  # per set of a mix, after the temperature
    sets: list[SetFigures] | None = None  # every test set on its own (train.py export --data-dir)
    flip_average: bool = False  # served logits: the mean over the face and its mirror image

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
    temperature: float | None = None,
    data_dir: Path | None = None,
    leaked: dict[str, list[str]] | None = None,
    settings: dict | None = None,
    flip_average: bool = True,
    detail: int | None = None,
    calibrate_per_set: bool = False,
) -> ReleaseFigures:
    """Best weights + prior correction (chosen on val unless `tau` is given) + temperature (fitted on val unless
    given; 1 keeps the weights) -> save_for_hf folder, metrics, PNG. Every figure, tau and the temperature
    included, is of the logits as served: averaged with the mirror image when `flip_average`. With `data_dir`,
    every test set of the suite is evaluated through the exported model, as users call it. `settings` (for the
    card) default to those saved with the run."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    best = checkpoint.load(run_dir / "best.ckpt")
    last = checkpoint.load(run_dir / "last.ckpt")
    config = last["config"]
    spec = InputSpec(**best["spec"])
    if margin is not None:
        spec = replace(spec, margin=margin)
    if detail is not None:
        spec = replace(spec, detail=detail or None)
    model = new_classifier(drop_rate=config.get("drop_rate", 0.0))
    model.load_state_dict(best["model"])
    model.eval()
    prior = class_prior(splits)
    val_sets = getattr(splits, "val_sets", None) or {}

    def served_logits(crops: torch.Tensor) -> torch.Tensor:
        return predict_logits(model, crops, spec, flip_average=flip_average)

    set_logits = {name: served_logits(faces.crops) for name, faces in val_sets.items()}
    val_logits = torch.cat(list(set_logits.values())) if set_logits else served_logits(splits.val.crops)
    if tau is None and set_logits:
        labels = {name: faces.labels for name, faces in val_sets.items()}
        tau = fit_prior_correction_per_set(set_logits, labels, prior, config.get("select", "balanced"))
    elif tau is None:
        tau, _ = fit_prior_correction(val_logits, splits.val.labels, prior)
    val_logits = corrected_logits(val_logits, prior, tau)
    set_pairs = {
        name: (corrected_logits(logits, prior, tau), val_sets[name].labels) for name, logits in set_logits.items()
    }
    if temperature is None and set_pairs and calibrate_per_set:
        temperature = fit_temperature_over_sets(list(set_pairs.values()))
    elif temperature is None:
        temperature = fit_temperature(val_logits, splits.val.labels)
    val_set_ece = {
        name: expected_calibration_error((logits / temperature).softmax(1), labels)
        for name, (logits, labels) in set_pairs.items()
    }
    val_ece = (
        expected_calibration_error(val_logits.softmax(1), splits.val.labels),
        expected_calibration_error((val_logits / temperature).softmax(1), splits.val.labels),
    )
    val_report = report(splits.val.labels, val_logits.argmax(1))
    val_set_reports = {name: report(labels, logits.argmax(1)) for name, (logits, labels) in set_pairs.items()}
    test_report = clean_report = uncorrected = None
    removed = 0
    if splits.test is not None:  # the folded bias below gives exactly these corrected logits
        test_logits = served_logits(splits.test.crops)
        uncorrected = report(splits.test.labels, test_logits.argmax(1))
        predictions = corrected_logits(test_logits, prior, tau).argmax(1)
        test_report = report(splits.test.labels, predictions)
        if audit_result is not None:
            keep = clean_indices(splits.test, audit_result)
            clean_report = report(splits.test.labels[keep], predictions[keep])
            removed = len(splits.test) - len(keep)
    fold_prior_correction(model, prior, tau)
    fold_temperature(model, temperature)
    extra = {"prior_correction_tau": tau, "temperature": round(temperature, 4), "flip_average": flip_average}
    save_classifier(model, out_dir, spec, extra=extra)
    sets = None
    if data_dir is not None:
        from fer.recognizer import EmotionRecognizer

        sets = evaluate_suite(EmotionRecognizer.from_pretrained(f"local-dir:{out_dir}"), data_dir, temperature, leaked)
        for figures in sets:
            name = f"confusion_{figures.name}_{figures.how.replace(' ', '_')}.png"
            plot_confusion(figures.report, out_dir / name, f"{figures.title} (n={figures.report.n})")
    figures = ReleaseFigures(
        run=run_dir.name,
        best_epoch=best["epoch"],
        epochs=last["epochs_done"],
        prior_tau=tau,
        val=val_report,
        test=test_report,
        clean_test=clean_report,
        clean_test_removed=removed,
        settings=settings or config,
        test_uncorrected=uncorrected,
        temperature=temperature,
        val_ece=val_ece,
        val_sets=val_set_reports or None,
        val_set_ece=val_set_ece or None,
        sets=sets,
        flip_average=flip_average,
    )
    (out_dir / METRICS_JSON).write_text(json.dumps(figures.to_dict(), indent=1))
    shown = test_report or val_report
    plot_confusion(shown, out_dir / CONFUSION_PNG, f"{'test' if test_report else 'val'} (n={shown.n})")
    return figures
