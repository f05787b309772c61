"""Video clips: a clip the test writes (the astronaut moving and growing), tracked, annotated, exported, refused."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from live_server import CHROMIUM, CHROMIUM_FLAGS, chromium  # noqa: F401
from PIL import Image

from fer.cli.common import EXIT_INPUT_FAILED
from fer.cli.main import main
from fer.faces import FacePrediction
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.schema import predictions_payload
from fer.video import io as video
from fer.video.analysis import VideoResult, analyze_video
from fer.video.io import VideoError
from fer.video.outputs import CSV_FIELDS, export

CLIP_FRAMES = 20
CLIP_SIZE = (480, 360)
CLIP_FPS = 10
STRIDE = 3


def write_clip(
    path: Path, photo: np.ndarray, frames: int = CLIP_FRAMES, faststart: bool = False, rotation: int = 0
) -> Path:
    """The photo sliding right and down while it grows from 300 to 360 px, as an H.264 mp4."""
    image = Image.fromarray(photo)
    with av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for index in range(frames):
            side = 300 + 60 * index // (frames - 1)
            canvas = Image.new("RGB", CLIP_SIZE, (90, 90, 90))
            canvas.paste(image.resize((side, side)), (-40 + 6 * index, -20 + 2 * index))
            container.mux(stream.encode(av.VideoFrame.from_image(canvas)))
        container.mux(stream.encode(None))
    return path


def decode(path: Path) -> tuple[av.video.stream.VideoStream, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream, [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two threads spin against each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "astronaut.mp4", astronaut)


@pytest.fixture(scope="module")
def recognizer(random_model_id: str) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(random_model_id)


@pytest.fixture(scope="module")
def exported(clip: Path, recognizer: EmotionRecognizer, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """All four outputs of one run at stride 1."""
    folder = tmp_path_factory.mktemp("out")
    paths = {name: folder / f"out.{name}" for name in ("mp4", "csv", "json", "png")}
    result = export(clip, recognizer, paths["mp4"], paths["csv"], paths["json"], paths["png"], stride=1)
    return result, paths


def test_face_keeps_one_id_in_every_frame(exported: tuple[VideoResult, dict]) -> None:
    result, _ = exported
    assert result.frames_read == len(result.frames) == CLIP_FRAMES
    assert [row.frame for row in result.rows] == list(range(CLIP_FRAMES))
    assert {row.face_id for row in result.rows} == {1}
    # the box follows the face as it moves right and grows
    first, last = result.rows[0].box, result.rows[-1].box
    assert last[0] > first[0] + 60 and (last[2] - last[0]) > (first[2] - first[0])


def test_csv_has_a_row_per_face_per_processed_frame(exported: tuple[VideoResult, dict]) -> None:
    _, paths = exported
    with open(paths["csv"], newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_FIELDS
    assert [int(row["frame"]) for row in rows] == list(range(CLIP_FRAMES))
    assert [float(row["time_s"]) for row in rows] == pytest.approx([i / CLIP_FPS for i in range(CLIP_FRAMES)])
    for row in rows:
        probabilities = [float(row[name]) for name in EMOTIONS]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)
        assert row["emotion"] == EMOTIONS[int(np.argmax(probabilities))]
        assert float(row["x2"]) > float(row["x1"]) and float(row["score"]) > 0.9


def test_annotated_video_plays_back(exported: tuple[VideoResult, dict], clip: Path) -> None:
    _, paths = exported
    stream, frames = decode(paths["mp4"])
    assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert len(frames) == CLIP_FRAMES and frames[0].shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    _, originals = decode(clip)
    assert np.abs(frames[5].astype(int) - originals[5]).max() > 100  # the box and label are drawn


def test_annotated_video_keeps_the_sound(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    from fer.ui.examples import CLIP_SECONDS, write_clip

    source = write_clip(tmp_path / "with_sound.mp4")  # H.264 + an AAC tone
    result = analyze_video(source, recognizer, tmp_path / "out.mp4", stride=2)
    assert result.info.audio == "aac" and result.summary()["video"]["audio"] == "aac"
    with av.open(str(tmp_path / "out.mp4")) as container:
        (audio,) = container.streams.audio
        samples = sum(frame.samples for frame in container.decode(audio))
        assert audio.codec_context.name == "aac"
        assert samples / audio.rate == pytest.approx(CLIP_SECONDS, abs=0.1)


def test_sound_survives_the_source_being_deleted_during_the_analysis(tmp_path: Path) -> None:
    """Gradio may delete an upload while a long clip is analysed: the sound is read from the file held open."""
    from fer.ui.examples import CLIP_SECONDS, write_clip
    from fer.video.io import VideoWriter

    source = write_clip(tmp_path / "with_sound.mp4")
    writer = VideoWriter(tmp_path / "out.mp4", Fraction(10), audio_from=source)
    writer.write(np.zeros((64, 64, 3), np.uint8))
    source.unlink()
    for _ in range(9):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.close()
    with av.open(str(tmp_path / "out.mp4")) as container:
        (audio,) = container.streams.audio
        assert sum(frame.samples for frame in container.decode(audio)) / audio.rate == pytest.approx(
            CLIP_SECONDS, abs=0.1
        )


def test_silent_clip_gives_a_silent_video(exported: tuple[VideoResult, dict]) -> None:
    result, paths = exported
    assert result.info.audio is None
    with av.open(str(paths["mp4"])) as container:
        assert not container.streams.audio


def test_json_and_timeline(exported: tuple[VideoResult, dict]) -> None:
    _, paths = exported
    data = json.loads(paths["json"].read_text())
    assert data["frames_read"] == data["frames_processed"] == len(data["frames"]) == CLIP_FRAMES
    assert [face["id"] for face in data["faces"]] == [1] and data["faces"][0]["frames"] == CLIP_FRAMES
    assert data["video"]["width"] == CLIP_SIZE[0] and data["video"]["fps"] == CLIP_FPS
    assert set(data["frames"][0]["faces"][0]) == {"id", "box", "score", "emotion", "probabilities"}
    with Image.open(paths["png"]) as plot:
        assert plot.format == "PNG" and plot.width > 500


def test_a_video_face_is_the_analyze_face_plus_its_id(exported: tuple[VideoResult, dict]) -> None:
    """One JSON shape for a face: /analyze, `fer predict --json` and each face of a video frame (with its id)."""
    result, paths = exported
    frames = json.loads(paths["json"].read_text())["frames"]
    row = result.rows[-1]
    (face,) = [f for frame in frames if frame["frame"] == row.frame for f in frame["faces"] if f["id"] == row.face_id]
    prediction = FacePrediction(row.box, row.score, emotion=row.emotion, probabilities=row.probabilities)
    assert {"id": row.face_id, **predictions_payload([prediction], (1, 1), "m")["faces"][0]} == face


def test_stride_processes_every_nth_frame(clip: Path, recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    out = tmp_path / "strided.mp4"
    result = analyze_video(clip, recognizer, out, stride=STRIDE)
    expected = list(range(0, CLIP_FRAMES, STRIDE))
    assert result.frames_read == CLIP_FRAMES
    assert [index for index, _ in result.frames] == expected == [row.frame for row in result.rows]
    stream, frames = decode(out)
    assert len(frames) == len(expected)
    assert stream.average_rate == Fraction(CLIP_FPS, STRIDE)  # same duration as the clip


def test_odd_sized_clip_is_cropped_to_even(astronaut: np.ndarray, recognizer: EmotionRecognizer, tmp_path) -> None:
    odd = tmp_path / "odd.webm"
    with av.open(str(odd), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = 321, 241, "yuv420p"
        for _ in range(3):
            frame = np.asarray(Image.fromarray(astronaut).resize((321, 241)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    result = analyze_video(odd, recognizer, tmp_path / "even.mp4")
    _, frames = decode(tmp_path / "even.mp4")
    assert result.info.container == "matroska,webm" and len(frames) == 3 and frames[0].shape == (240, 320, 3)


def test_rotated_clip_is_read_upright(astronaut: np.ndarray, tmp_path: Path) -> None:
    """A phone clip's display rotation is applied, as players do (here 90 degrees counterclockwise)."""
    path = write_clip(tmp_path / "rotated.mp4", astronaut, frames=2, rotation=90)
    _, stored = decode(path)
    _, _, upright = next(video.read_frames(path, video.probe(path)))
    assert upright.shape == (CLIP_SIZE[0], CLIP_SIZE[1], 3)
    np.testing.assert_array_equal(upright, np.rot90(stored[0]))


