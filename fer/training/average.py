"""Weight averaging of runs that continue one another (a "model soup", Wortsman et al. 2022)."""

from __future__ import annotations

from pathlib import Path

import torch

from fer.training import checkpoint
from fer.training.trainer import BEST, LAST


def average_runs(run_dirs: list[Path], out_dir: Path) -> Path:
    """Write `out_dir` with best.ckpt = the mean of the runs' best weights, ready for `train.py export`.

    The runs must share the architecture and input spec, and should share a basin (one started from the
    other's weights); batch-norm statistics are averaged too. last.ckpt carries the last run's settings
    for the run table; the folder is for export only, not for `--resume`.
    """
    if len(run_dirs) < 2:
        raise ValueError("Averaging needs at least two run folders.")
    bests = [checkpoint.load(Path(d) / BEST) for d in run_dirs]
    if any(b["spec"] != bests[0]["spec"] for b in bests):
        raise ValueError("The runs were trained on different inputs (size, mean, std or margin differ).")
    if any(b["model"].keys() != bests[0]["model"].keys() for b in bests):
        raise ValueError("The runs hold different architectures.")
    averaged = {
        name: torch.stack([b["model"][name].float() for b in bests]).mean(0).to(tensor.dtype)
        if tensor.is_floating_point()
        else tensor
        for name, tensor in bests[-1]["model"].items()
    }
    last = checkpoint.load(Path(run_dirs[-1]) / LAST)
    names = ", ".join(Path(d).name for d in run_dirs)
    out_dir = Path(out_dir)
    checkpoint.save_atomic(
        {"model": averaged, "epoch": bests[-1]["epoch"], "spec": bests[-1]["spec"], "val": None}, out_dir / BEST
    )
    checkpoint.save_atomic(
        {
            "config": {**last["config"], "init": f"the weight average of {names}"},
            "epochs_done": last["epochs_done"],
            "history": last["history"],
        },
        out_dir / LAST,
    )
    return out_dir
