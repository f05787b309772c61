"""Entry point of `python -m fer` (the commands live in fer/cli.py)."""

from fer.cli import main

raise SystemExit(main())
