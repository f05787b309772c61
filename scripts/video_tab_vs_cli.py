"""The Video tab against the video CLI on one clip, in one process, taking turns: frames/s of each path.

python scripts/video_tab_vs_cli.py [CLIP] [--rounds 2] [--threads N]

Paths, each called `--rounds` times in turn with one shared model:
- cli: `fer video CLIP --out OUT.mp4` (fer.cli.video.run_video_command);
- tab: the Video tab's analysis function (fer.ui.video_tab.analyze_clip), called directly;
- served: /analyze_video of the app served by this process, called through gradio_client (upload and download
  included in its wall time).
Each line gives the clip frames per second of the analysis (what the CLI prints and the summary's processing_fps),
the wall time of the whole call, and the torch threads and thread the analysis ran with.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import fer.video.outputs as outputs
from fer.bench.latency import MEDIA_DIR
from fer.bench.tracking import CLIPS
from fer.cli.bench import load_average
from fer.cli.main import build_parser
from fer.recognizer import EmotionRecognizer
from fer.stream import StreamProcessor
from fer.video.analysis import video_detector
from fer.video.io import probe, read_frames

WARMUP_FRAMES = 3
CLIP = MEDIA_DIR / "video" / CLIPS[0]  # the Hamilton clip


class Recorder:
    """Wraps fer.video.outputs.analyze_video (which both paths call) to keep each result and where it ran."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, int, str]] = []  # (frames/s, torch threads, thread name)
        self._analyze = outputs.analyze_video
        outputs.analyze_video = self

    def __call__(self, *args, **kwargs):
        result = self._analyze(*args, **kwargs)
        self.runs.append((result.fps, torch.get_num_threads(), threading.current_thread().name))
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, nargs="?", default=CLIP)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--model", default=None, help="model id (default: the bundled model)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import gradio as gr
    from gradio_client import Client, handle_file

    import fer.cli.video as cli_video
    from fer.ui.blocks import build_demo
    from fer.ui.video_tab import analyze_clip

    recognizer = EmotionRecognizer.from_pretrained(args.model)
    warm = StreamProcessor(recognizer, video_detector(), stale_s=None)
    for _, _, rgb in islice(read_frames(args.clip, probe(args.clip)), WARMUP_FRAMES):  # first calls, not timed
        warm.process(rgb)
    recorder = Recorder()
    cli_video.EmotionRecognizer.from_pretrained = lambda *_: recognizer  # the CLI's own call, without a reload
    out = Path(tempfile.mkdtemp()) / "cli.mp4"
    cli_args = build_parser().parse_args(["video", str(args.clip), "--out", str(out)])
    demo = build_demo(recognizer)
    demo.launch(prevent_thread_lock=True, quiet=True, show_error=True)
    client = Client(demo.local_url, verbose=False)
    paths: dict[str, Callable[[], object]] = {
        "cli": lambda: cli_video.run_video_command(cli_args),
        "tab": lambda: analyze_clip(recognizer, str(args.clip), 1, gr.Progress()),
        "served": lambda: client.predict(handle_file(args.clip), 1, api_name="/analyze_video"),
    }
    print(f"{args.clip.name}; torch threads {torch.get_num_threads()}; load average {load_average()}")
    figures: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(1, args.rounds + 1):
        for name, call in paths.items():
            start = time.perf_counter()
            call()
            wall = time.perf_counter() - start
            fps, threads, thread = recorder.runs[-1]
            figures[name].append(fps)
            print(
                f"round {round_} {name:6s}: {fps:5.1f} frames/s, {wall:5.1f} s wall, {threads} torch threads ({thread})"
            )
    means = {name: sum(values) / len(values) for name, values in figures.items()}
    print(", ".join(f"{name} {mean:.1f}" for name, mean in means.items()) + " frames/s (mean)")
    print(f"tab / cli {means['tab'] / means['cli']:.2f}, served / cli {means['served'] / means['cli']:.2f}")
    print(f"load average at the end {load_average()}")
    demo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
