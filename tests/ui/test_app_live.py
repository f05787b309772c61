"""Live: `python app.py` in a subprocess, called through gradio_client like any user of the API."""

from __future__ import annotations

import json
import math
import ssl
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from live_server import REPO, LiveApp, app_env, live_app  # noqa: F401
from PIL import Image

from fer.identity import identify
from fer.images import MAX_IMAGE_BYTES
from fer.labels import EMOTIONS
from fer.runtime.serving import request_threads

pytestmark = [pytest.mark.slow, pytest.mark.live]

ASTRONAUT_FACE = (181, 62, 268, 172)
CLIP_MB = 40  # a valid clip over the image limit (25 MB) and under the video limit (200 MB)
BOX_TOLERANCE_PX = 15


@pytest.fixture(scope="module")
def client(live_app: LiveApp) -> Client:  # noqa: F811
    return Client(live_app.url, verbose=False)


@pytest.fixture
def astronaut_png(astronaut: np.ndarray, tmp_path: Path) -> Path:
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def assert_probabilities(probabilities: dict[str, float]) -> None:
    assert list(probabilities) == list(EMOTIONS)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-3)


def test_analyze_finds_the_astronaut(client: Client, astronaut_png: Path, random_model_id: str) -> None:
    result = client.predict(handle_file(astronaut_png), api_name="/analyze")
    assert result["image_size"] == [512, 512]
    assert result["model"] == identify(random_model_id).id and "/" not in result["model"]  # no server path
    (face,) = result["faces"]
    assert set(face) == {"box", "score", "emotion", "probabilities"}
    assert np.allclose(face["box"], ASTRONAUT_FACE, atol=BOX_TOLERANCE_PX)
    assert face["score"] > 0.9
    assert_probabilities(face["probabilities"])
    assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)


def test_a_client_with_one_ssl_context_for_all_requests(
    live_app: LiveApp,  # noqa: F811
    astronaut_png: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/usage.md's advice for many calls: gradio_client hands `ssl_verify` to httpx as `verify`, so one context
    serves every request instead of a new one (the CA bundle read again) per request."""
    context = ssl.create_default_context()
    made = []
    create = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: made.append(1) or create(*a, **k))
    client = Client(live_app.url, verbose=False, ssl_verify=context)
    for _ in range(2):
        (face,) = client.predict(handle_file(astronaut_png), api_name="/analyze")["faces"]
        assert np.allclose(face["box"], ASTRONAUT_FACE, atol=BOX_TOLERANCE_PX)
    assert made == []
    Client(live_app.url, verbose=False).predict(handle_file(astronaut_png), api_name="/analyze")
    assert len(made) >= 3  # gradio_client's default: a context per request (config, upload, call, results)


def test_the_app_serves_through_onnxruntime(live_app: LiveApp, client: Client) -> None:  # noqa: F811
    """No silent fall back: the running app says its four networks run by onnxruntime."""
    log = live_app.log.read_text()
    assert "networks run by onnxruntime" in log
    assert f"uploads and the API detect with {request_threads()} thread(s) a network" in log


def test_analyze_boxes_are_in_input_pixels(client: Client, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "astronaut-2x.jpg"
    Image.fromarray(astronaut).resize((1024, 1024)).save(path, quality=95)
    result = client.predict(handle_file(path), api_name="/analyze")
    assert result["image_size"] == [1024, 1024]
    (face,) = result["faces"]
    assert np.allclose(face["box"], np.multiply(ASTRONAUT_FACE, 2), atol=2 * BOX_TOLERANCE_PX)


def test_no_face_is_an_empty_list(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.new("RGB", (200, 150), (128, 128, 128)).save(path)
    result = client.predict(handle_file(path), api_name="/analyze")
    assert result["faces"] == []
    assert result["image_size"] == [200, 150]


def test_classify_face_gives_seven_probabilities(client: Client, astronaut: np.ndarray, tmp_path: Path) -> None:
    x1, y1, x2, y2 = ASTRONAUT_FACE
    path = tmp_path / "face.png"
    Image.fromarray(astronaut[y1:y2, x1:x2]).save(path)
    assert_probabilities(client.predict(handle_file(path), api_name="/classify_face"))


def test_the_webcam_stream_is_not_in_the_api(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/analyze", "/classify_face"} <= set(api["named_endpoints"])
    (stream,) = [d for d in client.config["dependencies"] if any(t[1] == "stream" for t in d["targets"])]
    assert stream["api_visibility"] == "private"
    assert f"/{stream['api_name']}" not in api["named_endpoints"]
    assert not api["unnamed_endpoints"]


def test_bad_upload_gives_a_clear_error_and_the_server_keeps_serving(
    client: Client, astronaut_png: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(fake), api_name="/analyze")
    assert len(client.predict(handle_file(astronaut_png), api_name="/analyze")["faces"]) == 1


def test_unloadable_model_exits_2_with_one_line(tmp_path: Path) -> None:
    model_id = f"local-dir:{tmp_path / 'missing'}"
    run = subprocess.run(
        [sys.executable, str(REPO / "app.py"), "--model", model_id],
        env=app_env(model_id),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert str(tmp_path / "missing") in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_json_is_the_analyze_json(client: Client, astronaut_png: Path, random_model_id: str) -> None:
    """`python -m fer predict --json` prints exactly what /analyze answers for the same image."""
    run = subprocess.run(
        [sys.executable, "-m", "fer", "predict", str(astronaut_png), "--json", "--model", random_model_id],
        cwd=REPO,
        env=app_env(random_model_id),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == client.predict(handle_file(astronaut_png), api_name="/analyze")


def padded_clip(path: Path, megabytes: int) -> Path:
    """A small valid mp4 grown to `megabytes` with an mp4 'free' box at its end (players skip it)."""
    from fer.ui.examples import write_clip

    write_clip(path)
    size = megabytes * 2**20 - path.stat().st_size
    with path.open("ab") as handle:
        handle.write(struct.pack(">I4s", size, b"free") + bytes(size - 8))
    return path


def test_each_input_takes_the_size_it_promises(client: Client, tmp_path: Path) -> None:
    """The Video tab promises 200 MB, the image inputs 25 MB: a 40 MB clip is analysed, a 30 MB image is refused
    by the app with a message naming the image limit (not by the upload route)."""
    clip = padded_clip(tmp_path / "big.mp4", CLIP_MB)
    assert clip.stat().st_size > MAX_IMAGE_BYTES
    *_, summary = client.predict(handle_file(clip), 3, api_name="/analyze_video")
    assert summary["video"]["name"] == "big.mp4" and summary["frames_processed"] == 10
    image = tmp_path / "huge.png"
    image.write_bytes(b"\x89PNG" + bytes(MAX_IMAGE_BYTES + 2**20))
    with pytest.raises(AppError, match=r"'huge\.png' is 26 MB; the limit is 25 MB"):
        client.predict(handle_file(image), api_name="/analyze")
