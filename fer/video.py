"""Emotions through a video clip: read it (PyAV), track every face, write an annotated H.264 mp4 with the clip's
sound, a per-frame CSV / JSON and a timeline plot; `python -m fer video IN --out OUT.mp4 --csv OUT.csv`."""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from fer.detect import DetectorOptions, FaceDetector
from fer.draw import COLORS
from fer.faces import DIGITS, face_json
from fer.identity import identify
from fer.images import MIN_SIDE, check_file
from fer.labels import EMOTIONS
from fer.model import ModelError, default_model_id
from fer.recognizer import EmotionRecognizer
from fer.stream import StreamProcessor
from fer.tracking import SMOOTHING_WINDOW

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_DURATION_S = 10 * 60.0
MAX_FRAME_PIXELS = 3840 * 2160
MAX_STRIDE = 30
TRUNCATED_TOLERANCE = 0.02  # a clip decoding to fewer of the frames its container states is refused as truncated
# FFmpeg demuxers accepted (by content, not by file name): mp4 / mov / m4v, webm / mkv, avi
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi"}
ACCEPTED = "an mp4, webm or mov video"
# Clip faces are often smaller than webcam faces: from 32 px, found on a copy up to 1280 px (1080p and 4K frames).
# Detecting on one processed frame in 3 (the frames between re-classify the last boxes) keeps 640x360 near real time.
VIDEO_OPTIONS = DetectorOptions(min_face_size=32, max_side=1280, pad_retry=0.0)  # frames: one look each
VIDEO_DETECT_EVERY = 3
# Output: H.264 in yuv420p with the index up front plays in every browser
CODEC, PIX_FMT = "libx264", "yuv420p"
CODEC_OPTIONS = {"crf": "23", "preset": "veryfast"}
AUDIO_CODEC = "aac"  # the input's sound track, re-encoded: mp4 and every browser play AAC
MUXER_OPTIONS = {"movflags": "+faststart"}
MAX_PLOT_FACES = 6  # the faces seen in most frames get a panel each
CSV_FIELDS = ("time_s", "frame", "face_id", "x1", "y1", "x2", "y2", "score", *EMOTIONS, "emotion")

Progress = Callable[[int, int | None], None]  # (frames read, total frames if known)


class VideoError(ValueError):
    """A clip that cannot be analysed; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the clip (checked against the limits before any frame is decoded)."""

    name: str
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frames: int | None  # as the container states it (mp4, mov); None when it does not say (webm)
    audio: str | None = None  # the codec of the first sound track, if any

    @property
    def expected_frames(self) -> int | None:
        """The stated frame count, else duration x fps, else None (for progress bars)."""
        if self.frames or not (self.duration_s and self.fps):
            return self.frames
        return round(self.duration_s * self.fps)

    def to_dict(self) -> dict:
        duration = None if self.duration_s is None else round(self.duration_s, 3)
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "duration_s": duration,
            "frames": self.frames,
            "codec": self.codec,
            "audio": self.audio,
        }


@dataclass
class FaceRow:
    """One tracked face in one processed frame; probabilities are smoothed over the track (as in the webcam tab)."""

    time_s: float
    frame: int
    face_id: int
    box: tuple[float, float, float, float]
    score: float
    probabilities: dict[str, float]
    emotion: str

    def csv_row(self) -> dict:
        x1, y1, x2, y2 = (round(v, 1) for v in self.box)
        probabilities = {name: round(self.probabilities[name], DIGITS) for name in EMOTIONS}
        return {
            "time_s": round(self.time_s, 3),
            "frame": self.frame,
            "face_id": self.face_id,
            "x1": x1,
            "y1": y1,
            "x2": x2,
            "y2": y2,
            "score": round(self.score, DIGITS),
            **probabilities,
            "emotion": self.emotion,
        }


