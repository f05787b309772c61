"""ONNX files of the loaded networks, exported once per set of weights and cached by their hash.

The timm folder stays the shipped and pushed format; these files are derived from whatever weights were loaded
(the bundled model, a Hub model, a new local one), so each set of weights gets its own file and a changed file
on disk can never be served with stale weights.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from fer.model import ServedClassifier

OPSET = 17
EXPORT_FORMAT = 1  # part of every cache key: raise it when what is exported changes
CACHE_ENV = "FER_ONNX_CACHE"
DIGEST_CHARS = 16


@dataclass(frozen=True)
class NetSpec:
    """How one network is exported: its file stem, an example input, its output names and its free input axes."""

    name: str
    example_shape: tuple[int, ...]
    outputs: tuple[str, ...]
    dynamic_axes: tuple[int, ...] = (0,)


PNET = NetSpec("pnet", (1, 3, 36, 48), ("box_shift", "probability"), (0, 2, 3))  # any image size
RNET = NetSpec("rnet", (2, 3, 24, 24), ("box_shift", "probability"))
ONET = NetSpec("onet", (2, 3, 48, 48), ("box_shift", "landmarks", "probability"))
MTCNN_NETS = {"pnet": PNET, "rnet": RNET, "onet": ONET}


def classifier_spec(size: int) -> NetSpec:
    return NetSpec("classifier", (1, 1, size, size), ("logits",))


def cache_dir() -> Path:
    """`FER_ONNX_CACHE`, else `$XDG_CACHE_HOME/fer/onnx` (~/.cache/fer/onnx)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fer" / "onnx"


def weights_digest(module: torch.nn.Module, tag: str = "") -> str:
    """Hash of the module's parameters and buffers (names, shapes, values), the export format and `tag`."""
    digest = hashlib.sha256(f"{EXPORT_FORMAT}:{OPSET}:{tag}".encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:DIGEST_CHARS]


def export_onnx(module: torch.nn.Module, spec: NetSpec, path: Path) -> Path:
    """Write `module` (in eval mode, float32) to `path` atomically: a reader never sees half a file."""
    module = module.eval().float()
    path.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {"input": {axis: f"axis{axis}" for axis in spec.dynamic_axes}}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{spec.name}-", suffix=".onnx")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                module,
                (torch.zeros(spec.example_shape),),
                temporary,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, one self-contained file
                opset_version=OPSET,
                input_names=["input"],
                output_names=list(spec.outputs),
                dynamic_axes=dynamic,
            )
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def cached_onnx(module: torch.nn.Module, spec: NetSpec, tag: str = "", folder: Path | None = None) -> Path:
    """The ONNX file of `module`'s current weights, exported on first use: `<cache>/<name>-<digest>.onnx`."""
    path = (folder or cache_dir()) / f"{spec.name}-{weights_digest(module, tag)}.onnx"
    return path if path.is_file() else export_onnx(module, spec, path)


def classifier_onnx(model: torch.nn.Module, size: int, flip_average: bool, folder: Path | None = None) -> Path:
    """The classifier's ONNX file, flip averaging inside the graph when the model's config asks for it."""
    tag = "flip" if flip_average else "plain"
    return cached_onnx(ServedClassifier(model, flip_average), classifier_spec(size), tag, folder)


def mtcnn_onnx(mtcnn: torch.nn.Module, folder: Path | None = None) -> dict[str, Path]:
    """ONNX files of facenet-pytorch's P-Net, R-Net and O-Net, by name."""
    return {name: cached_onnx(getattr(mtcnn, name), spec, folder=folder) for name, spec in MTCNN_NETS.items()}
