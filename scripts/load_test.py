"""Drive a running app with concurrent gradio_client clients calling /analyze; print errors, latency, throughput.

    python app.py &                      # or any URL the app serves on
    python scripts/load_test.py --url http://127.0.0.1:7860/ --clients 8 --calls 200

Each client is its own gradio_client.Client (its own session), calling /analyze on the astronaut photo in a loop.
gradio_client opens every request with a new httpx client, which by default builds a new SSL context (certifi's
CA bundle read and parsed, about 25 ms of CPU, even for http://); the clients here share one, as any caller can
(`Client(url, ssl_verify=ssl.create_default_context())`): on one machine, per-request contexts made the 8 clients
take 0.86 of the 2 cores away from the app. `--ssl-per-request` measures gradio_client's default.
Exit status 1 if any call failed or returned no face.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

DEFAULT_URL = "http://127.0.0.1:7860/"
DEFAULT_CLIENTS = 8
DEFAULT_CALLS = 200


@dataclass
class Results:
    """Per-call latencies and error messages, shared by the client threads."""

    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)

    def add(self, latency_s: float, error: str | None) -> None:
        with self.lock:
            self.latencies_s.append(latency_s)
            if error:
                self.errors.append(error)


def astronaut_file() -> Path:
    from PIL import Image
    from skimage import data

    path = Path(tempfile.mkdtemp(prefix="fer-load-")) / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(path, quality=90)
    return path


def run_client(url: str, image: Path, calls: int, results: Results, verify: bool | ssl.SSLContext) -> None:
    """One user: its own Client, `calls` sequential /analyze requests."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, ssl_verify=verify)  # handed to httpx as `verify`, which takes a context
    for _ in range(calls):
        start = time.perf_counter()
        error = None
        try:
            answer = client.predict(handle_file(image), api_name="/analyze")
            if not answer.get("faces"):
                error = f"no face in the answer: {answer}"
        except Exception as err:  # every failure is counted and printed, none stops the run
            error = f"{type(err).__name__}: {err}"
        results.add(time.perf_counter() - start, error)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the running app (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="concurrent clients (default: 8)")
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="total /analyze calls (default: 200)")
    parser.add_argument(
        "--ssl-per-request", action="store_true", help="gradio_client's default: a new SSL context per request"
    )
    args = parser.parse_args(argv)
    verify = True if args.ssl_per_request else ssl.create_default_context()

    image = astronaut_file()
    per_client = [args.calls // args.clients + (i < args.calls % args.clients) for i in range(args.clients)]
    results = Results()
    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        for future in [pool.submit(run_client, args.url, image, n, results, verify) for n in per_client]:
            future.result()
    wall_s = time.perf_counter() - start

    latencies = sorted(results.latencies_s)
    contexts = "a new SSL context per request" if args.ssl_per_request else "one shared SSL context"
    print(f"{len(latencies)} calls from {args.clients} concurrent clients ({contexts}) to {args.url} in {wall_s:.1f} s")
    print(f"errors: {len(results.errors)}")
    for message in results.errors[:20]:
        print(f"  {message}")
    print(
        f"latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    print(f"throughput: {len(latencies) / wall_s:.2f} calls/s")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
