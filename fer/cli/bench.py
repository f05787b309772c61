"""`fer bench [--tracking]` / `python -m fer.bench`: per-frame latency (fast path vs baseline), tracking in clips."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from fer.bench import latency, tracking
from fer.cli.common import (
    EXIT_INPUT_FAILED,
    EXIT_MODEL_FAILED,
    EXIT_OK,
    add_backend_option,
    add_model_option,
    fail,
    run,
)
from fer.model import ModelError
from fer.recognizer import EmotionRecognizer
from fer.stream import CLASSIFY_EVERY, DETECT_EVERY, TrackingOptions

DESCRIPTION = latency.__doc__.splitlines()[0]


def add_bench_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frames", type=int, default=latency.DEFAULT_FRAMES, help="measured frames per path and scenario"
    )
    parser.add_argument("--warmup", type=int, default=latency.DEFAULT_WARMUP, help="frames run before measuring")
    add_model_option(parser, extra=f"; '{latency.RANDOM_MODEL}': untrained")
    add_backend_option(parser)
    parser.add_argument("--detect-every", type=int, default=DETECT_EVERY, help="fast path: run the detector every N")
    parser.add_argument(
        "--classify-every", type=int, default=CLASSIFY_EVERY, help="fast path: classify a followed face every N"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads of torch and onnxruntime (default: torch's choice)"
    )
    parser.add_argument(
        "--media", type=Path, default=latency.MEDIA_DIR, help="face_media folder (photos of real faces)"
    )
    parser.add_argument(
        "--tracking",
        action="store_true",
        help="instead: tracking through the clips in MEDIA/video (fer.bench.tracking)",
    )
    parser.add_argument(
        "--cache", type=Path, default=tracking.CACHE_DIR, help="--tracking: where reference detections are kept"
    )
    parser.set_defaults(func=bench)


def add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    help_text = "Time the per-frame path (fast vs baseline), or tracking through clips."
    add_bench_options(subparsers.add_parser("bench", help=help_text, description=DESCRIPTION))


def build_parser() -> argparse.ArgumentParser:
    """`python -m fer.bench`: the options of `fer bench`."""
    parser = argparse.ArgumentParser(prog="python -m fer.bench", description=DESCRIPTION)
    add_bench_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def load_average() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def bench(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.warmup < 0 or args.detect_every < 1 or args.classify_every < 1:
        fail("--frames, --detect-every and --classify-every must be >= 1, --warmup >= 0")
        return EXIT_MODEL_FAILED
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        recognizer = latency.load_recognizer(args.model, args.backend)
    except ModelError as err:
        fail(f"{err} (or pass --model {latency.RANDOM_MODEL} to time an untrained model)")
        return EXIT_MODEL_FAILED
    return print_tracking(recognizer, args) if args.tracking else print_latency(recognizer, args)


def print_latency(recognizer: EmotionRecognizer, args: argparse.Namespace) -> int:
    """The latency table (baseline and fast path on a 1-face and a 6-face frame), then the faces found."""
    one, six, source = latency.bench_frames(args.media)
    width, height = latency.FRAME_SIZE
    print(f"model {recognizer.model_id}, {recognizer.runtime}; frames {width}x{height} from {source}")
    print(
        f"{args.frames} frames after {args.warmup} warm-up; torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs, load average {load_average()}\n"
    )
    baseline = latency.Baseline(latency.load_recognizer(args.model, "torch"))
    options = TrackingOptions(detect_every=args.detect_every, classify_every=args.classify_every)
    rows = latency.run(recognizer, baseline, one, six, args.frames, args.warmup, options)
    print(latency.table(latency.HEADERS, rows))
    print("\nFaces found in the multi-face photos at 640x480:\n")
    print(latency.table(["photo", "baseline", "fast path"], latency.detection_rows(recognizer, baseline, args.media)))
    return EXIT_OK


def print_tracking(recognizer: EmotionRecognizer, args: argparse.Namespace) -> int:
    """The tracking table: current path and new path on each clip at stride 1 and 3 (exit 1 when no clip is found)."""
    print(f"model {recognizer.model_id}, {recognizer.runtime}; load average {load_average()}")
    scores, notes = tracking.tracking_rows(recognizer, args.media / "video", args.cache)
    print("\n".join(notes) + "\n")
    print(latency.table(tracking.HEADERS, [score.row() for score in scores]))
    return EXIT_OK if scores else EXIT_INPUT_FAILED
