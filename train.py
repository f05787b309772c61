"""Train, evaluate, audit and publish the emotion classifier (`fer-train` when installed); see `--help`."""

import sys

from fer.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
