"""Serve the emotion recognizer (`fer-live` when installed): `python app.py [--model ID] [--host H] [--port P] [--mcp]`."""

import sys

from fer.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
