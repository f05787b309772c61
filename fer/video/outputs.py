"""What a clip's analysis is written as: the CSV, the JSON, the timeline plot, all together or none; a summary."""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fer.draw import COLORS
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.tracking import SMOOTHING_WINDOW
from fer.video.analysis import VIDEO_DETECT_EVERY, Progress, VideoResult, analyze_video

MAX_PLOT_FACES = 6  # the faces seen in most frames get a panel each
CSV_FIELDS = ("time_s", "frame", "face_id", "x1", "y1", "x2", "y2", "score", *EMOTIONS, "emotion")


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
    name: str | None = None,
) -> VideoResult:
    """analyze_video, then the CSV / JSON / plot; all outputs appear together, or none (on any error)."""
    with staged(out_video, csv_path, json_path, plot_path) as (video_tmp, csv_tmp, json_tmp, plot_tmp):
        result = analyze_video(path, recognizer, video_tmp, stride, detect_every, progress=progress, name=name)
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
