"""`python app.py` as a subprocess on a free port, for tests that talk to the running app.

Use the module-scoped fixture in a test module with `from live_server import live_app  # noqa: F401`, or
`serve_app(model_id)` (a context manager) for a server with other arguments or environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 240  # importing torch + gradio and loading the model, on a busy 2-core machine
STOP_TIMEOUT_S = 15
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never a Playwright download
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# a fake webcam, allowed without asking (add --use-file-for-fake-video-capture=CLIP.y4m to choose its frames)
WEBCAM_FLAGS = [
    *CHROMIUM_FLAGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-sync",
]


@dataclass
class LiveApp:
    """A running app: its base URL (ends with '/'), the process and the file its output goes to."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(model_id: str, **extra: str) -> dict[str, str]:
    """The environment of a test server: the given model, the default backend, Hub offline, no analytics."""
    return {
        **{name: value for name, value in os.environ.items() if name != "FER_BACKEND"},
        "FER_MODEL": model_id,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve_app(
    model_id: str, log: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[LiveApp]:
    """Start `python app.py --port <free port> *args`, wait until it serves, stop it on exit."""
    port = free_port()
    command = [sys.executable, str(REPO / "app.py"), "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env or app_env(model_id), stdout=out, stderr=subprocess.STDOUT
        )
    app = LiveApp(f"http://127.0.0.1:{port}/", process, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _serving(app.url):
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}:\n{app.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not serve within {STARTUP_TIMEOUT_S} s:\n{app.log_tail()}")
            time.sleep(0.5)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def live_app(random_model_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """app.py serving the random test model (module-scoped: one server per test module)."""
    with serve_app(random_model_id, tmp_path_factory.mktemp("app") / "app.log") as app:
        yield app


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """The Playwright sync API, provided Chromium is installed (in CI its absence is a failure)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright
