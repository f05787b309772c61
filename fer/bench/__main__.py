"""`python -m fer.bench`: see fer/bench/latency.py."""

from fer.bench.latency import main

raise SystemExit(main())
