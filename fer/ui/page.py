"""What the Webcam tab's in-page engine needs from the server: its static files, the four ONNX files the server
runs, and a manifest tying them to the served model; all served with cross-origin isolation headers.

The page (fer/ui/static/js/) runs MTCNN and the classifier itself with onnxruntime-web, from the very ONNX files
the server runs (the same model id and version), so a webcam visitor costs the server nothing per frame. Routes
(relative to the app's root):

- `fer/manifest.json`: model id, labels, input spec, detector and tracking options, file URLs (no-cache);
- `fer/models/<name>-<digest>.onnx`: the networks, the weights' digest in the name (cached for good);
- `fer/static/...`: the page's ES modules and the vendored onnxruntime-web (revalidated with ETags).

Every response of the app carries COOP `same-origin` and COEP `require-corp`: the page is then cross-origin
isolated, which gives onnxruntime-web its WebAssembly threads (SharedArrayBuffer). The Gradio page loads nothing
from another origin, so the headers cost it nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fer import scene, stream, tracking
from fer.detect import WEBCAM_OPTIONS, FaceDetector
from fer.identity import identify
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.ui.page_config import classifier_config, detector_config

STATIC_DIR = Path(__file__).resolve().parent / "static"
ROUTE = "/fer"
STATIC_PATH = f"{ROUTE}/static"
MODELS_PATH = f"{ROUTE}/models"
MANIFEST_PATH = f"{ROUTE}/manifest.json"
ENTRY_SCRIPT = "js/boot.js"  # the script the page's <head> loads (fer.ui.blocks.PAGE_HEAD); it imports js/main.js
ORT_VERSION = "1.31.1"  # fer/ui/static/vendor/onnxruntime-web/README.md
ORT_DIR = "vendor/onnxruntime-web/"
ORT_WASM = "ort-wasm-simd-threaded.wasm"
BROTLI_QUALITY = 9  # 14.8 MB -> 2.8 MB in about 2 s of one core, once per process
GZIP_LEVEL = 6  # 3.8 MB, for a browser that does not take brotli
MANIFEST_VERSION = 1
ISOLATION_ENV = "FER_PAGE_ISOLATION"  # "0": no isolation headers (to measure the page without threads)
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
IMMUTABLE = "public, max-age=31536000, immutable"  # a model file's URL changes with its weights
REVALIDATE = "no-cache"  # the page's code and the manifest: asked again (a 304 when unchanged)
NET_NAMES = ("pnet", "rnet", "onet", "classifier")


@dataclass(frozen=True)
class PageFiles:
    """The ONNX files the page runs, by network name, and the URL path each is served at."""

    paths: dict[str, Path]

    def file_name(self, name: str) -> str:
        """`<name>-<digest>.onnx`, the export cache's name (fer.runtime.export): the digest is the weights', so a
        changed file gets another URL and no cache ever serves stale weights."""
        return self.paths[name].name

    def by_file_name(self) -> dict[str, Path]:
        return {self.file_name(name): path for name, path in self.paths.items()}


def onnx_path(net: object) -> Path | None:
    """The ONNX file of a network the server runs with onnxruntime (fer.runtime.onnx.OnnxNet), else None."""
    path = getattr(net, "path", None)
    return Path(path) if path is not None else None


def page_files(recognizer: EmotionRecognizer, detector: FaceDetector) -> PageFiles:
    """The files the server itself runs; with the PyTorch backend, the same networks exported to the ONNX cache
    (once per set of weights, as the onnx backend would)."""
    mtcnn = detector.mtcnn
    paths = {name: onnx_path(getattr(mtcnn, name)) for name in NET_NAMES[:3]}
    paths["classifier"] = onnx_path(recognizer.model)
    if all(paths.values()):
        return PageFiles(paths)  # type: ignore[arg-type]
    from fer.runtime.export import classifier_onnx, mtcnn_onnx

    if not all(paths[name] for name in NET_NAMES[:3]):
        paths.update(mtcnn_onnx(mtcnn))
    if paths["classifier"] is None:
        info = recognizer.info
        model = getattr(recognizer.model, "model", recognizer.model)  # the timm model inside ServedClassifier
        paths["classifier"] = classifier_onnx(model, info.spec.size, info.flip_average)
    return PageFiles(paths)  # type: ignore[arg-type]


def manifest(recognizer: EmotionRecognizer, files: PageFiles, detector: FaceDetector) -> dict[str, Any]:
    """Everything the page needs to do per frame what the server's stream does (fer.stream.StreamProcessor).

    URLs are relative to the manifest's own URL."""
    identity = identify(recognizer.model_id)
    info, options = recognizer.info, detector.options
    return {
        "version": MANIFEST_VERSION,
        "model": {"id": identity.id, "name": identity.name, "description": identity.description},
        "runtime": {"name": "onnxruntime-web", "version": ORT_VERSION, "wasmPaths": f"static/{ORT_DIR}"},
        "labels": list(EMOTIONS),  # the order of every probability the page shows or reports
        "classifier": classifier_config(info),
        "detector": detector_config(options),
        "tracking": {
            **{_camel(field.name): getattr(stream.TrackingOptions(), field.name) for field in _fields()},
            "fpsWindow": stream.FPS_WINDOW,
            "staleS": stream.STALE_S,
            "smoothingWindow": tracking.SMOOTHING_WINDOW,
            "iouMatch": tracking.IOU_MATCH,
        },
        "scene": {
            "thumbSize": list(scene.THUMB_SIZE),
            "cutChange": scene.CUT_CHANGE,
            "cutJump": scene.CUT_JUMP,
            "motionChange": scene.MOTION_CHANGE,
            "grid": list(scene.GRID),
            "newFaceChange": scene.NEW_FACE_CHANGE,
        },
        "files": {name: f"models/{files.file_name(name)}" for name in NET_NAMES},
    }


