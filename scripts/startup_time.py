"""Seconds from `python app.py` to a served page, with a cold ONNX cache, a warm one, and the PyTorch backend.

    python scripts/startup_time.py [--runs 2]

Each start runs the bundled model on a free port (tests/live_server.py starts it the way the tests do) and is
timed until the page answers; "cold" gets an empty $FER_ONNX_CACHE, so its start includes exporting the four
networks, "warm" reuses the files that start wrote.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from live_server import app_env, serve_app  # noqa: E402

from fer.model import DEFAULT_MODEL  # noqa: E402


def start_seconds(env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with serve_app(DEFAULT_MODEL, log, env=env):
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="starts of each kind (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "app.log"
        kinds = {"onnx, cold cache": [], "onnx, warm cache": [], "torch": []}
        for run in range(args.runs):
            cache = Path(folder) / f"onnx-{run}"
            kinds["onnx, cold cache"].append(start_seconds(app_env(DEFAULT_MODEL, FER_ONNX_CACHE=str(cache)), log))
            kinds["onnx, warm cache"].append(start_seconds(app_env(DEFAULT_MODEL, FER_ONNX_CACHE=str(cache)), log))
            kinds["torch"].append(start_seconds(app_env(DEFAULT_MODEL, FER_BACKEND="torch"), log))
    for kind, seconds in kinds.items():
        print(f"{kind:18s} median {statistics.median(seconds):5.1f} s  ({', '.join(f'{s:.1f}' for s in seconds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
