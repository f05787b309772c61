"""onnxruntime sessions (CPU provider) that stand in for the PyTorch networks they were exported from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch

from fer.runtime import cpu_count

PROVIDER = "CPUExecutionProvider"


def new_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU session with one intra-op thread per CPU this process may use (or `threads`)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or cpu_count()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no busy-waiting between runs: the detector's PyTorch steps (resampling, NMS) run between its networks' calls
    # on the same cores, and spinning threads would take their CPU
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=[PROVIDER])


class OnnxNet(torch.nn.Module):
    """An ONNX file run by onnxruntime, called like the PyTorch network it came from: a float tensor in, a
    tensor (one output) or a tuple of tensors out. facenet-pytorch's `detect_face` calls MTCNN's networks this
    way and reads their dtype from their first parameter, hence the empty `dtype_probe`."""

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__()
        self.path = path
        self.session = new_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.dtype_probe = torch.nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, batch: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        array = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        outputs = tuple(torch.from_numpy(o) for o in self.session.run(None, {self.input_name: array}))
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        return f"{self.path.name}, onnxruntime {onnxruntime.__version__} {PROVIDER}"