def _fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(stream.TrackingOptions)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class IsolationMiddleware:
    """Adds ISOLATION_HEADERS to every HTTP response (a pure ASGI middleware: streamed responses stay streamed)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or ISOLATION_HEADERS).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PageStatic(StaticFiles):
    """The static folder, revalidated on every visit (ETag / Last-Modified give a 304 when unchanged)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = REVALIDATE
        return response


class Precompressed:
    """A large static file (the runtime's .wasm) also as brotli and gzip, compressed once in a background thread:
    a visitor whose browser accepts either downloads a fifth of it (14.8 MB -> 2.8 MB), at no CPU per request.
    Until the copies are ready, and for other clients, the file goes out as it is."""

    def __init__(self, path: Path, media_type: str):
        self.path, self.media_type = path, media_type
        self.encoded: dict[str, tuple[bytes, str]] = {}  # encoding -> (bytes, ETag)
        threading.Thread(target=self._compress, name=f"compress-{path.name}", daemon=True).start()

    def _compress(self) -> None:
        data = self.path.read_bytes()
        tag = hashlib.sha256(data).hexdigest()[:16]
        try:
            import brotli

            self.encoded["br"] = (brotli.compress(data, quality=BROTLI_QUALITY), f'"{tag}-br"')
        except ImportError:  # Gradio depends on brotli; gzip alone would do
            pass
        self.encoded["gzip"] = (gzip.compress(data, GZIP_LEVEL, mtime=0), f'"{tag}-gzip"')

    def response(self, request: Request) -> Response | None:
        """The compressed file (or a 304) for an encoding the request accepts, else None."""
        accepted = {part.split(";")[0].strip() for part in request.headers.get("accept-encoding", "").split(",")}
        for encoding in ("br", "gzip"):
            if encoding in accepted and encoding in self.encoded:
                data, tag = self.encoded[encoding]
                headers = {"ETag": tag, "Cache-Control": REVALIDATE, "Vary": "Accept-Encoding"}
                if tag in request.headers.get("if-none-match", ""):
                    return Response(status_code=304, headers=headers)
                headers["Content-Encoding"] = encoding
                return Response(data, media_type=self.media_type, headers=headers)
        return None


def page_routes(manifest_data: Callable[[], dict[str, Any]], files: PageFiles) -> list[BaseRoute]:
    """The routes above, to pass to the FastAPI app Gradio builds (`launch(app_kwargs={"routes": ...})`)."""
    by_name = files.by_file_name()
    static = PageStatic(directory=STATIC_DIR)
    wasm = Precompressed(STATIC_DIR / ORT_DIR / ORT_WASM, "application/wasm")

    async def get_wasm(request: Request) -> Response:
        return wasm.response(request) or await static.get_response(f"{ORT_DIR}{ORT_WASM}", request.scope)

    async def get_manifest(request: Request) -> Response:
        return JSONResponse(manifest_data(), headers={"Cache-Control": REVALIDATE})

    async def get_model(request: Request) -> Response:
        path = by_name.get(request.path_params["name"])
        if path is None or not path.is_file():
            return Response("No such model file.", status_code=404, media_type="text/plain")
        return FileResponse(path, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})

    return [
        Route(MANIFEST_PATH, get_manifest, methods=["GET", "HEAD"]),
        Route(f"{MODELS_PATH}/{{name}}", get_model, methods=["GET", "HEAD"]),
        Route(f"{STATIC_PATH}/{ORT_DIR}{ORT_WASM}", get_wasm, methods=["GET", "HEAD"]),
        Mount(STATIC_PATH, app=static, name="fer-static"),
    ]


def isolation_enabled() -> bool:
    """Whether to send ISOLATION_HEADERS: yes unless FER_PAGE_ISOLATION is 0 / false / no."""
    return os.environ.get(ISOLATION_ENV, "1").strip().lower() not in ("0", "false", "no")


@dataclass
class PageServer:
    """The server side of the in-page webcam, built once per app: `app_kwargs()` goes to `Blocks.launch`."""

    recognizer: EmotionRecognizer
    detector: FaceDetector
    isolate: bool = field(default_factory=isolation_enabled)

    def __post_init__(self) -> None:
        self.files = page_files(self.recognizer, self.detector)
        self.manifest = manifest(self.recognizer, self.files, self.detector)

    def routes(self) -> list[BaseRoute]:
        return page_routes(lambda: self.manifest, self.files)

    def app_kwargs(self) -> dict[str, Any]:
        """FastAPI arguments: the page's routes (matched before Gradio's) and, with `isolate`, the headers."""
        middleware = [Middleware(IsolationMiddleware)] if self.isolate else []
        return {"routes": self.routes(), "middleware": middleware}


def webcam_detector(recognizer: EmotionRecognizer) -> FaceDetector:
    """The detector of the webcam stream (server side) whose networks the page runs too."""
    return FaceDetector(WEBCAM_OPTIONS, backend=recognizer.backend)
