"""`fer-train` / `python train.py`: train, evaluate, audit and publish the emotion classifier; see `--help`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import torch

from fer.cli import train_commands as jobs
from fer.cli.common import EXIT_MODEL_FAILED, add_backend_option, add_model_option, fail, run
from fer.model import ModelError
from fer.training.config import TrainConfig


def add_mix_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mix",
        nargs="+",
        default=None,
        metavar="NAME[:FRAMING]=WEIGHT",
        help="cached sets instead of --data, e.g. ferplus:native=0.35 rafdb:both=0.2 (see train.py prepare); "
        "WEIGHT is the set's share of each epoch, FRAMING detector (default), native or both",
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"), help="crop caches of --mix, one per set")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="dataset folders of --mix")
    parser.add_argument("--leaks", type=Path, default=None, help="train.py leaks JSON: sources kept out of --mix")
    parser.add_argument(
        "--val-only", action="store_true", help="export scored on val only: no test set is read (choosing candidates)"
    )


def add_fit_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument(
        "--data", type=Path, default=None, help="folder with train/ [val/] [test/], one folder per class"
    )
    add_mix_options(parser)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/ferplus"), help="checkpoints and reports")
    parser.add_argument("--resume", action="store_true", help="continue run-dir/last.ckpt")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=device, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="held out of train when there is no val/")
    parser.add_argument("--export", type=Path, default=None, help="export folder (default: run-dir/model)")
    parser.add_argument("--audit", type=Path, default=None, help="saved audit JSON for the clean-test figures")
    parser.add_argument("--push-to-hub", default=None, metavar="ORG/NAME", help="push the export to the Hub")
    for f in fields(TrainConfig):
        if f.name == "mix":  # added by add_mix_options
            continue
        flag, help_text, choices = "--" + f.name.replace("_", "-"), f.metadata["help"], f.metadata["choices"]
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        else:
            kind = float if isinstance(f.default, float) else int if isinstance(f.default, int) else str
            parser.add_argument(flag, type=kind, default=getattr(defaults, f.name), choices=choices, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-train", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="train, then evaluate, export and optionally push")
    add_fit_options(fit)
    fit.set_defaults(func=jobs.fit)
    bench = commands.add_parser("bench", help="training-loop img/s against raw forward/backward img/s")
    bench.set_defaults(func=jobs.bench)
    add_fit_options(bench)
    bench.add_argument("--batches", type=int, default=20, help="batches timed for each figure (default %(default)s)")

    export = commands.add_parser("export", help="a run's best weights -> timm save_for_hf folder + model card")
    export.set_defaults(func=jobs.export)
    export.add_argument("--run-dir", type=Path, required=True, help="the run folder (its checkpoints, from fit)")
    export.add_argument("--data", type=Path, default=None, help="the dataset the run was trained on (or --mix)")
    add_mix_options(export)
    export.add_argument("--soft-labels", type=Path, default=None, help="the votes CSV the run was trained with")
    export.add_argument(
        "--out", type=Path, default=Path("models/fer-resnet18"), help="export folder (default: %(default)s)"
    )
    export.add_argument("--audit", type=Path, default=None, help="saved audit JSON (else the audit runs)")
    export.add_argument("--margin", type=float, default=None, help="face crop margin stored for serving")
    export.add_argument(
        "--detail", type=int, default=None, help="serve through a DETAIL px bottleneck (default: the run's; 0: none)"
    )
    export.add_argument("--tau", type=float, default=None, help="prior correction (default: chosen on val; 0: none)")
    export.add_argument(
        "--temperature", type=float, default=None, help="calibration temperature (default: fitted on val; 1: none)"
    )
    export.add_argument(
        "--temperature-over",
        choices=("pooled", "sets"),
        default="pooled",
        help="fit the temperature on pooled val (default) or on the mean of the val sets' NLLs (each set counts alike)",
    )
    export.add_argument(
        "--flip-average",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the mean logits of each face and its mirror image (config.json; tau, temperature and figures "
        "are fitted and measured that way)",
    )

    evaluate = commands.add_parser("evaluate", help="accuracy, macro recall/F1, per class, confusion, clean test")
    evaluate.set_defaults(func=jobs.evaluate)
    add_model_option(evaluate)
    add_backend_option(evaluate)
    evaluate.add_argument(
        "--data", type=Path, default=None, help="one dataset's --split (default: every test set under --data-dir)"
    )
    evaluate.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="folder of the test sets")
    evaluate.add_argument("--leaks", type=Path, default=None, help="train.py leaks JSON, for clean-test figures")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"], help="split of --data")
    evaluate.add_argument("--audit", type=Path, default=None, help="saved audit JSON (else the audit runs)")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for metrics.json + confusion_matrix.png")

    audit = commands.add_parser("audit", help="exact and near duplicates within and across splits")
    audit.set_defaults(func=jobs.run_audit)
    audit.add_argument("--data", type=Path, required=True, help="folder with train/ [val/] [test/]")
    audit.add_argument("--out", type=Path, default=Path("audit.json"), help="the audit JSON (default: %(default)s)")
    audit.add_argument("--max-distance", type=int, default=4, help="max pHash Hamming distance of a near copy")

    average = commands.add_parser("average", help="a run folder holding the mean of runs' weights, to export")
    average.set_defaults(func=jobs.average)
    average.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="run folders (their best weights), epoch weights kept by fit --keep-epochs (RUN/epoch-NNN.ckpt) "
        "or exported model ids (local-dir:PATH, hf-hub:ORG/NAME)",
    )
    average.add_argument(
        "--weights", type=float, nargs="+", default=None, metavar="W", help="one weight per source (default: equal)"
    )
    average.add_argument("--out", type=Path, required=True, help="new run folder for `train.py export`")

    prepare = commands.add_parser("prepare", help="detect and crop a dataset once, as serving does, into a cache")
    prepare.set_defaults(func=jobs.prepare)
    prepare.add_argument("--data", type=Path, required=True, help="folder with train/ [val/] [test/]")
    prepare.add_argument("--out", type=Path, required=True, help="cache folder: <split>.npz + manifest.csv")
    prepare.add_argument("--workers", type=int, default=None, help="detector processes (default: one per core)")

    leaks = commands.add_parser("leaks", help="training images of any cached set that copy a test image of any set")
    leaks.set_defaults(func=jobs.leaks)
    leaks.add_argument("names", nargs="+", metavar="NAME", help="cached sets (folders of --cache-dir)")
    leaks.add_argument("--cache-dir", type=Path, default=Path("cache"), help="crop caches, one folder per set")
    leaks.add_argument(
        "--out", type=Path, default=Path("runs/leaks.json"), help="the leaks JSON (default: %(default)s)"
    )

    push = commands.add_parser("push", help="push an exported folder to the Hub (retry after a failed push)")
    push.set_defaults(func=jobs.push)
    push.add_argument("folder", type=Path, help="an exported model folder")
    push.add_argument("repo_id", metavar="ORG/NAME", help="the Hub repository")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(build_parser().parse_args(argv))
    except (ModelError, ValueError, FileNotFoundError) as err:  # a bad model, option or data folder: one line
        fail(err)
        return EXIT_MODEL_FAILED
