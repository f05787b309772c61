"""The Gradio Blocks app: Upload, Webcam (live stream), Video and API tabs around one EmotionRecognizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from fer.detect import FaceDetector
from fer.draw import draw_faces, label_text, percent
from fer.faces import FacePrediction
from fer.identity import ModelIdentity, card_text, identify
from fer.images import IMAGE_TYPES, MAX_IMAGE_BYTES, ImageError, load_rgb
from fer.recognizer import EmotionRecognizer
from fer.runtime.serving import REQUEST_WORKERS
from fer.schema import predictions_payload
from fer.stream import StreamProcessor
from fer.ui.errors import log, refuse
from fer.ui.examples import example_files
from fer.ui.live_frames import frame_file, remove_stale
from fer.ui.page import ENTRY_SCRIPT, STATIC_DIR, STATIC_PATH, PageServer, webcam_detector
from fer.ui.video_tab import video_tab

# Queue: every event but the webcam stream shares DEFAULT_CONCURRENCY workers (one CPU-bound forward pass each;
# more than the cores only adds latency); up to QUEUE_MAX_SIZE requests wait, later ones are told the queue is full.
DEFAULT_CONCURRENCY = REQUEST_WORKERS
QUEUE_MAX_SIZE = 64
# Gradio's queue looks for work every 1 ms while idle: 0.06 CPU seconds a second of an idle app here (and the
# in-page webcam leaves the app idle). Every 10 ms costs about a sixth of that and delays a request by 5 ms on average.
QUEUE_POLL_S = 0.01
# Webcam: a stream holds its worker for the whole session, so streams have their own limit and a time limit.
WEBCAM_STREAMS = 4
STREAM_EVERY_S = 0.05  # the browser posts a frame this often; the server takes the newest one when it is free
STREAM_TIME_LIMIT_S = 300  # then the stream stops; press record again
WEBCAM_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
# Cache: every `frequency` s, files older than `age` s are deleted (streamed frames land there too).
DELETE_CACHE = (120, 300)

# The model card's tables keep words whole (Gradio's prose breaks them anywhere, which squeezed a wide table into
# columns a letter or two wide) and scroll sideways when wider than the page; the card itself scrolls past this.
PAGE_CSS = """
#model-card table { display: block; overflow-x: auto; }
#model-card th, #model-card td { min-width: 5em; overflow-wrap: normal; word-break: normal; }
"""
CARD_MAX_HEIGHT_PX = 640

# The in-page webcam (fer/ui/page.py, fer/ui/static/): its view and its code are files of the static folder, loaded
# by the page's <head> (relative URLs: the app may be served under a path prefix).
PAGE_VIEW = STATIC_DIR / "webcam.html"
PAGE_HEAD = (
    f'<link rel="stylesheet" href="{STATIC_PATH.lstrip("/")}/css/webcam.css">\n'
    f'<script src="{STATIC_PATH.lstrip("/")}/{ENTRY_SCRIPT}"></script>'
)
WEBCAM_INTRO = (
    "Press **Start webcam** and allow the camera: faces are found and read in this page, with the same networks "
    "the server runs, and no frame leaves your computer. No webcam? The Video tab's example shows the same "
    "tracking on a clip, in one click."
)
SERVER_STREAM_INTRO = (
    "**Or stream to the server**: the frames go to the server, which annotates them (it takes over by itself "
    "where this browser cannot run the networks). Allow the webcam below, then press record."
)

TABLE_HEADERS = ["face", "emotion", "confidence", "box (x1, y1, x2, y2)"]
NO_FACE = "No face found. Try a larger, frontal, well-lit face."


def read_upload(payload: dict[str, Any] | str | None) -> np.ndarray:
    """The RGB array of an uploaded image (a Gradio FileData payload or a path), or a gr.Error saying why not."""
    path = payload.get("path") if isinstance(payload, dict) else payload
    if not path:
        raise gr.Error("Upload an image first.", print_exception=False)
    try:
        return load_rgb(path, name=Path(path).name)  # the visitor's file name, never the server's path
    except ImageError as err:
        raise refuse(str(err)) from err


def faces_table(faces: list[FacePrediction]) -> list[list[Any]]:
    """One row per face; the confidence reads as on the image's labels ('76%')."""
    return [
        [index, face.emotion, percent(face.probabilities[face.emotion]), ", ".join(f"{v:.0f}" for v in face.box)]
        for index, face in enumerate(faces, start=1)
    ]


