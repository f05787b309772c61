"""Train, evaluate, audit and publish the emotion classifier. Thin CLI over `fer/`; see `--help`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import torch

from fer.training import TrainConfig


def add_fit_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument(
        "--data", type=Path, required=True, help="folder with train/ [val/] [test/], one folder per class"
    )
    parser.add_argument("--run-dir", type=Path, default=Path("runs/ferplus"), help="checkpoints and reports")
    parser.add_argument("--resume", action="store_true", help="continue run-dir/last.ckpt")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="held out of train when there is no val/")
    parser.add_argument("--export", type=Path, default=None, help="export folder (default: run-dir/model)")
    parser.add_argument("--push-to-hub", default=None, metavar="ORG/NAME", help="push the export to the Hub")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool" or isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            kind = float if isinstance(f.default, float) else int if isinstance(f.default, int) else str
            parser.add_argument(flag, type=kind, default=getattr(defaults, f.name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_fit_options(commands.add_parser("fit", help="train (and evaluate, export, optionally push)"))
    args = parser.parse_args(argv)
    from fer.cli_train import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
