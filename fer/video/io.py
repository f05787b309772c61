"""Clips in and out (PyAV): probe and limits, decoded RGB frames, an H.264 mp4 writer that keeps the sound."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from fer.images import MIN_SIDE, check_file

MAX_VIDEO_BYTES = 200 * 1024 * 1024  # a clip; an image has its own limit (fer.images.MAX_IMAGE_BYTES)
MAX_DURATION_S = 10 * 60.0
MAX_FRAME_PIXELS = 3840 * 2160
# FFmpeg demuxers accepted (by content, not by file name): mp4 / mov / m4v, webm / mkv, avi
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi"}
ACCEPTED = "an mp4, webm or mov video"
# Output: H.264 in yuv420p with the index up front plays in every browser
CODEC, PIX_FMT = "libx264", "yuv420p"
CODEC_OPTIONS = {"crf": "23", "preset": "veryfast"}
AUDIO_CODEC = "aac"  # the input's sound track, re-encoded: mp4 and every browser play AAC
MUXER_OPTIONS = {"movflags": "+faststart"}


class VideoError(ValueError):
    """A clip that cannot be analysed; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the clip (checked against the limits before any frame is decoded)."""

    name: str  # the clip as its user named it: the path given, or an upload's file name
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


def probe(path: str | os.PathLike, name: str | None = None) -> VideoInfo:
    """Open a clip and check it against the limits, without decoding it; raise VideoError saying why not.

    Messages and the result name the clip `name`, else the path as it was given."""
    name = os.fspath(path) if name is None else name
    path = Path(path)
    check_file(path, f"'{name}'", MAX_VIDEO_BYTES, VideoError, empty_hint=f"; use {ACCEPTED}")
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
    (its first sound track, re-encoded to AAC from the start) when it has one. The source is held open from the
    start, so its sound survives the file being deleted meanwhile (Gradio's cache clean-up, on a long analysis)."""

    def __init__(self, path: str | os.PathLike, rate: Fraction, audio_from: str | os.PathLike | None = None):
        self.rate = rate
        self.sound_source = None if audio_from is None else open(audio_from, "rb")  # closed by close() or abort()
        self.container = av.open(str(path), "w", format="mp4", options=MUXER_OPTIONS)
        self.stream = None
        self.audio = None
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

    def _open_source(self) -> av.container.InputContainer:
        self.sound_source.seek(0)
        return av.open(self.sound_source)

    def _add_audio(self) -> av.audio.stream.AudioStream | None:
        if self.sound_source is None:
            return None
        with self._open_source() as source:
            if not source.streams.audio:
                return None
            sound = source.streams.audio[0].codec_context
            return self.container.add_stream(AUDIO_CODEC, rate=sound.sample_rate, layout=sound.layout.name)

    def _copy_audio(self) -> None:
        """Decode the source's sound and encode it into the output; a damaged track ends the sound early."""
        with self._open_source() as source:
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
        self.abort()

    def abort(self) -> None:
        """Close the output and the source (close() finishes the video first; alone, it leaves it unfinished)."""
        self.container.close()
        if self.sound_source is not None:
            self.sound_source.close()
