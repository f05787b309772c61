"""Command lines: `fer` / `python -m fer` (predict, video, bench = `python -m fer.bench`), `fer-train` / `train.py`."""
