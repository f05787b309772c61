"""Benchmarks: `python -m fer.bench` (latency per frame, fast path vs baseline) and `--tracking` (faces followed through clips)."""
