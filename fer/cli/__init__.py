"""Command lines: `fer` / `python -m fer` (predict, video), `fer-train` / `train.py`, `python -m fer.bench`."""
