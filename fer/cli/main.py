"""`fer` / `python -m fer`: one parser, one subcommand per job (predict, video, bench), each with its `func`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fer.cli.bench import add_bench_command
from fer.cli.common import PROG, run
from fer.cli.predict import add_predict_command
from fer.cli.video import add_video_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Facial emotion recognition.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_predict_command(subparsers)
    add_video_command(subparsers)
    add_bench_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
