"""Atomic checkpoint files: written to a temporary file, flushed, then renamed over the old one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def save_atomic(state: dict, path: Path) -> None:
    """Write `state` so that `path` holds either the old or the new checkpoint, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict:
    """Read a checkpoint written by save_atomic (tensors and plain values only: weights_only)."""
    return torch.load(path, map_location="cpu", weights_only=True)
