"""The CLI: `python -m fer predict IMAGE... [--model ID] [--json] [--annotate OUT_DIR]` (and `video`, fer/video.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from fer.images import ImageError, load_rgb
from fer.model import ModelError, default_model_id
from fer.video import add_video_command

EXIT_OK = 0
EXIT_IMAGE_FAILED = 1  # at least one image could not be read; the others were still processed
EXIT_MODEL_FAILED = 2
EXIT_INTERRUPTED = 130


def fail(message: str) -> None:
    """One line on stderr, no traceback."""
    print(f"fer: {' '.join(str(message).split())}", file=sys.stderr)


def add_predict_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="Detect faces in images and print their emotions.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files (any format PIL reads)")
    parser.add_argument(
        "--model",
        default=None,
        metavar="ID",
        help=f"timm model id, hf-hub:org/name or local-dir:PATH (default: $FER_MODEL or {default_model_id()})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the app's /analyze JSON (for several images: {path: that JSON})"
    )
    parser.add_argument("--annotate", type=Path, metavar="OUT_DIR", help="also write OUT_DIR/<name>.png with boxes")
    parser.set_defaults(func=predict)


def describe(name: str, payload: dict) -> str:
    """Human-readable lines for one image's payload."""
    width, height = payload["image_size"]
    faces = payload["faces"]
    lines = [f"{name} ({width}x{height}): {len(faces) or 'no'} face{'s' if len(faces) != 1 else ''}"]
    for index, face in enumerate(faces, start=1):
        box = ", ".join(f"{v:.0f}" for v in face["box"])
        confidence = face["probabilities"][face["emotion"]]
        lines.append(f"  #{index} {face['emotion']:<8} {confidence:5.1%}  box=({box})  score={face['score']:.2f}")
    return "\n".join(lines)


def predict(args: argparse.Namespace) -> int:
    from fer.draw import draw_faces
    from fer.identity import identify
    from fer.recognizer import EmotionRecognizer
    from fer.schema import predictions_payload

    try:
        recognizer = EmotionRecognizer.from_pretrained(args.model)
    except ModelError as err:
        fail(err)
        return EXIT_MODEL_FAILED
    if args.annotate:
        args.annotate.mkdir(parents=True, exist_ok=True)
    model = identify(recognizer.model_id).id
    payloads, failed = {}, 0
    for path in args.images:
        try:
            rgb = load_rgb(path)
        except ImageError as err:
            fail(err)
            failed += 1
            continue
        predictions = recognizer.predict(rgb)
        payload = predictions_payload(predictions, (rgb.shape[1], rgb.shape[0]), model)
        payloads[str(path)] = payload
        if args.annotate:
            out = args.annotate / f"{path.stem}.png"
            Image.fromarray(draw_faces(rgb, predictions)).save(out)
        if not args.json:
            print(describe(str(path), payload) + (f"\n  annotated: {out}" if args.annotate else ""), flush=True)
    if args.json and payloads:
        print(json.dumps(payloads[str(args.images[0])] if len(args.images) == 1 else payloads, indent=2))
    return EXIT_IMAGE_FAILED if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer", description="Facial emotion recognition.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_predict_command(subparsers)
    add_video_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED
