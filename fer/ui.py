"""The Gradio Blocks app: Upload, Webcam (live stream), Video and API tabs around one EmotionRecognizer."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from fer.detect import WEBCAM_OPTIONS, FaceDetector
from fer.draw import draw_faces, label_text
from fer.images import ImageError, load_rgb
from fer.recognizer import EmotionRecognizer, FacePrediction
from fer.schema import predictions_payload
from fer.stream import StreamProcessor
from fer.ui_video import video_tab

# Queue: every event but the webcam stream shares DEFAULT_CONCURRENCY workers (one CPU-bound forward pass each;
# more than the cores only adds latency); up to QUEUE_MAX_SIZE requests wait, later ones are told the queue is full.
DEFAULT_CONCURRENCY = 2
QUEUE_MAX_SIZE = 64
# Webcam: a stream holds its worker for the whole session, so streams have their own limit and a time limit.
WEBCAM_STREAMS = 4
STREAM_EVERY_S = 0.05  # the browser posts a frame this often; the server takes the newest one when it is free
STREAM_TIME_LIMIT_S = 300  # then the stream stops; press record again
WEBCAM_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
# Cache: every `frequency` s, files older than `age` s are deleted (streamed frames land there too).
DELETE_CACHE = (120, 300)

TABLE_HEADERS = ["face", "emotion", "confidence", "box (x1, y1, x2, y2)"]
NO_FACE = "No face found. Try a larger, frontal, well-lit face."


def read_upload(payload: dict[str, Any] | str | None) -> np.ndarray:
    """The RGB array of an uploaded image (a Gradio FileData payload or a path), or a gr.Error saying why not."""
    path = payload.get("path") if isinstance(payload, dict) else payload
    if not path:
        raise gr.Error("Upload an image first.")
    try:
        return load_rgb(path)
    except ImageError as err:
        raise gr.Error(str(err)) from err


def faces_table(faces: list[FacePrediction]) -> list[list[Any]]:
    return [
        [index, face.emotion, round(face.probabilities[face.emotion], 3), ", ".join(f"{v:.0f}" for v in face.box)]
        for index, face in enumerate(faces, start=1)
    ]


def analyze_upload(recognizer: EmotionRecognizer, payload: dict[str, Any] | None) -> tuple:
    """Upload tab: annotated image, the main (largest) face's probabilities, a table of all faces."""
    if payload is None:
        return None, None, None
    rgb = read_upload(payload)
    faces = recognizer.predict(rgb)
    if not faces:
        gr.Info(NO_FACE)
        return rgb, None, []
    main = gr.Label(faces[0].probabilities, label="Face 1 (largest)")
    return draw_faces(rgb, faces, ids=list(range(1, len(faces) + 1))), main, faces_table(faces)


def stream_frame(
    recognizer: EmotionRecognizer, detector: FaceDetector, frame: np.ndarray | None, stream: StreamProcessor | None
) -> tuple:
    """Webcam tab, per frame: detect, classify, smooth per tracked face, annotate; frames/s measured."""
    stream = stream or StreamProcessor(recognizer, detector)
    if frame is None:
        return None, gr.skip(), stream
    result = stream.process(frame)
    labels = ", ".join(label_text(face.prediction, face.id) for face in result.faces) or "no face"
    height, width = frame.shape[:2]
    per_frame = result.mean_latency_s * 1000  # over the last frames, detector runs included (not the last frame's)
    stats = f"**{result.fps:.1f} frames/s** · {per_frame:.1f} ms per frame · {width}x{height} · {labels}"
    return result.image, stats, stream


def example_image() -> str:
    """scikit-image's astronaut photo (bundled with the package), written once to the temp dir."""
    from PIL import Image
    from skimage import data

    path = Path(tempfile.gettempdir()) / "fer-examples" / "astronaut.jpg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.astronaut()).save(path, quality=90)
    return str(path)


def build_demo(recognizer: EmotionRecognizer) -> gr.Blocks:
    """The Blocks app. Public API endpoints: /analyze (image -> JSON) and /classify_face (face crop -> 7 probs)."""
    webcam_detector = FaceDetector(WEBCAM_OPTIONS)

    def analyze(image: dict[str, Any]) -> dict[str, Any]:
        """Every face of an image: box [x1, y1, x2, y2] in the input's pixels, score, emotion, 7 probabilities."""
        rgb = read_upload(image)
        height, width = rgb.shape[:2]
        return predictions_payload(recognizer.predict(rgb), (width, height), recognizer.model_id)

    def classify_face(face: dict[str, Any]) -> dict[str, float]:
        """The 7 emotion probabilities of an image that is already a cropped face."""
        return recognizer.classify_face(read_upload(face))

    with gr.Blocks(title="Facial emotion recognition", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(
            "# Facial emotion recognition\nMTCNN finds every face; a ResNet18 reads it as one of 7 emotions. "
            f"Model: `{recognizer.model_id}`"
        )
        with gr.Tabs():
            with gr.Tab("Upload"):
                with gr.Row():
                    photo = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Photo")
                    annotated = gr.Image(label="Faces", format="jpeg", interactive=False)
                with gr.Row():
                    main_face = gr.Label(num_top_classes=7, label="Face 1 (largest)")
                    table = gr.Dataframe(headers=TABLE_HEADERS, label="All faces", interactive=False)
                gr.Examples([[example_image()]], inputs=photo)
            with gr.Tab("Webcam"):
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
            video_tab(recognizer)  # fer/ui_video.py: the Video tab and /analyze_video
            with gr.Tab("API"):
                gr.Markdown("The endpoints `gradio_client` calls; try them here.")
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
        stream = gr.State()  # this session's StreamProcessor (tracks, frames/s), created by its first frame

        photo.change(
            lambda payload: analyze_upload(recognizer, payload),
            photo,
            [annotated, main_face, table],
            preprocess=False,
            api_visibility="private",
        )
        camera.stream(
            lambda frame, state: stream_frame(recognizer, webcam_detector, frame, state),
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
    return demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
