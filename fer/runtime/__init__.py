"""Inference backends: the four networks (MTCNN's P/R/O-Net and the classifier) run by onnxruntime (the default
for serving) or by PyTorch (training, and on request). ONNX files are exported from the loaded weights and cached
by their hash (`fer.runtime.export`); `fer.runtime.onnx` runs them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Backend = Literal["onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("onnx", "torch")
BACKEND_ENV = "FER_BACKEND"
# PyTorch's threads when onnxruntime runs the networks: it then only resamples candidate crops and runs NMS on
# small tensors, where a second thread costs more than it gives (measured: the webcam path 15% faster per frame)
GLUE_THREADS = 1


def default_backend() -> Backend:
    """`FER_BACKEND` if set (onnx or torch), else onnx."""
    return check_backend(os.environ.get(BACKEND_ENV) or "onnx")


def check_backend(name: str) -> Backend:
    """`name` if it is a backend, else a ValueError that lists them."""
    if name not in BACKENDS:
        raise ValueError(f"Backend '{name}' is not one of {', '.join(BACKENDS)} (set by --backend or {BACKEND_ENV}).")
    return name  # type: ignore[return-value]


def runtime_description(backend: Backend, device: str = "cpu") -> str:
    """What runs the networks, in words, for logs and benchmark headers."""
    import torch

    if backend == "onnx":
        import onnxruntime

        return f"networks run by onnxruntime {onnxruntime.__version__} (CPU, {cpu_count()} threads)"
    return f"networks run by PyTorch {torch.__version__} ({device}, {torch.get_num_threads()} threads)"


def cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def glue_threads(backend: Backend) -> int:
    """PyTorch's thread count for serving with `backend`."""
    import torch

    return GLUE_THREADS if backend == "onnx" else torch.get_num_threads()


def use_serving_threads(backend: Backend) -> None:
    """Set PyTorch's threads for a process that serves with `backend` (app, CLI): `glue_threads`."""
    import torch

    torch.set_num_threads(glue_threads(backend))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to `count` inside the block (process-wide), restored after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def serving_backend(device: str = "cpu") -> Backend:
    """The default backend for networks on `device`: `default_backend()` on the CPU, PyTorch on an accelerator
    (onnxruntime runs here with its CPU provider only)."""
    return default_backend() if device == "cpu" else "torch"