def analyze_upload(recognizer: EmotionRecognizer, payload: dict[str, Any] | None) -> tuple:
    """Upload tab: the photo box, annotated image, the main (largest) face's probabilities, a table of all faces.

    A file that is not a usable image is removed from the photo box (no broken image) and explained in a toast;
    the outputs stay empty (no error badges)."""
    if payload is None:
        return gr.skip(), None, None, None
    try:
        rgb = read_upload(payload)
    except gr.Error as err:
        gr.Warning(err.message)
        return None, None, None, None
    faces = recognizer.predict_rgb(rgb)
    if not faces:
        gr.Info(NO_FACE)
        return gr.skip(), rgb, None, []
    main = gr.Label(faces[0].probabilities, label="Face 1 (largest)")
    return gr.skip(), draw_faces(rgb, faces), main, faces_table(faces)


def stream_frame(
    recognizer: EmotionRecognizer, detector: FaceDetector, frame: np.ndarray | None, stream: StreamProcessor | None
) -> tuple:
    """Webcam tab, per frame: detect, classify, smooth per tracked face, annotate; frames/s measured.

    The annotated frame goes out as a file written atomically (fer/ui/live_frames.py says why)."""
    if stream is None:
        remove_stale()
        stream = StreamProcessor(recognizer, detector)
    if frame is None:
        return None, gr.skip(), stream
    result = stream.process(frame)
    labels = ", ".join(label_text(face.prediction, face.id) for face in result.faces) or "no face"
    height, width = frame.shape[:2]
    per_frame = result.mean_latency_s * 1000  # over the last frames, detector runs included (not the last frame's)
    stats = f"**{result.fps:.1f} frames/s** · {per_frame:.1f} ms per frame · {width}x{height} · {labels}"
    return frame_file(result.image, id(stream)), stats, stream


def header(identity: ModelIdentity) -> str:
    """The page's title and the model: its name, version and a link to its card (never a server path)."""
    card = f" · [model card]({identity.card_url})" if identity.card_url else ""
    card = " · its card is below" if identity.card_path else card
    return (
        "# Facial emotion recognition\nMTCNN finds every face; a ResNet18 reads it as one of 7 emotions. "
        f"Model: **{identity.description}**{card}"
    )


def launch_options(page: PageServer) -> dict[str, Any]:
    """`Blocks.launch` arguments that serve the in-page webcam: its routes and headers (fer/ui/page.py), the CSS,
    and its code in the page's <head> from the first paint (the Webcam tab's gr.HTML names it too, which loads it
    only once the tab is shown)."""
    return {"app_kwargs": page.app_kwargs(), "css": PAGE_CSS, "head": PAGE_HEAD}