def bad_input(kind: str, folder: Path, clip: Path, photo: np.ndarray) -> Path:
    if kind == "text":
        path = folder / "notes.mp4"
        path.write_text("this is not a video\n" * 50)
    elif kind == "empty":
        path = folder / "empty.mp4"
        path.write_bytes(b"")
    elif kind == "truncated":  # the index (moov) is at the end: lost
        path = folder / "truncated.mp4"
        path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    elif kind == "cut":  # the index is up front: frames stop half-way
        whole = write_clip(folder / "whole.mp4", photo, faststart=True)
        path = folder / "cut.mp4"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        whole.unlink()
    else:
        path = folder / "photo.mp4"  # a JPEG under a video name
        Image.new("RGB", (64, 64)).save(path, format="JPEG")
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "could not be opened as a video"),
        ("empty", "is empty (0 bytes)"),
        ("truncated", "could not be opened as a video"),
        ("cut", "damaged"),
        ("image", "use an mp4, webm or mov video"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(
    kind: str, message: str, clip: Path, astronaut: np.ndarray, recognizer: EmotionRecognizer, tmp_path: Path
) -> None:
    path = bad_input(kind, tmp_path, clip, astronaut)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(VideoError, match=re.escape(message)) as caught:
        export(path, recognizer, out / "a.mp4", out / "a.csv", out / "a.json", out / "a.png")
    assert "\n" not in str(caught.value) and f"'{path}'" in str(caught.value)  # the path as it was given
    assert list(out.iterdir()) == []


def test_messages_name_the_clip_as_given_or_by_its_upload_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 50)
    with pytest.raises(VideoError, match=re.escape(f"'{path}' could not be opened as a video")):
        video.probe(path)
    with pytest.raises(VideoError, match=r"^'upload\.mp4' could not be opened as a video"):
        video.probe(path, name="upload.mp4")  # the Video tab's upload: its file name, not the server's path


