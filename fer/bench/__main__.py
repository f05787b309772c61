"""`python -m fer.bench`: a shim for `fer bench` (fer/cli/bench.py)."""

from fer.cli.bench import main

raise SystemExit(main())
