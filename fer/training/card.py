"""Render the model card (fer/model_card_template.md, Jinja) with the figures of a release."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from fer.labels import EMOTIONS
from fer.model import DEFAULT_MODEL_DIR, read_model_info
from fer.training.metrics import Report

TEMPLATE = Path(__file__).resolve().parent / "model_card_template.md"
REPO_CARD = Path(__file__).resolve().parents[2] / "model_card.md"  # the bundled model's card, at the top
WEAK_RECALL = 0.75  # below this recall, or WEAK_PRECISION precision, a class is named weak in the card
WEAK_PRECISION = 0.5
RUNS_LOG = "runs.jsonl"  # one row per exported run, next to the run folders; rendered into the model card
NON_COMMERCIAL = {"rafdb", "affectnet"}
# where each training set comes from and on what terms (named in the card of a model trained on it)
DATA_TERMS = {
    "ferplus": "FER+ (FER2013 faces, Microsoft's FER+ crowd labels; labels MIT, FER2013 pixels research use)",
    "rafdb": "RAF-DB basic (Li, Deng, Du, CVPR 2017): non-commercial research use only, no redistribution",
    "affectnet": "an AffectNet subset (Mollahosseini et al. 2017), with FFHQ faces: non-commercial research use",
    "twposed": "Taiwanese facial expression database, performers 01-15 only (academic, on request): research use",
    "lfwexpr": "muxspace/facial_expressions web portraits (repository Apache-2.0; photos scraped): research use",
}


def pct(value: float) -> str:
    return f"{value:.2%}"


def _report(data: dict | None) -> Report | None:
    return Report(**data) if data else None


def runs_rows(runs_file: Path) -> list[dict]:
    """One row per line of the runs log (JSON lines written by `train.py export`)."""
    if not runs_file.is_file():
        return []
    return [json.loads(line) for line in runs_file.read_text().splitlines() if line.strip()]


def run_row(figures: dict) -> dict:
    """The run-table row of one release."""
    s = figures["settings"]
    summary = (
        f"{'from ' + s['init'] if s.get('init') else 'from scratch'}, "
        f"{s['optimizer']} lr {s['lr']}, bs {s['batch_size']}, ls {s['label_smoothing']}, drop {s['drop_rate']}, "
        f"{'soft labels' if s.get('soft_labels') else 'hard labels'}, balance {s['balance']}, "
        f"EMA {s['ema_decay'] or 'off'}, select {s['select']}, tau {figures['prior_tau']:.2f}"
    )
    if s.get("mix"):
        summary += (
            f", T {figures.get('temperature', 1.0):.2f}, mix {' '.join(s['mix'])}, {s.get('epoch_size')} images/epoch, "
            f"low-res {s.get('low_res')}, crop scale {s.get('scale_min')}, rotation {s.get('rotation')}, "
            f"erasing {s.get('erasing')}"
        )
    if s.get("mixup"):
        summary += f", mixup {s['mixup']}"
    if figures.get("flip_average"):
        summary += ", served with flip averaging"
    test = figures.get("test") or {}
    uncorrected = figures.get("test_uncorrected") or {}
    sets = ", ".join(
        f"{item['name']} {item['how']} {pct(item['report']['accuracy'])}" for item in figures.get("sets") or []
    )
    return {
        "sets": sets or "n/a",
        "run": figures["run"],
        "summary": summary,
        "epochs": figures["epochs"],
        "best_epoch": figures["best_epoch"],
        "val_acc": pct(figures["val"]["accuracy"]),
        "val_mr": pct(figures["val"]["macro_recall"]),
        "test_acc": pct(test["accuracy"]) if test else "n/a",
        "test_mr": pct(test["macro_recall"]) if test else "n/a",
        "test_acc_tau0": pct(uncorrected["accuracy"]) if uncorrected else "n/a",
        "test_mr_tau0": pct(uncorrected["macro_recall"]) if uncorrected else "n/a",
    }


def settings_mix(settings: dict) -> list[dict]:
    """The training sets of a run (its --mix, else its one dataset) with their terms."""
    mix = settings.get("mix") or []
    return [
        {"entry": entry, "terms": DATA_TERMS.get(entry.split(":")[0].split("=")[0], "see the dataset's README")}
        for entry in mix
    ]


def render_card(
    figures: dict, model_id: str, margin: float, mean: float, std: float, runs: list[dict], audit_summary: str
) -> str:
    """The model card text, with Hub metadata (library timm, image-classification, datasets, model-index)."""
    from fer.training.suite import SetFigures

    test, val, clean = _report(figures.get("test")), _report(figures["val"]), _report(figures.get("clean_test"))
    sets = [SetFigures.from_dict(item) for item in figures.get("sets") or []]
    ferplus = next((f for f in sets if f.name == "ferplus"), None)
    shown = test or (ferplus.report if ferplus else val)
    eval_results = [
        EvalResult(
            task_type="image-classification",
            dataset_type="ferplus",
            dataset_name="FER+ (FER2013 PrivateTest)",
            dataset_split="test",
            metric_type=name,
            metric_name=label,
            metric_value=round(value * 100, 2),
        )
        for name, label, value in (
            ("accuracy", "Accuracy", shown.accuracy),
            ("recall", "Macro recall", shown.macro_recall),
            ("f1", "Macro F1", shown.macro_f1),
        )
    ]
    mix = settings_mix(figures["settings"])
    names = [m["entry"].split(":")[0].split("=")[0] for m in mix] or ["ferplus"]
    card_data = ModelCardData(
        library_name="timm",
        pipeline_tag="image-classification",
        # trained on research-only sets, the weights are too: no open licence can be claimed for them
        license="other" if set(names) & NON_COMMERCIAL else "mit",
        license_name="research-only" if set(names) & NON_COMMERCIAL else None,
        datasets=[*names, "fer2013"] if "ferplus" in names else names,
        metrics=["accuracy", "recall", "f1"],
        tags=["facial-expression-recognition", "emotion", "timm", "resnet18"],
        model_name="fer-resnet18",
        eval_results=eval_results,
    )
    uncorrected = _report(figures.get("test_uncorrected"))
    uncorrected_weakest = ""
    if uncorrected is not None:
        name = min(uncorrected.recall, key=uncorrected.recall.get)
        uncorrected_weakest = f"{name} {pct(uncorrected.recall[name])}"
    weak = [
        f"{name} (recall {pct(shown.recall[name])}, precision {pct(shown.precision[name])})"
        for name in EMOTIONS
        if shown.recall[name] < WEAK_RECALL or shown.precision[name] < WEAK_PRECISION
    ]
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        model_name="fer-resnet18",
        model_id=model_id,
        labels=list(EMOTIONS),
        margin=margin,
        mean=mean,
        std=std,
        pct=pct,
        test=shown,
        val=val,
        clean_test=clean,
        clean_removed=figures.get("clean_test_removed", 0),
        per_class=shown.table(),
        weak=", ".join(weak) + "."
        if weak
        else f"none below {WEAK_RECALL:.0%} recall or {WEAK_PRECISION:.0%} precision.",
        tau=f"{figures['prior_tau']:.2f}",
        settings=figures["settings"],
        runs=runs,
        sets=sets,
        mix=mix,
        temperature=f"{figures.get('temperature', 1.0):.3f}",
        val_ece=figures.get("val_ece"),
        audit=audit_summary.replace("\n", "  \n"),
        uncorrected=uncorrected,
        uncorrected_weakest=uncorrected_weakest,
        flip_average=figures.get("flip_average", False),
    )
    return str(card)


def publish_card(figures: dict, run_dir: Path, out: Path, audit_summary: str) -> None:
    """Add the run to the runs log beside `run_dir`, write `out`/README.md (and the repo's card for the bundled model)."""
    row = run_row(figures)
    runs_log = Path(run_dir).parent / RUNS_LOG
    rows = [r for r in runs_rows(runs_log) if r["run"] != row["run"]] + [row]
    runs_log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = read_model_info(f"local-dir:{out}", Path(out)).spec
    card = render_card(figures, f"local-dir:{out}", spec.margin, spec.mean, spec.std, rows, audit_summary)
    (Path(out) / "README.md").write_text(card)
    if Path(out).resolve() == DEFAULT_MODEL_DIR.resolve():
        REPO_CARD.write_text(card)
