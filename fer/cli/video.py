"""`fer video IN --out OUT.mp4 --csv OUT.csv [--json OUT.json] [--plot OUT.png] [--stride N]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.common import EXIT_INPUT_FAILED, EXIT_MODEL_FAILED, EXIT_OK, add_backend_option, add_model_option, fail
from fer.model import ModelError
from fer.recognizer import EmotionRecognizer
from fer.runtime import use_serving_threads
from fer.video.analysis import VIDEO_DETECT_EVERY
from fer.video.io import VideoError, probe
from fer.video.outputs import describe, export


def add_video_command(subparsers: argparse._SubParsersAction) -> None:
    """`fer video IN --out OUT.mp4 --csv OUT.csv [--json OUT.json] [--plot OUT.png] [--stride N]`."""
    parser = subparsers.add_parser("video", help="Annotate a video clip; write per-frame emotions (CSV/JSON/plot).")
    parser.add_argument("input", type=Path, metavar="IN", help="an mp4, webm or mov clip")
    parser.add_argument("--out", type=Path, metavar="OUT.mp4", help="annotated video (H.264 mp4)")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="one row per face per processed frame")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="summary and every processed frame")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="timeline of each face's emotions")
    parser.add_argument("--stride", type=int, default=1, metavar="N", help="process every N-th frame (default 1)")
    parser.add_argument(
        "--detect-every",
        type=int,
        default=VIDEO_DETECT_EVERY,
        metavar="K",
        help=f"run the face detector on every K-th processed frame (default {VIDEO_DETECT_EVERY})",
    )
    add_model_option(parser)
    add_backend_option(parser)
    parser.set_defaults(func=run_video_command)


def check_outputs(args: argparse.Namespace) -> None:
    """Output paths: the right suffix, not the input, folders created."""
    for option, suffix in (("out", ".mp4"), ("csv", ".csv"), ("json", ".json"), ("plot", ".png")):
        target = getattr(args, option)
        if target is None:
            continue
        if target.suffix.lower() != suffix:
            raise VideoError(f"--{option} must name a {suffix} file, got '{target}'.")
        if target.resolve() == args.input.resolve():
            raise VideoError(f"--{option} would overwrite the input '{args.input}'.")
        target.parent.mkdir(parents=True, exist_ok=True)
    if args.detect_every < 1:
        raise VideoError(f"--detect-every must be at least 1, got {args.detect_every}.")


def run_video_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    try:
        check_outputs(args)
        probe(args.input)  # a bad clip fails before the model loads
        recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend)
    except VideoError as err:
        fail(err)
        return EXIT_INPUT_FAILED
    except ModelError as err:
        fail(err)
        return EXIT_MODEL_FAILED
    use_serving_threads(recognizer.backend)
    with tqdm(unit="frame", desc=args.input.name, leave=False) as bar:

        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            result = export(
                args.input,
                recognizer,
                args.out,
                args.csv,
                args.json,
                args.plot,
                args.stride,
                args.detect_every,
                progress,
            )
        except VideoError as err:
            bar.close()
            fail(err)
            return EXIT_INPUT_FAILED
    print(describe(result))
    for option in ("out", "csv", "json", "plot"):
        if getattr(args, option) is not None:
            print(f"  {option}: {getattr(args, option)}")
    return EXIT_OK
