"""The server side of the in-page webcam (fer/ui/page.py): the manifest, the ONNX files and static files it serves,
the cross-origin isolation headers; with either backend the page gets the files the server runs."""

from __future__ import annotations

import dataclasses
import hashlib
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fer import scene, stream, tracking
from fer.detect import WEBCAM_OPTIONS
from fer.identity import identify
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.ui.page import (
    ISOLATION_ENV,
    ISOLATION_HEADERS,
    ORT_DIR,
    ORT_VERSION,
    ORT_WASM,
    STATIC_DIR,
    PageServer,
    isolation_enabled,
    webcam_detector,
)

VENDOR = STATIC_DIR / ORT_DIR


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id, backend="onnx")


@pytest.fixture(scope="module")
def page(recognizer: EmotionRecognizer) -> PageServer:
    return PageServer(recognizer, webcam_detector(recognizer), isolate=True)


@pytest.fixture(scope="module")
def client(page: PageServer) -> TestClient:
    app = FastAPI(**page.app_kwargs())

    @app.get("/")
    def index() -> dict:  # stands in for Gradio's page
        return {}

    return TestClient(app)


def test_the_manifest_names_the_served_model_and_the_server_paths_settings(page, recognizer, client) -> None:
    answer = client.get("/fer/manifest.json")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-cache"
    manifest = answer.json()
    assert manifest["model"]["id"] == identify(recognizer.model_id).id
    assert manifest["labels"] == list(EMOTIONS)
    spec = recognizer.info.spec
    classifier = manifest["classifier"]
    assert (classifier["size"], classifier["mean"], classifier["std"]) == (spec.size, spec.mean, spec.std)
    assert (classifier["margin"], classifier["detail"]) == (spec.margin, spec.detail)
    assert classifier["flipAverage"] == recognizer.info.flip_average and classifier["flipInGraph"]
    assert manifest["detector"] == {
        "minFaceSize": WEBCAM_OPTIONS.min_face_size,
        "thresholds": list(WEBCAM_OPTIONS.thresholds),
        "factor": WEBCAM_OPTIONS.factor,
        "maxSide": WEBCAM_OPTIONS.max_side,
        "minScore": WEBCAM_OPTIONS.min_score,
        "refinePasses": 2,
    }
    options = stream.TrackingOptions()
    for field in dataclasses.fields(options):
        head, *rest = field.name.split("_")
        assert manifest["tracking"][head + "".join(p.title() for p in rest)] == getattr(options, field.name)
    assert manifest["tracking"]["smoothingWindow"] == tracking.SMOOTHING_WINDOW
    assert manifest["tracking"]["iouMatch"] == tracking.IOU_MATCH
    assert manifest["tracking"]["staleS"] == stream.STALE_S and manifest["tracking"]["fpsWindow"] == stream.FPS_WINDOW
    assert manifest["scene"]["thumbSize"] == list(scene.THUMB_SIZE) and manifest["scene"]["grid"] == list(scene.GRID)
    assert manifest["scene"]["cutChange"] == scene.CUT_CHANGE and manifest["scene"]["cutJump"] == scene.CUT_JUMP
    assert manifest["runtime"]["version"] == ORT_VERSION
    assert client.get(f"/fer/{manifest['runtime']['wasmPaths']}{ORT_WASM}").status_code == 200


def test_the_page_gets_the_very_onnx_files_the_server_runs(page, recognizer, client) -> None:
    manifest = client.get("/fer/manifest.json").json()
    served = {
        "classifier": recognizer.model.path,
        **{name: getattr(page.detector.mtcnn, name).path for name in ("pnet", "rnet", "onet")},
    }
    for name, path in served.items():
        url = f"/fer/{manifest['files'][name]}"
        assert url.endswith(path.name)  # <name>-<weights digest>.onnx: new weights, new URL
        answer = client.get(url)
        assert answer.status_code == 200 and answer.content == path.read_bytes(), name
        assert "immutable" in answer.headers["cache-control"]
    assert client.get("/fer/models/classifier-0000000000000000.onnx").status_code == 404
    assert client.get("/fer/models/..%2f..%2fconfig.json").status_code == 404


def test_static_files_are_served_with_isolation_headers_and_nothing_else_is_exposed(client) -> None:
    for url in ("/", "/fer/static/js/main.js", "/fer/manifest.json", "/fer/static/js/boot.js"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        for name, value in ISOLATION_HEADERS.items():
            assert answer.headers[name] == value, (url, name)
    assert client.get("/fer/static/js/main.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/fer/static/../page.py").status_code == 404
    assert client.get("/fer/static/%2e%2e/page.py").status_code == 404


def test_the_runtime_is_vendored_with_its_licence_and_served_compressed(client) -> None:
    names = {path.name for path in VENDOR.iterdir()}
    assert {"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", ORT_WASM, "LICENSE", "README.md"} <= names
    readme = (VENDOR / "README.md").read_text()
    assert ORT_VERSION in readme
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", ORT_WASM):
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() in readme, name
    url = f"/fer/static/{ORT_DIR}{ORT_WASM}"
    raw = (VENDOR / ORT_WASM).read_bytes()
    deadline = time.monotonic() + 120
    while (answer := client.get(url, headers={"Accept-Encoding": "br"})).headers.get("content-encoding") != "br":
        assert time.monotonic() < deadline, "no brotli copy after 120 s"
        time.sleep(0.5)
    assert answer.content == raw and answer.headers["content-type"] == "application/wasm"  # decoded by the client
    assert int(answer.headers["content-length"]) < len(raw) // 4
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers and plain.content == raw


def test_isolation_can_be_turned_off(monkeypatch, recognizer) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "0")
    assert not isolation_enabled()
    page = PageServer(recognizer, webcam_detector(recognizer))
    answer = TestClient(FastAPI(**page.app_kwargs())).get("/fer/manifest.json")
    assert answer.status_code == 200 and "cross-origin-embedder-policy" not in answer.headers


def test_with_the_torch_backend_the_same_networks_are_exported_for_the_page(
    random_model_id, page, tmp_path, monkeypatch
):
    monkeypatch.setenv("FER_ONNX_CACHE", str(tmp_path))
    torch_recognizer = EmotionRecognizer.from_pretrained(random_model_id, backend="torch")
    torch_page = PageServer(torch_recognizer, webcam_detector(torch_recognizer))
    assert all(path.parent == tmp_path and path.is_file() for path in torch_page.files.paths.values())
    # the same weights give the same digests, so the same URLs as the onnx backend's files
    assert torch_page.manifest["files"] == page.manifest["files"]
