"""Leaks across datasets: training images that are copies or near copies of any set's test images.

Sets crop the same photo differently (RAF-DB aligned, AffectNet tight, FER+ 48 px), so the audit compares the
cached crops: each image's detector crop and native crop are hashed, and two images are near copies when any
pair of their hashes is within `NEAR_DISTANCE` bits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer.training.audit import NEAR_DISTANCE, phash
from fer.training.crops import CachedSplit

BLOCK = 256  # test hashes compared at once (memory: BLOCK x train hashes x 8 bytes)


@dataclass
class CrossSetLeaks:
    """Training images kept out because a test image of some set is a copy or near copy of them."""

    excluded: dict[str, list[str]] = field(default_factory=dict)  # train set -> sources (relative paths)
    test_leaked: dict[str, list[str]] = field(default_factory=dict)  # test set -> its sources with a copy in training
    pairs: dict[str, int] = field(default_factory=dict)  # "test set <- train set" -> images kept out

    def summary(self) -> str:
        lines = [
            f"{name}/test: {len(sources)} images with a copy or near copy in a training set"
            for name, sources in self.test_leaked.items()
        ]
        lines += [f"kept out of {pair}: {n}" for pair, n in self.pairs.items() if n]
        lines.append(f"training images kept out in all: {sum(len(v) for v in self.excluded.values())}")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        data = {"excluded": self.excluded, "test_leaked": self.test_leaked, "pairs": self.pairs}
        Path(path).write_text(json.dumps(data, indent=0))

    @classmethod
    def load(cls, path: Path) -> CrossSetLeaks:
        return cls(**json.loads(Path(path).read_text()))


def crop_hashes(cached: CachedSplit) -> np.ndarray:
    """(N, 2) pHashes of a cached split's detector and native crops."""
    pairs = zip(cached.detector.numpy(), cached.native.numpy(), strict=True)
    return np.array([[phash(d), phash(n)] for d, n in pairs], dtype=np.uint64)


def _near_any(test: np.ndarray, train: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, train rows) with any hash pair within max_distance bits; both inputs are (N, 2)."""
    flat_train = train.reshape(-1)
    hit_test, hit_train = [], []
    for start in range(0, len(test), BLOCK):
        block = test[start : start + BLOCK].reshape(-1)
        rows, cols = np.nonzero(np.bitwise_count(block[:, None] ^ flat_train[None, :]) <= max_distance)
        hit_test.append(rows // 2 + start)
        hit_train.append(cols // 2)
    return np.concatenate(hit_test or [np.empty(0, int)]), np.concatenate(hit_train or [np.empty(0, int)])


def cross_set_leaks(
    caches: dict[str, Path], train_splits: tuple[str, ...] = ("train",), max_distance: int = NEAR_DISTANCE
) -> CrossSetLeaks:
    """Compare every cached test split with every cached training split (of all the sets in `caches`)."""
    test_splits = {name: CachedSplit.read(c, "test") for name, c in caches.items() if (Path(c) / "test.npz").is_file()}
    tests = {name: crop_hashes(cached) for name, cached in test_splits.items()}
    result = CrossSetLeaks()
    hit_tests: dict[str, set[int]] = {name: set() for name in tests}
    for train_name, cache in caches.items():
        for split in train_splits:
            if not (Path(cache) / f"{split}.npz").is_file():
                continue
            cached = CachedSplit.read(cache, split)
            train = crop_hashes(cached)
            excluded: set[int] = set()
            for test_name, test in tests.items():
                test_rows, train_rows = _near_any(test, train, max_distance)
                hit_tests[test_name].update(test_rows.tolist())
                result.pairs[f"{test_name}/test <- {train_name}/{split}"] = len(set(train_rows.tolist()))
                excluded.update(train_rows.tolist())
            result.excluded.setdefault(train_name, []).extend(sorted(cached.sources[i] for i in excluded))
    result.test_leaked = {name: sorted(test_splits[name].sources[i] for i in rows) for name, rows in hit_tests.items()}
    return result
