"""Issue 6: every bad or odd input through every way in (Python API, CLI, the running app's API), and the app
serving nothing outside its own cache."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from live_server import LiveApp, live_app  # noqa: F401
from make_inputs import BAD_CASES, FACE_BOX, GOOD_CASES, Case, blank, crowd
from PIL import Image

from fer.cli.common import EXIT_INPUT_FAILED
from fer.images import ImageError
from fer.recognizer import EmotionRecognizer
from fer.video.io import MAX_VIDEO_BYTES as VIDEO_MAX_BYTES

REPO = Path(__file__).resolve().parents[2]
CROWD_FACES = 36
MIN_CROWD_FOUND = 30
BOX_TOLERANCE_PX = 8
CASES = {case.name: case for case in GOOD_CASES + BAD_CASES}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    """Every input kind as a file: the good and bad cases, a 6x6 crowd and a face-less picture."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {case.name: case.write(astronaut, folder) for case in GOOD_CASES + BAD_CASES}
    for name, image in (("crowd", crowd(astronaut)), ("no_face", blank())):
        paths[name] = folder / f"{name}.png"
        Image.fromarray(image).save(paths[name])
    return paths


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id)


def assert_one_astronaut(faces: list[dict], case: Case) -> None:
    assert len(faces) == 1, f"{case.name}: {faces}"
    np.testing.assert_allclose(faces[0]["box"], FACE_BOX, atol=BOX_TOLERANCE_PX)
    assert sum(faces[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


# --- Python API ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.name)
def test_api_refuses_bad_input(case: Case, inputs: dict[str, Path], recognizer: EmotionRecognizer) -> None:
    for source in (inputs[case.name], inputs[case.name].read_bytes()):
        with pytest.raises(ImageError, match=re.compile(case.error, re.IGNORECASE)):
            recognizer.predict(source)
    with pytest.raises(ImageError, match=re.compile(case.error, re.IGNORECASE)):
        recognizer.classify_face(inputs[case.name])


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda c: c.name)
def test_api_reads_every_mode(case: Case, inputs: dict[str, Path], recognizer: EmotionRecognizer) -> None:
    assert_one_astronaut([face.to_dict() for face in recognizer.predict(inputs[case.name])], case)


def test_api_crowd_and_no_face(inputs: dict[str, Path], recognizer: EmotionRecognizer) -> None:
    faces = recognizer.predict(inputs["crowd"])
    assert MIN_CROWD_FOUND <= len(faces) <= CROWD_FACES
    assert all(sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4) for face in faces)
    assert recognizer.predict(inputs["no_face"]) == []


# --- CLI -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_all_inputs_in_one_call(inputs: dict[str, Path], random_model_id: str) -> None:
    """One line per bad file on stderr, no traceback, exit 1; every other file still analysed."""
    result = subprocess.run(
        [sys.executable, "-m", "fer", "predict", *map(str, inputs.values()), "--model", random_model_id, "--json"],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == EXIT_INPUT_FAILED
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(BAD_CASES), result.stderr
    for case, line in zip(BAD_CASES, errors, strict=True):
        assert line.startswith("fer: ") and re.search(case.error, line, re.IGNORECASE), line
    analysed = {Path(path).stem: payload for path, payload in json.loads(result.stdout).items()}
    assert set(analysed) == {case.name for case in GOOD_CASES} | {"crowd", "no_face"}
    for case in GOOD_CASES:
        assert analysed[case.name]["image_size"] == list(case.size)
        assert_one_astronaut(analysed[case.name]["faces"], case)
    assert len(analysed["crowd"]["faces"]) >= MIN_CROWD_FOUND
    assert analysed["no_face"]["faces"] == []


# --- the running app ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(live_app: LiveApp) -> Client:  # noqa: F811
    return Client(live_app.url, verbose=False)


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.name)
def test_app_refuses_bad_input_clearly(case: Case, inputs: dict[str, Path], client: Client) -> None:
    for endpoint in ("/analyze", "/classify_face"):
        with pytest.raises(AppError) as info:
            client.predict(handle_file(inputs[case.name]), api_name=endpoint)
        assert re.search(case.error, str(info.value), re.IGNORECASE), str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda c: c.name)
def test_app_reads_every_mode(case: Case, inputs: dict[str, Path], client: Client) -> None:
    result = client.predict(handle_file(inputs[case.name]), api_name="/analyze")
    assert result["image_size"] == list(case.size)
    assert_one_astronaut(result["faces"], case)


@pytest.mark.slow
def test_app_crowd_and_no_face(inputs: dict[str, Path], client: Client) -> None:
    assert len(client.predict(handle_file(inputs["crowd"]), api_name="/analyze")["faces"]) >= MIN_CROWD_FOUND
    assert client.predict(handle_file(inputs["no_face"]), api_name="/analyze")["faces"] == []


