"""What `fer-train`'s subcommands do (fer/cli/train.py parses their options)."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch

from fer.cli.common import EXIT_INPUT_FAILED, EXIT_INTERRUPTED, EXIT_OK, fail
from fer.labels import emotion_order
from fer.model import IMAGE_SIZE, load_classifier
from fer.runtime import use_serving_threads
from fer.training.audit import AuditResult, audit
from fer.training.bench import benchmark
from fer.training.config import TrainConfig
from fer.training.data import load_dataset, load_split
from fer.training.evaluation import plot_confusion, predict_logits
from fer.training.hub import PushError, push_folder
from fer.training.leaks import CrossSetLeaks, cross_set_leaks
from fer.training.metrics import Report, report, selection_score
from fer.training.suite import SetFigures
from fer.training.trainer import Trainer


def _audit_for(data: Path, audit_file: Path | None) -> AuditResult:
    if audit_file and Path(audit_file).is_file():
        return AuditResult.load(audit_file)
    print("auditing the dataset for duplicates (pass --audit FILE to reuse a saved audit)...")
    return audit(data)


def _splits(args: argparse.Namespace, config: TrainConfig):
    if getattr(args, "mix", None):
        from fer.training.mix import MixEntry, load_mix

        cross_leaks = _load_leaks(args.leaks)
        excluded = cross_leaks.excluded if cross_leaks else None
        entries = [MixEntry.parse(text) for text in args.mix]
        soft = Path(config.soft_labels) if config.soft_labels else None
        splits = load_mix(entries, args.cache_dir, args.data_dir, excluded, soft, args.val_fraction, config.seed)
        print(f"train: {splits.train.summary()}")
        for name, faces in splits.val_sets.items():
            print(f"val {name}: {faces.summary()}")
        return splits
    if args.data is None:
        raise ValueError("Pass --data FOLDER or --mix NAME=WEIGHT ...")
    splits = load_dataset(
        args.data, IMAGE_SIZE, Path(config.soft_labels) if config.soft_labels else None, args.val_fraction, config.seed
    )
    print(f"train: {splits.train.summary()}")
    print(f"val:   {splits.val.summary()}")
    if splits.test is not None:
        print(f"test:  {splits.test.summary()}")
    return splits


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def fit(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = _config(args)
    splits = _splits(args, config)
    trainer = Trainer(splits, config, args.run_dir, args.device)
    if args.resume:
        trainer.resume()
        print(f"resumed after epoch {trainer.start_epoch}")
    try:
        trainer.fit()
    except KeyboardInterrupt:
        fail(f"Interrupted. Continue with the same command plus --resume (checkpoint: {args.run_dir / 'last.ckpt'}).")
        return EXIT_INTERRUPTED
    if trainer.rank != 0:  # under torchrun only rank 0 evaluates, exports and pushes
        return EXIT_OK
    if args.mix:
        print(f"done; export with: train.py export --run-dir {args.run_dir} --mix ... (the same sets)")
        return EXIT_OK
    out = args.export or args.run_dir / "model"
    _release(args.run_dir, splits, out, args.data, args.audit, None, None)
    if args.push_to_hub:
        return _push(out, args.push_to_hub)
    return EXIT_OK


def _release(
    run_dir: Path,
    splits,
    out: Path,
    data: Path,
    audit_file: Path | None,
    margin: float | None,
    tau: float | None,
    temperature: float | None = None,
    args: argparse.Namespace | None = None,
    config: TrainConfig | None = None,
    **options: object,
) -> None:
    """Export a run (`options`: export_run's flip_average, detail, calibrate_per_set), print its figures."""
    from fer.training.card import publish_card
    from fer.training.release import export_run

    audit_result = _audit_for(data, audit_file) if splits.test is not None else None
    mix = bool(args is not None and getattr(args, "mix", None))
    cross_leaks = _load_leaks(args.leaks) if mix else None
    leaked = cross_leaks.test_leaked if cross_leaks else None
    data_dir = args.data_dir if mix and not getattr(args, "val_only", False) else None
    settings = asdict(config) if config is not None else None
    figures = export_run(
        run_dir, splits, out, audit_result, margin, tau, temperature, data_dir, leaked, settings, **options
    ).to_dict()
    publish_card(figures, run_dir, out, audit_text(audit_result, cross_leaks))
    for name in ("val", "test", "clean_test"):
        if figures.get(name):
            print(f"{name:10s} {Report(**figures[name]).line()}")
    if figures.get("val_sets"):
        scores = [selection_score(Report(**r), "balanced") for r in figures["val_sets"].values()]
        print(f"val score (mean over the sets of (accuracy + macro recall) / 2): {sum(scores) / len(scores):.4f}")
    if figures.get("val_set_ece"):
        print("val ECE after the temperature: " + ", ".join(f"{k} {v:.3f}" for k, v in figures["val_set_ece"].items()))
    for item in figures.get("sets") or []:
        print(_set_line(SetFigures.from_dict(item)))
    print(
        f"prior correction tau {figures['prior_tau']:.2f}, temperature {figures['temperature']:.3f}, "
        f"flip average {'on' if figures['flip_average'] else 'off'}; exported to {out}"
    )


def audit_text(audit_result: AuditResult | None, leaks: CrossSetLeaks | None) -> str:
    """The card's data audit: a dataset's own train/test audit, or a mix's leaks across all its sets."""
    if audit_result is not None:
        return audit_result.summary()
    if leaks is not None:
        header = "Test images with a copy or near copy in a training set, by 64-bit pHash of the cached crops:"
        return f"{header}\n{leaks.summary()}"
    return "No test split, no audit."


def export(args: argparse.Namespace) -> int:
    last = torch.load(args.run_dir / "last.ckpt", map_location="cpu", weights_only=True)
    config = TrainConfig.from_saved(last["config"])
    if args.soft_labels:
        config.soft_labels = str(args.soft_labels)
    config.mix = config.mix or args.mix
    args.val_fraction = getattr(args, "val_fraction", 0.1)
    splits = _splits(args, config)
    _release(
        args.run_dir,
        splits,
        args.out,
        args.data,
        args.audit,
        args.margin,
        args.tau,
        args.temperature,
        args,
        config,
        flip_average=args.flip_average,
        detail=args.detail,
        calibrate_per_set=args.temperature_over == "sets",
    )
    return EXIT_OK


def _load_leaks(leaks_file: Path | None) -> CrossSetLeaks | None:
    return CrossSetLeaks.load(leaks_file) if leaks_file else None


def _set_line(figures: SetFigures) -> str:
    line = f"{figures.title:28s} {figures.report.line()}  ECE {figures.ece_uncalibrated:.3f} -> {figures.ece:.3f}"
    if figures.report.no_face:
        line += f"  no face {figures.report.no_face}"
    if figures.clean is not None:
        line += f"\n{'  clean (-' + str(figures.clean_removed) + ' leaked)':28s} {figures.clean.line()}"
    return line


def evaluate_sets(args: argparse.Namespace) -> int:
    """Every test set under --data-dir on its own, through the public API."""
    from fer.recognizer import EmotionRecognizer
    from fer.training.suite import evaluate_suite

    recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend)
    use_serving_threads(recognizer.backend)
    print(f"{recognizer.model_id}: {recognizer.runtime}")
    cross_leaks = _load_leaks(args.leaks)
    leaked = cross_leaks.test_leaked if cross_leaks else None
    sets = evaluate_suite(recognizer, args.data_dir, recognizer.info.temperature, leaked)
    if not sets:
        raise ValueError(f"No test sets under {args.data_dir} (expected ferplus/test, rafdb/test, twposed/test).")
    for figures in sets:
        print(_set_line(figures))
        print(figures.report.table())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "metrics.json").write_text(json.dumps([f.to_dict() for f in sets], indent=1))
        for figures in sets:
            name = f"confusion_{figures.name}_{figures.how.replace(' ', '_')}.png"
            plot_confusion(figures.report, args.out / name, f"{figures.title} (n={figures.report.n})")
        print(f"wrote {args.out / 'metrics.json'} and the confusion matrices")
    return EXIT_OK


