"""`fer predict IMAGE... [--model ID] [--json] [--annotate OUT_DIR]`: faces and emotions of images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from fer.cli.common import EXIT_INPUT_FAILED, EXIT_MODEL_FAILED, EXIT_OK, add_backend_option, add_model_option, fail
from fer.images import ImageError, load_rgb
from fer.model import ModelError
from fer.runtime import use_serving_threads


def add_predict_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="Detect faces in images and print their emotions.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files (any format PIL reads)")
    add_model_option(parser)
    add_backend_option(parser)
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
        recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend)
    except ModelError as err:
        fail(err)
        return EXIT_MODEL_FAILED
    use_serving_threads(recognizer.backend)
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
        predictions = recognizer.predict_rgb(rgb)
        payload = predictions_payload(predictions, (rgb.shape[1], rgb.shape[0]), model)
        payloads[str(path)] = payload
        if args.annotate:
            out = args.annotate / f"{path.stem}.png"
            Image.fromarray(draw_faces(rgb, predictions)).save(out)
        if not args.json:
            print(describe(str(path), payload) + (f"\n  annotated: {out}" if args.annotate else ""), flush=True)
    if args.json and payloads:
        print(json.dumps(payloads[str(args.images[0])] if len(args.images) == 1 else payloads, indent=2))
    return EXIT_INPUT_FAILED if failed else EXIT_OK