@pytest.mark.slow
def test_app_keeps_serving_after_every_bad_input(live_app: LiveApp, inputs: dict[str, Path]) -> None:  # noqa: F811
    client = Client(live_app.url, verbose=False)
    for case in BAD_CASES:
        with pytest.raises(AppError):
            client.predict(handle_file(inputs[case.name]), api_name="/analyze")
    assert live_app.process.poll() is None
    result = client.predict(handle_file(inputs["rgb"]), api_name="/analyze")
    assert_one_astronaut(result["faces"], CASES["rgb"])


@pytest.mark.slow
def test_upload_size_is_limited(live_app: LiveApp, tmp_path: Path) -> None:  # noqa: F811
    """The upload route takes up to the largest limit an input promises (the Video tab's); images are held to
    their own, smaller limit by the app (tests/ui/test_app_live.py)."""
    too_big = tmp_path / "big.mp4"
    with too_big.open("wb") as handle:
        handle.truncate(VIDEO_MAX_BYTES + 1024)  # sparse: no disk used
    with too_big.open("rb") as handle:
        response = httpx.post(
            f"{live_app.url}gradio_api/upload", files={"files": ("big.mp4", handle, "video/mp4")}, timeout=300
        )
    assert response.status_code == 413, response.text[:200]
    assert live_app.process.poll() is None


# --- files: nothing outside the app's cache -------------------------------------------------------------------


@pytest.fixture(scope="module")
def outside_files(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    """Files the server process could read but must not serve: a secret and a valid image, outside its cache."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text("TOP-SECRET-TOKEN\n")
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    return {"secret": folder / "secret.txt", "image": folder / "astronaut.png"}


def traversal_paths(outside: dict[str, Path]) -> list[str]:
    secret = str(outside["secret"])
    return [
        "/etc/passwd",
        "../../etc/passwd",
        "../../../../../../etc/passwd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2Fetc%2Fpasswd",
        "/proc/self/environ",
        "app.py",  # the working directory of the server
        str(REPO / "fer" / "model.py"),
        secret,
        f"{os.path.dirname(secret)}/../{os.path.basename(os.path.dirname(secret))}/secret.txt",
    ]


def raw_get(base_url: str, raw_path: str) -> tuple[int, str]:
    """GET a path exactly as written (http.client, unlike httpx, does not resolve '..' before sending)."""
    url = httpx.URL(base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.mark.slow
def test_file_route_serves_nothing_outside_the_cache(live_app: LiveApp, outside_files: dict[str, Path]) -> None:  # noqa: F811
    uploaded = httpx.post(
        f"{live_app.url}gradio_api/upload",
        files={"files": ("face.png", outside_files["image"].read_bytes(), "image/png")},
        timeout=60,
    ).json()[0]
    assert raw_get(live_app.url, f"/gradio_api/file={uploaded}")[0] == 200  # the route works for its own cache
    escapes = [f"{uploaded}/../../../../../../etc/passwd", f"{Path(uploaded).parent}/../../../../etc/passwd"]
    leaks = ("root:x:0:0", "TOP-SECRET-TOKEN", "HF_HUB_OFFLINE", "def load_classifier", "build_demo")
    for route in ("/gradio_api/file=", "/file=", "/gradio_api/file/", "/static/", "/assets/", "/"):
        for path in traversal_paths(outside_files) + escapes:
            status, body = raw_get(live_app.url, route + path)
            assert status in (400, 403, 404, 405), f"{route}{path}: {status}"
            assert not any(leak in body for leak in leaks), f"{route}{path} leaked"
    assert raw_get(live_app.url, "/")[0] == 200  # the app itself still answers


def call_raw(base_url: str, api_name: str, data: list) -> str:
    """Call an endpoint over plain HTTP (gradio_client would upload a local path itself); the SSE answer."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        event = http.post(f"gradio_api/call/{api_name}", json={"data": data})
        event.raise_for_status()
        return http.get(f"gradio_api/call/{api_name}/{event.json()['event_id']}").text


@pytest.mark.slow
@pytest.mark.parametrize("api_name", ["analyze", "classify_face"])
def test_api_refuses_server_side_paths(api_name: str, live_app: LiveApp, outside_files: dict[str, Path]) -> None:  # noqa: F811
    """A FileData whose path points at the server's disk instead of an upload is refused, even a valid image."""
    for path in ("/etc/passwd", str(outside_files["secret"]), str(outside_files["image"]), "../../etc/passwd"):
        answer = call_raw(live_app.url, api_name, [{"path": path, "meta": {"_type": "gradio.FileData"}}])
        assert answer.startswith("event: error"), f"{path}: {answer[:300]}"
        assert not any(leak in answer for leak in ("TOP-SECRET-TOKEN", "root:x", "faces", "happy"))
    uploaded = handle_file(outside_files["image"])  # the same image, uploaded by the client: analysed
    assert Client(live_app.url, verbose=False).predict(uploaded, api_name=f"/{api_name}")
