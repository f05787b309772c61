"""`fer-live` / `python app.py [--model ID] [--host HOST] [--port PORT] [--mcp]`: serve the Gradio app."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import argparse
import logging
from collections.abc import Sequence

from fer.cli.common import EXIT_MODEL_FAILED, EXIT_OK, add_backend_option, add_model_option, fail, run
from fer.images import MAX_IMAGE_BYTES
from fer.model import ModelError, default_model_id
from fer.recognizer import EmotionRecognizer
from fer.runtime import use_serving_threads
from fer.runtime.serving import request_threads
from fer.video.io import MAX_VIDEO_BYTES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Gradio has one upload limit for every input: the largest one promised (a clip). Images are held to their own,
# smaller limit by fer.images, with a message saying so.
MAX_UPLOAD_BYTES = max(MAX_IMAGE_BYTES, MAX_VIDEO_BYTES)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-live", description="Facial emotion recognition web app (Gradio).")
    add_model_option(parser, default_model_id())
    add_backend_option(parser)
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST),
        help="address to listen on (default: $GRADIO_SERVER_NAME, else %(default)s); 0.0.0.0 for all interfaces",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)),
        help="port (default: $GRADIO_SERVER_PORT, else %(default)s)",
    )
    parser.add_argument("--mcp", action="store_true", help="also serve /analyze and /classify_face as an MCP server")
    parser.set_defaults(func=serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    """Load the model (a bad id fails in one line), then serve the app until Ctrl-C."""
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    try:
        # its detector serves the requests (uploads, /analyze), several at once
        threads = request_threads()
        recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend, detector_threads=threads)
    except ModelError as err:
        fail(err)
        return EXIT_MODEL_FAILED
    use_serving_threads(recognizer.backend)
    shared = f"; uploads and the API detect with {threads} thread(s) a network" if recognizer.backend == "onnx" else ""
    print(f"{recognizer.model_id}: {recognizer.runtime}{shared}", flush=True)
    # gradio is imported only once the model has loaded: a bad id fails sooner
    from fer.ui.blocks import build_demo, launch_options
    from fer.ui.page import PageServer, webcam_detector

    page = PageServer(recognizer, webcam_detector(recognizer))  # the in-page webcam's files, routes and headers
    build_demo(recognizer, page).launch(
        server_name=args.host,
        server_port=args.port,
        share=False,
        max_file_size=MAX_UPLOAD_BYTES,
        mcp_server=args.mcp,
        **launch_options(page),
    )
    return EXIT_OK
