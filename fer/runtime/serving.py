"""The networks as serving runs them, by backend: PyTorch modules, or onnxruntime sessions of their ONNX files."""

from __future__ import annotations

import torch

from fer.model import ModelInfo, ServedClassifier
from fer.runtime import Backend, cpu_count
from fer.runtime.export import classifier_onnx, mtcnn_onnx
from fer.runtime.onnx import OnnxNet

# The app's requests (uploads, /analyze, /classify_face) run on this many queue workers at once.
REQUEST_WORKERS = 2


def request_threads(workers: int = REQUEST_WORKERS) -> int:
    """onnxruntime threads per network of the detector that `workers` requests share at once: the CPUs shared out.
    Two workers with two threads each oversubscribe 2 cores: 8 clients x 25 /analyze ran p95 735-829 ms, against
    685 ms with one thread each."""
    return max(1, cpu_count() // workers)


def served_classifier(model: torch.nn.Module, info: ModelInfo, backend: Backend) -> torch.nn.Module:
    """Normalised faces (N, 1, H, W) -> served logits (flip-averaged when the config asks), run by `backend`."""
    if backend == "onnx":
        return OnnxNet(classifier_onnx(model, info.spec.size, info.flip_average))
    # channels_last: half the CPU time of a 1-face batch (PyTorch's default path is slow for batch 1)
    return ServedClassifier(model.to(memory_format=torch.channels_last), info.flip_average)


def serve_mtcnn(mtcnn: torch.nn.Module, backend: Backend, threads: int | None = None) -> None:
    """Make facenet-pytorch's MTCNN run its P-, R- and O-Net by `backend` (onnxruntime: `threads` each, default one
    per CPU); its detection logic stays as it is."""
    if backend == "onnx":
        for name, path in mtcnn_onnx(mtcnn).items():
            setattr(mtcnn, name, OnnxNet(path, threads))
    else:  # channels_last: R-Net / O-Net on the candidate crops (max-pool bound) run ~2x faster, same boxes
        mtcnn.to(memory_format=torch.channels_last)