@dataclass
class VideoResult:
    """Everything measured on a clip: one FaceRow per face per processed frame, and how long it took."""

    info: VideoInfo
    model_id: str
    stride: int
    detect_every: int
    frames_read: int = 0
    frames: list[tuple[int, float]] = field(default_factory=list)  # (frame index, time s) of processed frames
    rows: list[FaceRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Clip frames consumed per second of processing (compare with the clip's own fps for real time)."""
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0

    def faces(self) -> list[dict]:
        """Per tracked face: when it is seen, in how many processed frames, its mean probabilities."""
        summary = []
        for face_id in sorted({row.face_id for row in self.rows}):
            rows = [row for row in self.rows if row.face_id == face_id]
            mean = np.mean([[row.probabilities[name] for name in EMOTIONS] for row in rows], axis=0)
            summary.append(
                {
                    "id": face_id,
                    "first_s": round(rows[0].time_s, 3),
                    "last_s": round(rows[-1].time_s, 3),
                    "frames": len(rows),
                    "emotion": EMOTIONS[int(mean.argmax())],
                    "mean_probabilities": {n: round(float(p), DIGITS) for n, p in zip(EMOTIONS, mean, strict=True)},
                }
            )
        return summary

    def summary(self) -> dict:
        """The JSON summary (what /analyze_video returns): clip, settings, speed and one entry per face."""
        return {
            "video": self.info.to_dict(),
            "model": self.model_id,
            "stride": self.stride,
            "detect_every": self.detect_every,
            "smoothing_window": SMOOTHING_WINDOW,
            "frames_read": self.frames_read,
            "frames_processed": len(self.frames),
            "processing_s": round(self.seconds, 2),
            "processing_fps": round(self.fps, 2),
            "faces": self.faces(),
        }

    def to_json(self) -> dict:
        """The summary plus every processed frame with its faces: {id, **the one face JSON} (fer/faces.py)."""
        by_frame: dict[int, list[dict]] = {}
        for row in self.rows:
            face = face_json(row.box, row.score, row.emotion, {n: row.probabilities[n] for n in EMOTIONS})
            by_frame.setdefault(row.frame, []).append({"id": row.face_id, **face})
        frames = [{"frame": index, "time_s": round(t, 3), "faces": by_frame.get(index, [])} for index, t in self.frames]
        return {**self.summary(), "frames": frames}


def _fail_open(name: str, err: Exception) -> VideoError:
    reason = getattr(err, "strerror", None) or str(err)
    return VideoError(f"'{name}' could not be opened as a video ({reason}); use {ACCEPTED}.")


def _info(container: av.container.InputContainer, name: str) -> VideoInfo:
    if container.format.name not in CONTAINERS:
        raise VideoError(f"'{name}' is a {container.format.long_name or container.format.name} file; use {ACCEPTED}.")
    if not container.streams.video:
        raise VideoError(f"'{name}' has no video stream; use {ACCEPTED}.")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    codec = stream.codec_context.name
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return VideoInfo(
        name, container.format.name, codec, stream.width, stream.height, fps, duration, stream.frames or None, audio
    )


def check_limits(info: VideoInfo) -> None:
    """Refuse clips too long, too large per frame, too small or with no picture."""
    if info.duration_s is not None and info.duration_s > MAX_DURATION_S:
        raise VideoError(
            f"'{info.name}' lasts {info.duration_s:.0f} s; the limit is {MAX_DURATION_S:g} s. Cut it into parts."
        )
    if info.width * info.height > MAX_FRAME_PIXELS:
        raise VideoError(f"'{info.name}' is {info.width}x{info.height}; the limit is 3840x2160 (4K). Scale it down.")
    if min(info.width, info.height) < MIN_SIDE:
        raise VideoError(f"'{info.name}' is {info.width}x{info.height}; at least {MIN_SIDE} px per side is needed.")


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open a clip and check it against the limits, without decoding it; raise VideoError saying why not."""
    path = Path(path)
    name = path.name
    check_file(path, f"'{name}'", MAX_FILE_BYTES, VideoError, empty_hint=f"; use {ACCEPTED}")
    try:
        with av.open(str(path)) as container:
            info = _info(container, name)
    except av.FFmpegError as err:
        raise _fail_open(name, err) from err
    check_limits(info)
    return info


def read_frames(
    path: str | os.PathLike, info: VideoInfo, stride: int = 1
) -> Iterator[tuple[int, float, np.ndarray | None]]:
    """(frame index, time s from the first frame, RGB array) of every frame; the array, upright and even-sized,
    only for every `stride`-th frame (None for the others, which are decoded but not converted).

    Counts every decoded frame against the duration limit (a container may not state its duration)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = None
            for index, frame in enumerate(container.decode(stream)):
                if frame.pts is not None and frame.time is not None:
                    start = frame.time if start is None else start
                    seconds = frame.time - start
                else:
                    seconds = index / info.fps if info.fps else 0.0
                if seconds > MAX_DURATION_S:
                    raise VideoError(f"'{info.name}' lasts over {MAX_DURATION_S:g} s, the limit. Cut it into parts.")
                if index % stride:
                    yield index, seconds, None
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                if frame.rotation:
                    rgb = np.rot90(rgb, k=round(frame.rotation / 90) % 4)
                height, width = rgb.shape[:2]
                yield index, seconds, np.ascontiguousarray(rgb[: height - height % 2, : width - width % 2])
    except av.FFmpegError as err:
        raise VideoError(f"'{info.name}' is damaged and could not be decoded ({err.strerror or err}).") from err


class VideoWriter:
    """Annotated frames to an H.264 (yuv420p, faststart) mp4 at a constant rate, with the sound of `audio_from`
    (its first sound track, re-encoded to AAC from the start) when it has one."""

    def __init__(self, path: str | os.PathLike, rate: Fraction, audio_from: str | os.PathLike | None = None):
        self.rate = rate
        self.container = av.open(str(path), "w", format="mp4", options=MUXER_OPTIONS)
        self.stream = None
        self.audio_from, self.audio = audio_from, None
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        if self.stream is None:
            self.stream = self.container.add_stream(CODEC, rate=self.rate, options=CODEC_OPTIONS)
            self.stream.height, self.stream.width = rgb.shape[:2]
            self.stream.pix_fmt = PIX_FMT
            self.audio = self._add_audio()  # every stream is added before the first packet is written
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.count
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def _add_audio(self) -> av.audio.stream.AudioStream | None:
        if self.audio_from is None:
            return None
        with av.open(str(self.audio_from)) as source:
            if not source.streams.audio:
                return None
            sound = source.streams.audio[0].codec_context
            return self.container.add_stream(AUDIO_CODEC, rate=sound.sample_rate, layout=sound.layout.name)

    def _copy_audio(self) -> None:
        """Decode the source's sound and encode it into the output; a damaged track ends the sound early."""
        with av.open(str(self.audio_from)) as source:
            try:
                for frame in source.decode(audio=0):
                    frame.pts = None  # the encoder counts samples from 0, as the video counts frames
                    self.container.mux(self.audio.encode(frame))
            except av.FFmpegError:
                pass
        self.container.mux(self.audio.encode(None))

    def close(self) -> None:
        if self.stream is not None:
            self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self._copy_audio()
        self.container.close()


@lru_cache(maxsize=2)
def video_detector(options: DetectorOptions = VIDEO_OPTIONS) -> FaceDetector:
    """One detector per settings, shared (its state is only its settings)."""
    return FaceDetector(options)


def analyze_video(
    path: str | os.PathLike,
    recognizer: EmotionRecognizer,
    out_video: str | os.PathLike | None = None,
    stride: int = 1,
    detect_every: int = VIDEO_DETECT_EVERY,
    detector: FaceDetector | None = None,
    progress: Progress | None = None,
) -> VideoResult:
    """Track and classify every face of every `stride`-th frame; write the annotated frames to `out_video` (mp4).

    The output holds the processed frames only, at fps / stride, so it lasts as long as the clip. Raises
    VideoError for a clip that cannot be used; `out_video` is then removed (use `staged` for all-or-nothing)."""
    if not 1 <= stride <= MAX_STRIDE:
        raise VideoError(f"The frame stride must be between 1 and {MAX_STRIDE}, got {stride}.")
    info = probe(path)
    processor = StreamProcessor(
        recognizer, detector or video_detector(), detect_every, stale_s=None, annotate=out_video is not None
    )
    result = VideoResult(info, identify(recognizer.model_id).id, stride, detect_every)
    rate = Fraction(info.fps or 25).limit_denominator(1001) / stride
    writer = VideoWriter(out_video, rate, audio_from=path) if out_video is not None else None
    start = time.perf_counter()
    try:
        for index, seconds, rgb in read_frames(path, info, stride):
            result.frames_read = index + 1
            if rgb is not None:
                frame = processor.process(rgb)
                result.frames.append((index, seconds))
                result.rows += [
                    FaceRow(
                        seconds,
                        index,
                        face.id,
                        face.prediction.box,
                        face.prediction.score,
                        face.prediction.probabilities,
                        face.prediction.emotion,
                    )
                    for face in frame.faces
                ]
                if writer is not None:
                    writer.write(frame.image)
            if progress is not None:
                progress(result.frames_read, info.expected_frames)
        if not result.frames:
            raise VideoError(f"'{info.name}' has no decodable video frame (zero-length or corrupt clip).")
        if info.frames and result.frames_read < info.frames * (1 - TRUNCATED_TOLERANCE) - 1:
            raise VideoError(
                f"'{info.name}' is truncated or damaged: {result.frames_read} of its {info.frames} frames could be "
                "decoded. Re-export or re-download it."
            )
    except BaseException:
        if writer is not None:
            writer.container.close()
            Path(out_video).unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    result.seconds = time.perf_counter() - start
    return result


def write_csv(result: VideoResult, path: str | os.PathLike) -> None:
    """One row per face per processed frame: time_s, frame, face_id, box, score, 7 probabilities, emotion."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(row.csv_row() for row in result.rows)


def write_json(result: VideoResult, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")


def plot_timeline(result: VideoResult, path: str | os.PathLike) -> None:
    """A PNG with one panel per tracked face (the MAX_PLOT_FACES seen most): its 7 probabilities over time."""
    from matplotlib.figure import Figure

    everyone = result.faces()
    faces = sorted(everyone, key=lambda face: -face["frames"])[:MAX_PLOT_FACES]
    figure = Figure(figsize=(10, 1.0 + 2.0 * max(1, len(faces))), layout="constrained")
    axes = figure.subplots(max(1, len(faces)), 1, sharex=True, squeeze=False)[:, 0]
    end = result.frames[-1][1] if result.frames else 0.0
    for ax, face in zip(axes, faces, strict=False):
        rows = [row for row in result.rows if row.face_id == face["id"]]
        times = [row.time_s for row in rows]
        for name in EMOTIONS:
            color = tuple(c / 255 for c in COLORS[name])
            ax.plot(times, [row.probabilities[name] for row in rows], ".-", ms=2, lw=1.2, color=color, label=name)
        ax.set(ylim=(0, 1), xlim=(0, max(end, 1e-3)), ylabel="probability")
        ax.set_title(f"face #{face['id']}: mostly {face['emotion']} ({face['frames']} frames)", loc="left")
        ax.grid(alpha=0.3)
    if faces:
        axes[0].legend(ncol=len(EMOTIONS), loc="lower left", bbox_to_anchor=(0, 1.15), frameon=False, fontsize=8)
    else:
        axes[0].text(0.5, 0.5, "No face found in this clip", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel(f"time (s), smoothed over {SMOOTHING_WINDOW} processed frames per face")
    if len(everyone) > len(faces):
        figure.suptitle(f"The {len(faces)} faces seen longest, of {len(everyone)} (all are in the CSV)")
    figure.savefig(path, format="png", dpi=100)


@contextmanager
def staged(*targets: str | os.PathLike | None) -> Iterator[list[Path | None]]:
    """Hidden temp paths next to each target (None stays None), renamed onto the targets only if the block
    succeeds; on any error they are deleted, so no half-written output is ever left behind."""
    tag = uuid.uuid4().hex[:8]
    temps = [
        None if t is None else Path(t).with_name(f".{Path(t).stem}.{tag}.partial{Path(t).suffix}") for t in targets
    ]
    try:
        yield temps
        for temp, target in zip(temps, targets, strict=True):
            if temp is not None:
                os.replace(temp, target)
    finally:
        for temp in temps:
            if temp is not None:
                temp.unlink(missing_ok=True)


def export(
    path: str | os.PathLike,
    recognizer: EmotionRecognizer,
    out_video: str | os.PathLike | None = None,
    csv_path: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    plot_path: str | os.PathLike | None = None,
    stride: int = 1,
    detect_every: int = VIDEO_DETECT_EVERY,
    progress: Progress | None = None,
) -> VideoResult:
    """analyze_video, then the CSV / JSON / plot; all outputs appear together, or none (on any error)."""
    with staged(out_video, csv_path, json_path, plot_path) as (video_tmp, csv_tmp, json_tmp, plot_tmp):
        result = analyze_video(path, recognizer, video_tmp, stride, detect_every, progress=progress)
        if csv_tmp is not None:
            write_csv(result, csv_tmp)
        if json_tmp is not None:
            write_json(result, json_tmp)
        if plot_tmp is not None:
            plot_timeline(result, plot_tmp)
    return result


def describe(result: VideoResult) -> str:
    """Lines for the terminal: the clip, the speed, one line per face."""
    info = result.info
    lines = [
        f"{info.name} ({info.width}x{info.height}, {info.fps:.2f} fps): {result.frames_read} frames read, "
        f"{len(result.frames)} processed in {result.seconds:.1f} s ({result.fps:.1f} frames/s)"
    ]
    faces = result.faces()
    lines += [
        f"  face #{f['id']}: {f['first_s']:.1f}-{f['last_s']:.1f} s, {f['frames']} frames, mostly {f['emotion']}"
        for f in faces
    ] or ["  no face found"]
    return "\n".join(lines)


def add_video_command(subparsers: argparse._SubParsersAction) -> None:
    """`python -m fer video IN --out OUT.mp4 --csv OUT.csv [--json OUT.json] [--plot OUT.png] [--stride N]`."""
    parser = subparsers.add_parser("video", help="Annotate a video clip; write per-frame emotions (CSV/JSON/plot).")
    parser.add_argument("input", type=Path, metavar="IN", help="an mp4, webm or mov clip")
    parser.add_argument("--out", type=Path, metavar="OUT.mp4", help="annotated video (H.264 mp4)")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="one row per face per processed frame")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="summary and every processed frame")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="timeline of each face's emotions")
    parser.add_argument("--stride", type=int, default=1, metavar="N", help="process every N-th frame (default 1)")
    parser.add_argument(
        "--detect-every",
        type=int,
        default=VIDEO_DETECT_EVERY,
        metavar="K",
        help=f"run the face detector on every K-th processed frame (default {VIDEO_DETECT_EVERY})",
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="ID",
        help=f"timm model id, hf-hub:org/name or local-dir:PATH (default: $FER_MODEL or {default_model_id()})",
    )
    parser.set_defaults(func=run_video_command)


def check_outputs(args: argparse.Namespace) -> None:
    """Output paths: the right suffix, not the input, folders created."""
    for option, suffix in (("out", ".mp4"), ("csv", ".csv"), ("json", ".json"), ("plot", ".png")):
        target = getattr(args, option)
        if target is None:
            continue
        if target.suffix.lower() != suffix:
            raise VideoError(f"--{option} must name a {suffix} file, got '{target}'.")
        if target.resolve() == args.input.resolve():
            raise VideoError(f"--{option} would overwrite the input '{args.input}'.")
        target.parent.mkdir(parents=True, exist_ok=True)
    if args.detect_every < 1:
        raise VideoError(f"--detect-every must be at least 1, got {args.detect_every}.")


def run_video_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fer.cli.common import EXIT_INPUT_FAILED, EXIT_MODEL_FAILED, EXIT_OK, fail

    try:
        check_outputs(args)
        probe(args.input)  # a bad clip fails before the model loads
        recognizer = EmotionRecognizer.from_pretrained(args.model)
    except VideoError as err:
        fail(err)
        return EXIT_INPUT_FAILED
    except ModelError as err:
        fail(err)
        return EXIT_MODEL_FAILED
    with tqdm(unit="frame", desc=args.input.name, leave=False) as bar:

        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            result = export(
                args.input,
                recognizer,
                args.out,
                args.csv,
                args.json,
                args.plot,
                args.stride,
                args.detect_every,
                progress,
            )
        except VideoError as err:
            bar.close()
            fail(err)
            return EXIT_INPUT_FAILED
    print(describe(result))
    for option in ("out", "csv", "json", "plot"):
        if getattr(args, option) is not None:
            print(f"  {option}: {getattr(args, option)}")
    return EXIT_OK
