"""Folder datasets (`split/<class>/*.png`): scanning, decoding through the shared preprocessing, soft labels."""

from __future__ import annotations

import csv
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fer.images import ImageError, load_rgb
from fer.labels import EMOTIONS, canonical_emotion
from fer.preprocess import face_crop

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
SPLITS = ("train", "val", "test")


@dataclass
class FaceSet:
    """One split decoded into memory: uint8 face crops, hard labels, optional soft targets."""

    crops: torch.Tensor  # (N, size, size) uint8
    labels: torch.Tensor  # (N,) int64 index into EMOTIONS
    paths: list[Path]
    soft: torch.Tensor | None = None  # (N, 7) float, rows sum to 1
    skipped_folders: Counter = field(default_factory=Counter)  # folder name -> images not used
    corrupt: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(EMOTIONS)).tolist()

    def subset(self, index: torch.Tensor | list[int]) -> FaceSet:
        index = torch.as_tensor(index, dtype=torch.long)
        return FaceSet(
            crops=self.crops[index],
            labels=self.labels[index],
            paths=[self.paths[i] for i in index.tolist()],
            soft=None if self.soft is None else self.soft[index],
        )

    def summary(self) -> str:
        counts = ", ".join(f"{name} {n}" for name, n in zip(EMOTIONS, self.class_counts(), strict=False))
        text = f"{len(self)} images ({counts})"
        if self.skipped_folders:
            text += "; skipped folders: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.skipped_folders.items()))
        if self.corrupt:
            text += f"; {len(self.corrupt)} unreadable images skipped"
        return text


def scan_split(split_dir: Path) -> tuple[list[tuple[Path, int]], Counter]:
    """(image path, class index) pairs of a split folder, and the images of non-emotion folders skipped."""
    samples: list[tuple[Path, int]] = []
    skipped: Counter = Counter()
    for folder in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        emotion = canonical_emotion(folder.name)
        if emotion is None:
            skipped[folder.name] += len(files)
            continue
        samples += [(path, EMOTIONS.index(emotion)) for path in files]
    return samples, skipped


def _decode(path: Path, size: int) -> np.ndarray | None:
    try:
        return face_crop(load_rgb(path), None, size)
    except (ImageError, ValueError):
        return None


def load_split(split_dir: Path, size: int, votes: dict[str, np.ndarray] | None = None, workers: int = 4) -> FaceSet:
    """Decode every image of a split folder into face crops; unreadable files are skipped and counted."""
    samples, skipped = scan_split(split_dir)
    with ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(lambda s: _decode(s[0], size), samples))
    kept = [(s, crop) for s, crop in zip(samples, decoded, strict=False) if crop is not None]
    corrupt = [s[0] for s, crop in zip(samples, decoded, strict=False) if crop is None]
    if not kept:
        raise ValueError(f"No readable images of the 7 emotions under {split_dir}.")
    crops = torch.from_numpy(np.stack([crop for _, crop in kept]))
    labels = torch.tensor([label for (_, label), _ in kept], dtype=torch.long)
    paths = [path for (path, _), _ in kept]
    soft = None
    if votes is not None:
        rows = []
        for path, label in zip(paths, labels.tolist(), strict=False):
            row = votes.get(path.name)
            rows.append(row if row is not None and row.sum() > 0 else np.eye(len(EMOTIONS))[label])
        soft = torch.tensor(np.stack(rows), dtype=torch.float32)
        soft /= soft.sum(dim=1, keepdim=True)
    return FaceSet(crops, labels, paths, soft, skipped, corrupt)


def read_votes(csv_path: Path) -> dict[str, np.ndarray]:
    """Per-file vote counts over the 7 emotions from a CSV with a `file` column and one column per emotion.

    Columns are matched by name with aliases (FER+ `happiness`, `anger`, ...); other columns (contempt,
    unknown, NF) are ignored. Votes of 1 are dropped as outliers, as in the FER+ paper's label rule.
    """
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = {col: canonical_emotion(col) for col in reader.fieldnames or []}
        emotion_cols = {col: EMOTIONS.index(e) for col, e in columns.items() if e is not None}
        if "file" not in columns or len(set(emotion_cols.values())) != len(EMOTIONS):
            raise ValueError(f"{csv_path} needs a 'file' column and one vote column per emotion.")
        votes = {}
        for row in reader:
            counts = np.zeros(len(EMOTIONS), dtype=np.float32)
            for col, index in emotion_cols.items():
                counts[index] += float(row[col] or 0)
            counts[counts <= 1] = 0
            votes[Path(row["file"]).name] = counts
    return votes


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (keep, held_out) holding out `fraction` of each class, reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    keep, held = [], []
    for cls in range(len(EMOTIONS)):
        index = torch.nonzero(labels == cls).flatten()
        index = index[torch.randperm(len(index), generator=generator)].tolist()
        n_held = round(len(index) * fraction)
        held += index[:n_held]
        keep += index[n_held:]
    return sorted(keep), sorted(held)


@dataclass
class DatasetSplits:
    train: FaceSet
    val: FaceSet
    test: FaceSet | None


def load_dataset(
    root: Path, size: int, votes_csv: Path | None = None, val_fraction: float = 0.1, seed: int = 0
) -> DatasetSplits:
    """train/ (required), val/ (else a stratified split of train) and test/ (optional) of a folder dataset."""
    root = Path(root)
    if not (root / "train").is_dir():
        raise ValueError(f"{root} has no train/ folder (expected train/<class>/*.png, optional val/ and test/).")
    votes = read_votes(votes_csv) if votes_csv else None
    train = load_split(root / "train", size, votes)
    if (root / "val").is_dir():
        val = load_split(root / "val", size, votes)
    else:
        keep, held = stratified_split(train.labels, val_fraction, seed)
        train, val = train.subset(keep), train.subset(held)
    test = load_split(root / "test", size, votes) if (root / "test").is_dir() else None
    return DatasetSplits(train, val, test)


def class_prior(splits: DatasetSplits) -> torch.Tensor:
    """The class frequencies training saw: sampling weights of a mix summed per class, else class counts."""
    weights = getattr(splits, "train_weights", None)
    if weights is None:
        weights = torch.ones(len(splits.train))
    prior = torch.zeros(len(EMOTIONS), dtype=torch.float64).index_add_(0, splits.train.labels, weights.double())
    return (prior / prior.sum()).float()
