"""Benchmarks run by `fer bench` (fer/cli/bench.py): latency per frame (fast path vs baseline), tracking in clips."""
