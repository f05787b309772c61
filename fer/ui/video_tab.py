"""The Video tab: upload a clip, get it annotated, a timeline plot and per-frame CSV / JSON (/analyze_video)."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import gradio as gr

from fer.recognizer import EmotionRecognizer
from fer.ui.errors import refuse
from fer.video.io import MAX_DURATION_S, MAX_VIDEO_BYTES, VideoError
from fer.video.outputs import export

RESULTS_DIR = Path(tempfile.gettempdir()) / "fer-video"  # our outputs; Gradio serves its own cached copies
RESULTS_TTL_S = 600  # result folders older than this are removed on the next analysis
UI_MAX_STRIDE = 10
VIDEO_CONCURRENCY = 1  # one clip at a time: it keeps the CPU busy; others wait in the queue


def new_results_dir() -> Path:
    """A fresh folder for one analysis; folders of earlier analyses past RESULTS_TTL_S are removed."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in RESULTS_DIR.iterdir():
        if time.time() - old.stat().st_mtime > RESULTS_TTL_S:
            shutil.rmtree(old, ignore_errors=True)
    folder = RESULTS_DIR / uuid.uuid4().hex
    folder.mkdir()
    return folder


def analyze_clip(
    recognizer: EmotionRecognizer, video: str | None, stride: float, progress: gr.Progress
) -> tuple[str, str, str, str, dict[str, Any]]:
    """Annotated mp4, timeline PNG, CSV, JSON paths and the summary of a clip; a gr.Error saying why if it fails."""
    if not video:
        raise gr.Error("Upload a video first (mp4, webm or mov).", print_exception=False)
    folder = new_results_dir()
    stem = Path(video).stem[:40] or "clip"
    paths = [folder / f"{stem}{suffix}" for suffix in ("_annotated.mp4", "_timeline.png", ".csv", ".json")]
    out_video, plot, table, frames = paths

    def report(done: int, total: int | None) -> None:
        progress((done, total), desc="Analysing frames", unit="frames")

    try:
        result = export(  # the clip named by the visitor's file name, never the server's path
            video,
            recognizer,
            out_video,
            table,
            frames,
            plot,
            stride=int(stride),
            progress=report,
            name=Path(video).name,
        )
    except VideoError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise refuse(str(err)) from err
    return str(out_video), str(plot), str(table), str(frames), result.summary()


def video_tab(recognizer: EmotionRecognizer, example: str | None = None) -> None:
    """The Video tab, built inside the caller's gr.Blocks / gr.Tabs; registers the public /analyze_video endpoint.

    A clip is analysed as soon as it is uploaded (or its example clicked); the button, shown once a clip is in,
    runs it again, e.g. with another stride. Outputs that have nothing to show yet stay hidden (no empty boxes that
    look like drop zones)."""

    def analyze_video(video: str | None, stride: float = 1, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        """Annotated video (H.264 mp4, with the clip's sound), timeline plot (PNG), per-frame CSV and JSON files,
        and a JSON summary (clip, settings, speed, each tracked face's mean probabilities) of a clip, processing
        every `stride`-th frame.
        """
        return analyze_clip(recognizer, video, stride, progress)

    def analyze_upload(video: str | None, stride: float = 1, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        """On upload: as analyze_video, and the results shown; a clip that cannot be used is taken out of the box
        and explained."""
        try:
            return gr.skip(), *analyze_video(video, stride, progress), gr.Column(visible=True), gr.Button(visible=True)
        except gr.Error as err:
            gr.Warning(err.message)
            return None, None, *[gr.skip()] * 5, gr.Button(visible=False)

    with gr.Tab("Video"):
        gr.Markdown(
            f"Upload a clip (mp4, webm or mov; up to {MAX_VIDEO_BYTES // 2**20} MB and {MAX_DURATION_S / 60:.0f} min), "
            "or click the example: it is analysed as soon as it is uploaded. Every face is tracked with a stable id; "
            "its probabilities are smoothed as in the webcam tab. The annotated clip keeps the sound."
        )
        with gr.Row():
            with gr.Column():
                clip = gr.Video(label="Clip", sources=["upload"], elem_id="video-clip")
                stride = gr.Slider(1, UI_MAX_STRIDE, value=1, step=1, label="Frame stride (analyse every N-th frame)")
                run = gr.Button("Analyse again (e.g. with another stride)", visible=False, elem_id="video-run")
            annotated = gr.Video(label="Annotated", interactive=False, elem_id="video-annotated")
        with gr.Column(visible=False) as results:  # hidden until there are results: no empty boxes
            timeline = gr.Image(  # no label badge: it would cover the plot's legend; the plot has its own titles
                label="Emotions over time, per face",
                show_label=False,
                type="filepath",
                interactive=False,
                elem_id="timeline",
            )
            with gr.Row():
                table = gr.File(label="Per-frame CSV", elem_id="video-csv")
                frames = gr.File(label="Per-frame JSON", elem_id="video-json")
                summary = gr.JSON(label="Summary", elem_id="video-summary")
        outputs = [annotated, timeline, table, frames, summary]
        events = {"concurrency_limit": VIDEO_CONCURRENCY, "concurrency_id": "video", "show_progress_on": annotated}
        upload_outputs = [clip, *outputs, results, run]
        clip.upload(analyze_upload, [clip, stride], upload_outputs, api_visibility="private", **events)
        clip.clear(lambda: gr.Button(visible=False), None, run, api_visibility="private")
        run.click(analyze_video, [clip, stride], outputs, api_name="analyze_video", **events).success(
            lambda: gr.Column(visible=True), None, results, api_visibility="private"
        )
        if example is not None:
            gr.Examples(
                [[example]],
                inputs=clip,
                outputs=upload_outputs,
                fn=analyze_upload,
                run_on_click=True,
                cache_examples=False,
                api_visibility="private",
                label="Example",
                elem_id="video-examples",
            )