def evaluate(args: argparse.Namespace) -> int:
    if args.data is None:
        return evaluate_sets(args)
    model, info = load_classifier(args.model)
    split = load_split(Path(args.data) / args.split, info.spec.size)
    print(f"{args.split}: {split.summary()}")
    order = torch.tensor(emotion_order(info.label_names))
    predictions = predict_logits(model, split.crops, info.spec, flip_average=info.flip_average)[:, order].argmax(1)
    result = report(split.labels, predictions)
    print(f"{args.split:10s} {result.line()}")
    print(result.table())
    figures = {args.split: result.to_dict()}
    if args.split == "test":
        from fer.training.release import clean_indices

        keep = clean_indices(split, _audit_for(args.data, args.audit))
        removed = len(split) - len(keep)
        clean_result = report(split.labels[keep], predictions[keep])
        print(f"clean test (without {removed} images copied or near-copied in train): {clean_result.line()}")
        figures["clean_test"] = clean_result.to_dict()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "metrics.json").write_text(json.dumps(figures, indent=1))
        plot_confusion(result, args.out / "confusion_matrix.png", f"{info.model_id} on {args.split}")
        print(f"wrote {args.out / 'metrics.json'} and confusion_matrix.png")
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    result = audit(args.data, args.max_distance)
    print(result.summary())
    result.save(args.out)
    print(f"duplicate groups written to {args.out}")
    return EXIT_OK


def _push(folder: Path, repo_id: str) -> int:
    try:
        url = push_folder(folder, repo_id, token=os.environ.get("HF_TOKEN"))
    except PushError as err:
        fail(err)
        return EXIT_INPUT_FAILED
    print(f"pushed to {url}")
    return EXIT_OK


def push(args: argparse.Namespace) -> int:
    return _push(args.folder, args.repo_id)


def bench(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = _config(args)
    splits = _splits(args, config)
    raw, loop = benchmark(Trainer(splits, config, args.run_dir, args.device), args.batches)
    print(
        f"raw forward/backward: {raw:.0f} img/s; training loop with data loading: {loop:.0f} img/s "
        f"({loop / raw:.0%} of raw) at batch size {config.batch_size}"
    )
    return EXIT_OK


def average(args: argparse.Namespace) -> int:
    from fer.training.average import average_runs

    out = average_runs(args.sources, args.out, args.weights)
    print(f"averaged {len(args.sources)} sources into {out}; export it with train.py export --run-dir {out}")
    return EXIT_OK


def prepare(args: argparse.Namespace) -> int:
    from fer.training.crops import MANIFEST, prepare_dataset

    summary = prepare_dataset(args.data, args.out, IMAGE_SIZE, workers=args.workers)
    print("\n".join(summary.lines()))
    print(f"crops and {MANIFEST} written to {args.out}")
    return EXIT_OK


def leaks(args: argparse.Namespace) -> int:
    result = cross_set_leaks({name: args.cache_dir / name for name in args.names})
    print(result.summary())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.save(args.out)
    print(f"written to {args.out}; pass it to train.py fit --leaks")
    return EXIT_OK
