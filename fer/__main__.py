"""Entry point of `python -m fer` (the commands live in fer/cli/)."""

from fer.cli.main import main

raise SystemExit(main())
