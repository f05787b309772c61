"""How much of each fer.bench scenario is the networks themselves: the fastest a frame could be with no Python.

    python scripts/network_share.py [--frames 60]

On fer.bench's frames (1 face and 6 faces at 640x480), the webcam path (fer.stream.StreamProcessor, onnxruntime)
runs with detection every 3 frames and on every frame; every onnxruntime run (P-, R-, O-Net, the classifier) is
timed in the same run as the whole frame. Then one detection alone: its networks against its Python
(facenet-pytorch's detect_face and fer.detect around it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from profile_stream import StageClock  # noqa: E402

from fer.bench.latency import MEDIA_DIR, bench_frames, load_recognizer  # noqa: E402
from fer.runtime import glue_threads, torch_threads  # noqa: E402
from fer.stream import StreamProcessor, TrackingOptions  # noqa: E402

WARMUP = 5
NETWORKS = "networks"


def timed_runs(step, clock: StageClock, frames: int) -> tuple[float, float]:
    """(whole, networks) seconds per call of `step` over `frames` calls, after a warm-up."""
    for _ in range(WARMUP):
        step()
    clock.seconds.clear()
    start = time.perf_counter()
    for _ in range(frames):
        step()
    whole = time.perf_counter() - start
    return whole / frames, clock.seconds[NETWORKS] / frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    recognizer = load_recognizer(None, "onnx")
    clock = StageClock()
    mtcnn = recognizer.detector.mtcnn  # shared by the detector's per-size copies
    for network in (mtcnn.pnet, mtcnn.rnet, mtcnn.onet, recognizer.model):
        network.forward = clock.wrap(NETWORKS, network.forward)
    one, six, source = bench_frames(MEDIA_DIR)
    print(f"{recognizer.model_id}, {recognizer.runtime}; frames from {source}\n")
    print("| scenario | whole frame | networks alone | the rest |")
    print("|---|---|---|---|")
    with torch_threads(glue_threads(recognizer.backend)):
        for name, frame, every in (("1 face", one, 3), ("1 face", one, 1), ("6 faces", six, 3)):
            stream = StreamProcessor(recognizer, stale_s=None, options=TrackingOptions(detect_every=every))
            whole, nets = timed_runs(lambda s=stream, f=frame: s.process(f), clock, args.frames)
            print(
                f"| {name}, detect every {every} | {whole * 1000:.1f} ms = {1 / whole:.1f} frames/s |"
                f" {nets * 1000:.1f} ms = {1 / nets:.1f} frames/s | {(whole - nets) * 1000:.1f} ms |"
            )
        for name, frame in (("1 face", one), ("6 faces", six)):
            whole, nets = timed_runs(lambda f=frame: recognizer.detector.detect(f), clock, args.frames)
            print(
                f"| one detection, {name} | {whole * 1000:.1f} ms | {nets * 1000:.1f} ms | {(whole - nets) * 1000:.1f} ms |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
