"""Where the time of one live frame goes: each stage of the webcam path, in ms per frame, on a real clip.

    python scripts/profile_stream.py [--clip CLIP] [--frames N] [--backend onnx|torch] [--classify-every N]

The clip (default: the Hamilton clip of ../shared/data/face_media, else the astronaut drifting across the frame)
is letterboxed to 640x480 and fed to the app's webcam path (fer.stream.StreamProcessor with the webcam detector
settings); each stage is timed by wrapping the function that does it, less the stages it calls: `detect` and
`follow` are facenet-pytorch's and fer.detect's own Python (image pyramid, candidate crops, NMS), `mtcnn networks`
is P-, R- and O-Net themselves. `encode` is the JPEG the app hands to Gradio (fer.ui.live_frames.frame_file); what
Gradio and the browser add on top is measured in the browser.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fer.recognizer  # noqa: E402
import fer.stream  # noqa: E402
from fer.bench.latency import WEBCAM_CLIP, clip_frames, load_recognizer, table  # noqa: E402
from fer.runtime import BACKENDS, glue_threads, torch_threads  # noqa: E402
from fer.ui.live_frames import frame_file  # noqa: E402

STAGES = ("detect", "follow", "mtcnn networks", "crop", "classify", "track", "draw", "encode")


class StageClock:
    """Seconds spent in each wrapped function, less the time of wrapped functions it called (the tracker's update
    crops and classifies the faces that are due: those count as crop and classify, not as track)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._nested: list[float] = []  # per open stage: seconds of the stages it called

    def wrap(self, stage: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            self._nested.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[stage] += elapsed - self._nested.pop()
                if self._nested:
                    self._nested[-1] += elapsed

        return timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=WEBCAM_CLIP)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    parser.add_argument("--classify-every", type=int, default=fer.stream.CLASSIFY_EVERY)
    args = parser.parse_args()
    recognizer = load_recognizer(None, args.backend)
    clock = StageClock()
    detector = recognizer.detector
    detector.detect = clock.wrap("detect", detector.detect)
    detector.refine = clock.wrap("follow", detector.refine)
    for name in ("pnet", "rnet", "onet"):
        network = getattr(detector.mtcnn, name)  # shared by the detector's per-size copies
        network.forward = clock.wrap("mtcnn networks", network.forward)
    fer.recognizer.faces_batch = clock.wrap("crop", fer.recognizer.faces_batch)
    recognizer.model.forward = clock.wrap("classify", recognizer.model.forward)
    fer.stream.draw_faces = clock.wrap("draw", fer.stream.draw_faces)
    options = fer.stream.TrackingOptions(classify_every=args.classify_every)
    stream = fer.stream.StreamProcessor(recognizer, stale_s=None, options=options)
    stream.tracker.update = clock.wrap("track", stream.tracker.update)
    encode = clock.wrap("encode", frame_file)
    frames, total, faces = 0, 0.0, 0
    with torch_threads(glue_threads(recognizer.backend)):
        for frame in clip_frames(args.clip, args.frames):
            start = time.perf_counter()
            result = stream.process(frame)
            encode(result.image, 0)
            total += time.perf_counter() - start
            frames, faces = frames + 1, faces + len(result.faces)
    print(
        f"{recognizer.model_id}, {recognizer.runtime}; {frames} frames of {args.clip.name}, {faces} faces in all,"
        f" a followed face classified every {args.classify_every} frames\n"
    )
    rows = [
        [stage, f"{clock.seconds[stage] / frames * 1000:.1f}", f"{clock.seconds[stage] / total:.0%}"]
        for stage in STAGES
    ]
    other = total - sum(clock.seconds[stage] for stage in STAGES)
    rows += [["other (scene watch, bookkeeping)", f"{other / frames * 1000:.1f}", f"{other / total:.0%}"]]
    rows += [["whole frame", f"{total / frames * 1000:.1f}", f"{frames / total:.1f} frames/s"]]
    print(table(["stage", "ms per frame", "share"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