def build_demo(recognizer: EmotionRecognizer, page: PageServer | None = None) -> gr.Blocks:
    """The Blocks app. Public API endpoints: /analyze (image -> JSON) and /classify_face (face crop -> 7 probs).

    `page` (fer/ui/page.py) serves the in-page webcam's files: pass the same one to `launch_options`."""
    detector = page.detector if page is not None else webcam_detector(recognizer)
    identity = identify(recognizer.model_id)
    examples = example_files()

    def analyze(image: dict[str, Any]) -> dict[str, Any]:
        """Every face of an image: box [x1, y1, x2, y2] in the input's pixels, score, emotion, 7 probabilities."""
        rgb = read_upload(image)
        height, width = rgb.shape[:2]
        return predictions_payload(recognizer.predict_rgb(rgb), (width, height), identity.id)

    def classify_face(face: dict[str, Any]) -> dict[str, float]:
        """The 7 emotion probabilities of an image that is already a cropped face."""
        return recognizer.classify_rgb(read_upload(face))

    with gr.Blocks(title="Facial emotion recognition", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(header(identity), elem_id="header")
        if identity.card_path is not None:
            with gr.Accordion(f"Model card: {identity.name}", open=False, elem_id="model-card"):
                gr.Markdown(card_text(identity), max_height=CARD_MAX_HEIGHT_PX)
        with gr.Tabs():
            with gr.Tab("Upload"):
                gr.Markdown(
                    f"Drop, paste or pick a photo ({IMAGE_TYPES}, up to {MAX_IMAGE_BYTES // 2**20} MB), or click an "
                    "example: the faces appear as soon as it is uploaded."
                )
                with gr.Row():
                    photo = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Photo", elem_id="photo")
                    annotated = gr.Image(label="Faces", format="jpeg", interactive=False, elem_id="faces")
                with gr.Row():
                    main_face = gr.Label(num_top_classes=7, label="Face 1 (largest)")
                    table = gr.Dataframe(
                        headers=TABLE_HEADERS, label="All faces", interactive=False, elem_id="faces-table"
                    )
                upload_outputs = [photo, annotated, main_face, table]
                gr.Examples(
                    [[examples["astronaut"]], [examples["group"]]],
                    inputs=photo,
                    outputs=upload_outputs,
                    fn=lambda path: analyze_upload(recognizer, path),
                    run_on_click=True,
                    cache_examples=False,
                    api_visibility="private",
                    label="Examples",
                    elem_id="upload-examples",
                )
            with gr.Tab("Webcam"):
                gr.Markdown(WEBCAM_INTRO)
                with gr.Row():
                    gr.Button("Start webcam", variant="primary", elem_id="fer-start", scale=0, min_width=160)
                    gr.Button("Stop", elem_id="fer-stop", scale=0, min_width=100)
                # the page's own code (fer/ui/static/js/main.js) drives these: no event reaches the server
                gr.HTML(PAGE_VIEW.read_text(encoding="utf-8"), head=PAGE_HEAD, js_on_load=None, elem_id="fer-page")
                gr.Markdown(SERVER_STREAM_INTRO)
                with gr.Row():
                    camera = gr.Image(
                        sources=["webcam"],
                        streaming=True,
                        label="Webcam",
                        elem_id="webcam",
                        webcam_options=gr.WebcamOptions(constraints=WEBCAM_CONSTRAINTS),
                    )
                    live = gr.Image(label="Live", format="jpeg", interactive=False, elem_id="live")
                stats = gr.Markdown("Press record to start; frames/s appear here.", elem_id="stream-stats")
            video_tab(recognizer, examples["clip"])  # fer/ui/video_tab.py: the Video tab and /analyze_video
            with gr.Tab("API"):
                gr.Markdown(
                    f"The endpoints `gradio_client` calls; try them here (images up to {MAX_IMAGE_BYTES // 2**20} MB)."
                )
                with gr.Row():
                    with gr.Column():
                        api_image = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Image")
                        analyze_button = gr.Button("/analyze")
                    analysis = gr.JSON(label="/analyze")
                with gr.Row():
                    with gr.Column():
                        api_face = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Face crop")
                        classify_button = gr.Button("/classify_face")
                    probabilities = gr.JSON(label="/classify_face")
                gr.Examples(
                    [[examples["group"], examples["face"]]],
                    inputs=[api_image, api_face],
                    label="Examples",
                    elem_id="api-examples",
                )
        stream = gr.State()  # this session's StreamProcessor (tracks, frames/s), created by its first frame

        photo.upload(  # once per upload or paste (`change` fires twice); examples run it themselves
            lambda payload: analyze_upload(recognizer, payload),
            photo,
            upload_outputs,
            preprocess=False,
            api_visibility="private",
            show_progress_on=[annotated],
        )
        photo.clear(lambda: (None, None, None), None, [annotated, main_face, table], api_visibility="private")
        camera.stream(
            lambda frame, state: stream_frame(recognizer, detector, frame, state),
            [camera, stream],
            [live, stats, stream],
            stream_every=STREAM_EVERY_S,
            time_limit=STREAM_TIME_LIMIT_S,
            concurrency_limit=WEBCAM_STREAMS,
            concurrency_id="webcam",
            show_progress="hidden",
            api_visibility="private",
        )
        analyze_button.click(analyze, api_image, analysis, preprocess=False, api_name="analyze")
        classify_button.click(classify_face, api_face, probabilities, preprocess=False, api_name="classify_face")
    return poll_queue_every(demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX_SIZE))


def poll_queue_every(demo: gr.Blocks, seconds: float = QUEUE_POLL_S) -> gr.Blocks:
    """Make `demo`'s queue look for work every `seconds` while idle. Gradio has no public setting for it: its
    Queue's `sleep_when_free` is checked first, so that a Gradio that renames it is logged, not silently ignored."""
    queue = demo._queue
    if not isinstance(getattr(queue, "sleep_when_free", None), float):
        log.warning("Gradio's queue has no sleep_when_free: it keeps its own idle polling.")
        return demo
    queue.sleep_when_free = seconds
    return demo