def test_limits(clip: Path, recognizer: EmotionRecognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_DURATION_S", 1.0)
    with pytest.raises(VideoError, match="lasts 2 s; the limit is 1 s"):
        export(clip, recognizer, tmp_path / "a.mp4", tmp_path / "a.csv")
    monkeypatch.setattr(video, "MAX_VIDEO_BYTES", 1024)
    with pytest.raises(VideoError, match="MB; the limit is 0 MB"):
        video.probe(clip)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_duration_limit_while_decoding_removes_partial_output(
    clip: Path, recognizer: EmotionRecognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container that understates its duration is stopped at the limit while decoding; nothing is left."""
    monkeypatch.setattr(video, "check_limits", lambda info: None)
    monkeypatch.setattr(video, "MAX_DURATION_S", 0.5)
    with pytest.raises(VideoError, match=re.escape("lasts over 0.5 s, the limit")):
        export(clip, recognizer, tmp_path / "a.mp4", tmp_path / "a.csv", tmp_path / "a.json")
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_outputs(clip: Path, random_model_id: str, tmp_path: Path, capsys) -> None:
    out, table = tmp_path / "v" / "out.mp4", tmp_path / "v" / "out.csv"
    args = ["video", str(clip), "--out", str(out), "--csv", str(table), "--stride", "2", "--model", random_model_id]
    assert main(args) == 0
    assert out.is_file() and len(table.read_text().splitlines()) == 1 + CLIP_FRAMES // 2
    assert "face #1" in capsys.readouterr().out


def test_cli_error_is_one_line(tmp_path: Path, random_model_id: str, capsys) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    code = main(["video", str(text), "--out", str(tmp_path / "o.mp4"), "--model", random_model_id])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_INPUT_FAILED and len(err.splitlines()) == 1 and f"'{text}'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


BROWSER_TIMEOUT_MS = 600_000  # the analysis of the clip, on a busy 2-core machine
# In the page: wait for the annotated video's metadata, play it muted for a moment, report its state
PLAYBACK = """async () => {
  const v = document.querySelector('#video-annotated video');
  if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
  v.muted = true; await v.play(); await new Promise(r => setTimeout(r, 500));
  return {readyState: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight,
          time: v.currentTime, error: v.error && v.error.code};
}"""


@pytest.fixture(scope="module")
def served(recognizer: EmotionRecognizer) -> Iterator[str]:
    """A Blocks app with only the Video tab, served in this process; its URL."""
    import gradio as gr

    from fer.ui.video_tab import video_tab

    with gr.Blocks() as demo, gr.Tabs():
        video_tab(recognizer)
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.mark.slow
def test_analyze_video_endpoint(clip: Path, served: str) -> None:
    from gradio_client import Client, handle_file

    client = Client(served, verbose=False)
    annotated, timeline, table, frames, summary = client.predict(
        handle_file(str(clip)), STRIDE, api_name="/analyze_video"
    )
    annotated = annotated["video"] if isinstance(annotated, dict) else annotated
    _, decoded = decode(Path(annotated))
    assert len(decoded) == len(range(0, CLIP_FRAMES, STRIDE))
    assert summary["frames_processed"] == len(decoded) and summary["faces"][0]["id"] == 1
    assert Path(table).read_text().startswith(",".join(CSV_FIELDS))
    assert json.loads(Path(frames).read_text())["stride"] == STRIDE and Path(timeline).suffix == ".png"
    text = Path(table).with_name("notes.mp4")
    text.write_text("not a video\n")
    with pytest.raises(Exception, match="could not be opened as a video"):
        client.predict(handle_file(str(text)), 1, api_name="/analyze_video")


@pytest.mark.slow
def test_annotated_video_plays_in_chromium(chromium, clip: Path, served: str) -> None:  # noqa: F811
    browser = chromium.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    try:
        page = browser.new_page()
        page.goto(served, wait_until="load")
        assert not page.locator("#video-csv").is_visible()  # no empty file box that looks like a drop zone
        page.locator("#video-clip input[type=file]").set_input_files(str(clip))  # analysed on upload, no click
        page.locator("#video-annotated video").wait_for(timeout=BROWSER_TIMEOUT_MS)
        page.locator("#video-csv").get_by_text(".csv").wait_for()
        state = page.evaluate(PLAYBACK)
    finally:
        browser.close()
    assert state["error"] is None and state["readyState"] >= 2, state
    assert (state["width"], state["height"]) == CLIP_SIZE and state["duration"] == pytest.approx(2.0, abs=0.1)
    assert state["time"] > 0  # it plays
