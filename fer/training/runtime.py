"""Where training runs: bf16/fp16 autocast where the hardware has it, and torchrun's process group."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def autocast(device: torch.device, enabled: bool):
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype, enabled=enabled)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled and cpu_bf16_supported())


def cpu_bf16_supported() -> bool:
    """bf16 autocast is only a speed-up on CPUs with native bf16 instructions."""
    return bool(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")().startswith("AVX512")) and bool(
        torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def init_distributed() -> tuple[int, int]:
    """(rank, world size): under `torchrun --nproc_per_node=N` joins the process group (NCCL on GPUs, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world
