"""What every command line shares: the one error printer, the one table of exit codes, the --model option."""

from __future__ import annotations

import argparse
import sys

from fer.model import default_model_id
from fer.runtime import BACKEND_ENV, BACKENDS

PROG = "fer"

EXIT_OK = 0
EXIT_INPUT_FAILED = 1  # an input (image, clip) or a push failed; the other inputs were still processed
EXIT_MODEL_FAILED = 2  # the model could not be loaded, or options/data that cannot work (argparse's usage code too)
EXIT_INTERRUPTED = 130  # Ctrl-C


def fail(message: object) -> None:
    """One line on stderr, no traceback."""
    print(f"{PROG}: {' '.join(str(message).split())}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Call the parsed subcommand's `func`; Ctrl-C is one line and exit code 130 (every command line)."""
    try:
        return args.func(args)
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED


def add_model_option(parser: argparse.ArgumentParser, default: str | None = None, extra: str = "") -> None:
    """`--model ID`: a timm model id (hf-hub:org/name or local-dir:PATH); None means $FER_MODEL or the bundled one."""
    parser.add_argument(
        "--model",
        default=default,
        metavar="ID",
        help=f"timm model id: hf-hub:org/name or local-dir:PATH (default: $FER_MODEL or {default_model_id()}){extra}",
    )


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """`--backend onnx|torch`: what runs the four networks (default: $FER_BACKEND, else onnx)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"run the networks with onnxruntime or PyTorch (default: ${BACKEND_ENV}, else onnx)",
    )
