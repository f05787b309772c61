"""The cause of `h11 ... Too little data for declared Content-Length` while streaming, and the workaround.

A reader that takes a file's size and then reads it (as Starlette's FileResponse does) gets fewer bytes when
Gradio rewrites the same cache file for an identical frame; with frame files written by fer.ui.live_frames, Gradio
copies atomically and never rewrites a file it serves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from gradio import processing_utils

from fer.ui.live_frames import frame_file

RACE_S = 5.0  # long enough for the rewrite to hit a read many times on a 2-core machine


def short_reads(save: Callable[[], str], seconds: float = RACE_S, stop_at_first: bool = False) -> tuple[int, int]:
    """Save the same frame again and again in a thread while this thread reads the saved file as a web server
    would (size first, then the bytes); (reads, reads that got fewer bytes than the size)."""
    path = save()
    done = threading.Event()

    def rewrite() -> None:
        while not done.is_set():
            assert save() == path  # identical frames land on the same cache file

    writer = threading.Thread(target=rewrite)
    writer.start()
    reads = short = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not (stop_at_first and short):
            size = os.stat(path).st_size
            with open(path, "rb") as handle:
                short += len(handle.read()) < size
            reads += 1
    finally:
        done.set()
        writer.join()
    return reads, short


def test_gradio_rewrites_a_served_file_for_an_identical_frame(astronaut: np.ndarray, tmp_path: Path) -> None:
    """The cause: an array output is rewritten in place (truncated, then written) at its content-hash path."""
    reads, short = short_reads(
        lambda: processing_utils.save_img_array_to_cache(astronaut, str(tmp_path), format="jpeg"), stop_at_first=True
    )
    assert short > 0, f"no short read in {reads} reads: has Gradio made this write atomic? (then drop the workaround)"


def test_frame_files_are_never_served_short(astronaut: np.ndarray, tmp_path: Path) -> None:
    """The workaround: our file, replaced atomically, which Gradio copies under a temporary name and renames."""
    cache = str(tmp_path / "cache")
    reads, short = short_reads(
        lambda: processing_utils.save_file_to_cache(frame_file(astronaut, key=1), cache), seconds=2.0
    )
    assert reads > 100 and short == 0, f"{short} of {reads} reads were short"
