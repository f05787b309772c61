"""Several cached datasets as one training mix: per-set sampling weights, per-set validation, no test leaks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fer.labels import EMOTIONS
from fer.training.crops import FRAMINGS, CachedSplit
from fer.training.data import DatasetSplits, FaceSet, read_votes, stratified_split

MIX_PATTERN = re.compile(r"^(?P<name>[\w.-]+)(:(?P<framing>\w+))?=(?P<weight>[0-9.]+)$")
# subject-disjoint validation for a posed set whose file names start with the performer's number
HELD_OUT_PERFORMERS = {"twposed": ("13", "14", "15")}


@dataclass(frozen=True)
class MixEntry:
    """One dataset of the mix: its name (the cache and data folder name), crop framing and sampling weight."""

    name: str
    framing: str
    weight: float

    @classmethod
    def parse(cls, text: str) -> MixEntry:
        """`NAME[:FRAMING]=WEIGHT`, e.g. `rafdb:both=1.5`; FRAMING is detector (default), native or both."""
        match = MIX_PATTERN.match(text)
        if not match:
            raise ValueError(f"--mix entry {text!r} must look like NAME[:FRAMING]=WEIGHT, e.g. rafdb:both=1.5.")
        framing = match["framing"] or "detector"
        if framing not in FRAMINGS:
            raise ValueError(f"--mix entry {text!r}: framing must be one of {', '.join(FRAMINGS)}.")
        return cls(match["name"], framing, float(match["weight"]))


@dataclass
class MixSplits(DatasetSplits):
    """DatasetSplits of a mix: `train_weights` are per-image sampling weights, `val_sets` per-set val data."""

    train_weights: torch.Tensor | None = None
    val_sets: dict[str, FaceSet] | None = None


def _holdout(name: str, sources: list[str], labels: torch.Tensor, fraction: float, seed: int):
    performers = HELD_OUT_PERFORMERS.get(name)
    if performers:
        held = [i for i, s in enumerate(sources) if Path(s).name[:2] in performers]
        keep = [i for i, s in enumerate(sources) if Path(s).name[:2] not in performers]
        return keep, held
    return stratified_split(labels, fraction, seed)


def _with_targets(faces: FaceSet, votes: dict[str, np.ndarray] | None) -> FaceSet:
    """Soft targets from votes where a file has them, else one-hot of the label."""
    soft = F.one_hot(faces.labels, len(EMOTIONS)).float()
    if votes:
        for i, path in enumerate(faces.paths):
            row = votes.get(Path(path).name)
            if row is not None and row.sum() > 0:
                soft[i] = torch.from_numpy(row / row.sum())
    faces.soft = soft
    return faces


def _concat(sets: list[FaceSet]) -> FaceSet:
    return FaceSet(
        torch.cat([s.crops for s in sets]),
        torch.cat([s.labels for s in sets]),
        [p for s in sets for p in s.paths],
        torch.cat([s.soft for s in sets]) if all(s.soft is not None for s in sets) else None,
    )


def load_mix(
    entries: list[MixEntry],
    cache_dir: Path,
    data_dir: Path,
    excluded: dict[str, list[str]] | None = None,
    votes_csv: Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> MixSplits:
    """Train and val of every entry from its cache; `excluded` sources (test leaks) never reach training."""
    votes = read_votes(votes_csv) if votes_csv else None
    trains, weights, val_sets = [], [], {}
    for entry in entries:
        cache, root = Path(cache_dir) / entry.name, Path(data_dir) / entry.name
        if not (cache / "train.npz").is_file():
            raise FileNotFoundError(
                f"No crop cache {cache}/train.npz: run train.py prepare --data {root} --out {cache}"
            )
        cached = CachedSplit.read(cache, "train")
        if (cache / "val.npz").is_file():
            keep, held = list(range(len(cached.sources))), None
        else:
            keep, held = _holdout(entry.name, cached.sources, cached.labels, val_fraction, seed)
        dropped = set((excluded or {}).get(entry.name, []))
        keep = [i for i in keep if cached.sources[i] not in dropped]
        train = _with_targets(cached.faces(root, entry.framing, torch.tensor(keep)), votes)
        if held is None:
            val = CachedSplit.read(cache, "val").faces(root, entry.framing)
        else:
            val = cached.faces(root, entry.framing, torch.tensor(held))
        trains.append(train)
        weights.append(torch.full((len(train),), entry.weight / len(train)))
        val_sets[entry.name] = val
    return MixSplits(
        train=_concat(trains),
        val=_concat(list(val_sets.values())),
        test=None,
        train_weights=torch.cat(weights),
        val_sets=val_sets,
    )
