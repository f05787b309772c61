"""Annotated webcam frames handed to Gradio as JPEG files written atomically.

Why: for an array output Gradio (6.31) encodes the image and writes it to `<cache>/<hash of its bytes>/image.jpeg`
with `Path.write_bytes`, which truncates and rewrites the file when it already exists. Two identical frames in a
row (a still scene, or the browser posting a frame faster than the camera makes new ones) rewrite the very file
the browser is downloading: Starlette has already sent its size as Content-Length, reads fewer bytes, and h11
raises `LocalProtocolError: Too little data for declared Content-Length` (net::ERR_CONTENT_LENGTH_MISMATCH in
the browser). For a file path, Gradio copies into its cache under a temporary name and renames it into place,
and leaves a copy that exists alone, so a file being served is never rewritten.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

LIVE_DIR = Path(tempfile.gettempdir()) / "fer-live"
JPEG_QUALITY = 80
STALE_S = 600  # files of streams that ended this long ago are removed when a new stream starts


def frame_file(rgb: np.ndarray, key: int) -> str:
    """Write `rgb` as JPEG to LIVE_DIR/<key>.jpg (one file per stream, replaced atomically); return its path."""
    LIVE_DIR.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=LIVE_DIR, prefix=".", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as handle:
            Image.fromarray(rgb).save(handle, format="JPEG", quality=JPEG_QUALITY)
        target = LIVE_DIR / f"{key:x}.jpg"
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(target)


def remove_stale(max_age_s: float = STALE_S) -> None:
    """Remove the frame files of streams that ended over `max_age_s` ago."""
    if not LIVE_DIR.is_dir():
        return
    for path in LIVE_DIR.iterdir():
        try:
            if time.time() - path.stat().st_mtime > max_age_s:
                path.unlink()
        except FileNotFoundError:
            pass
