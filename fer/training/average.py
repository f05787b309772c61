"""Weight averaging of runs that continue one another (a "model soup", Wortsman et al. 2022)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from itertools import groupby
from pathlib import Path

import torch

from fer.model import MODEL_ID_PREFIXES, load_classifier, resolve_model_dir
from fer.training import checkpoint
from fer.training.release import METRICS_JSON
from fer.training.trainer import BEST, LAST


@dataclass
class SoupIngredient:
    """One source of a weight average: its weights, input spec, and (for the run table) settings and history."""

    name: str
    model: dict[str, torch.Tensor]
    spec: dict
    config: dict
    best_epoch: int  # for a kept epoch's weights: that epoch
    epochs_done: int
    history: list
    kept_from: str | None = None  # the run whose kept epoch this is (`fit --keep-epochs`)


def read_ingredient(source: str | Path, load_run: Callable[[Path], dict] = checkpoint.load) -> SoupIngredient:
    """A run folder (its best weights), one epoch's weights kept by `fit --keep-epochs` (`RUN/epoch-NNN.ckpt`), or
    an exported model id (`local-dir:` / `hf-hub:`; its weights include the prior correction and temperature folded
    into the classifier, and export fits new ones on top). `load_run` reads a run's last.ckpt (for its settings)."""
    text = str(source)
    if text.startswith(MODEL_ID_PREFIXES):
        model_dir = resolve_model_dir(text)  # fetched once: the weights and what export wrote beside them
        model, info = load_classifier(f"local-dir:{model_dir}")
        metrics = model_dir / METRICS_JSON
        figures = json.loads(metrics.read_text()) if metrics.is_file() else {}
        return SoupIngredient(
            text,
            model.state_dict(),
            asdict(info.spec),
            figures.get("settings", {}),
            figures.get("best_epoch", 0),
            figures.get("epochs", 0),
            [],
        )
    path = Path(text)
    kept = path.suffix == ".ckpt"  # one epoch's weights kept by --keep-epochs; the settings are its run's
    run_dir = path.parent if kept else path
    best = checkpoint.load(path if kept else path / BEST)
    last = load_run(run_dir / LAST)
    return SoupIngredient(
        f"{run_dir.name}/{path.stem}" if kept else run_dir.name,
        best["model"],
        best["spec"],
        last["config"],
        best["epoch"],
        last["epochs_done"],
        last["history"],
        run_dir.name if kept else None,
    )


def average_runs(sources: Sequence[str | Path], out_dir: Path, weights: Sequence[float] | None = None) -> Path:
    """Write `out_dir` with best.ckpt = the (weighted) mean of the sources' weights, ready for `train.py export`.

    Sources are run folders or exported model ids; they must share the architecture and input spec, and should
    share a basin (one started from the other's weights). `weights` (default: equal) are normalised to sum to 1.
    Batch-norm statistics are averaged too. last.ckpt carries the last source's settings for the run table; the
    folder is for export only, not for `--resume`.
    """
    if len(sources) < 2:
        raise ValueError("Averaging needs at least two run folders or models.")
    weights = [1.0] * len(sources) if weights is None else [float(w) for w in weights]
    if len(weights) != len(sources) or min(weights) <= 0:
        raise ValueError(f"Give one positive weight per source ({len(sources)}), got {weights}.")
    load_run = cache(checkpoint.load)  # several kept epochs of one run share its last.ckpt: read it once
    ingredients = [read_ingredient(source, load_run) for source in sources]
    first = ingredients[0]
    if any(i.spec != first.spec for i in ingredients):
        raise ValueError("The sources were trained on different inputs (size, mean, std or margin differ).")
    if any(i.model.keys() != first.model.keys() for i in ingredients):
        raise ValueError("The sources hold different architectures.")
    shares = [w / sum(weights) for w in weights]
    averaged = {
        name: sum(share * i.model[name].double() for share, i in zip(shares, ingredients, strict=True)).to(tensor.dtype)
        if tensor.is_floating_point()
        else tensor
        for name, tensor in ingredients[-1].model.items()
    }
    names = _names(ingredients, shares if len(set(weights)) > 1 else None)
    last = ingredients[-1]
    out_dir = Path(out_dir)
    checkpoint.save_atomic(
        {"model": averaged, "epoch": last.best_epoch, "spec": last.spec, "val": None}, out_dir / BEST
    )
    checkpoint.save_atomic(
        {
            "config": {**last.config, "init": f"the weight average of {names}"},
            "epochs_done": last.epochs_done,
            "history": last.history,
        },
        out_dir / LAST,
    )
    return out_dir


def _names(ingredients: Sequence[SoupIngredient], shares: Sequence[float] | None) -> str:
    """The sources as the run table names them. With equal shares, each run's kept epochs in a row read as
    `RUN epochs 5-9`, followed by what those runs started from."""
    if shares is not None:
        return ", ".join(f"{i.name} x {share:.2f}" for i, share in zip(ingredients, shares, strict=True))
    parts, origins = [], []
    for run, group in groupby(ingredients, key=lambda i: i.kept_from):
        if run is None:
            parts += [i.name for i in group]
            continue
        group = list(group)
        numbers = [i.best_epoch for i in group]
        in_a_row = len(numbers) > 1 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        listed = f"{numbers[0]}-{numbers[-1]}" if in_a_row else ", ".join(map(str, numbers))
        parts.append(f"{run} epochs {listed}")
        if origin := group[-1].config.get("init"):
            origins.append(f"{run} started from {origin}")
    return ", ".join(parts) + (f" ({'; '.join(origins)})" if origins else "")
