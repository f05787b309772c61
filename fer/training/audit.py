"""Dataset audit: exact duplicates (decoded pixels) and near duplicates (perceptual hash) within and across splits."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.fft import dctn

from fer.labels import EMOTIONS
from fer.preprocess import to_gray
from fer.training.data import SPLITS, scan_split

NEAR_DISTANCE = 4  # max Hamming distance of 64-bit perceptual hashes for a near duplicate
HASH_SIDE = 32  # pHash: DCT of a 32x32 grayscale copy, keep the 8x8 lowest frequencies
CHUNK = 1024


@dataclass
class Item:
    split: str
    path: str
    label: str


@dataclass
class DuplicateGroup:
    kind: str  # "exact" (same decoded pixels) or "near" (perceptual hashes within NEAR_DISTANCE)
    members: list[Item]

    @property
    def splits(self) -> set[str]:
        return {m.split for m in self.members}

    @property
    def conflicting(self) -> bool:
        return len({m.label for m in self.members}) > 1


@dataclass
class AuditResult:
    groups: list[DuplicateGroup] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    images: int = 0

    def leaked(self, split: str = "test", source: str = "train") -> set[str]:
        """Resolved paths of `split` images with an exact or near copy in `source`."""
        return {
            str(Path(m.path).resolve())
            for g in self.groups
            if {split, source} <= g.splits
            for m in g.members
            if m.split == split
        }

    def summary(self) -> str:
        lines = [f"{self.images} images audited, {len(self.unreadable)} unreadable"]
        for kind in ("exact", "near"):
            groups = [g for g in self.groups if g.kind == kind]
            within = Counter(next(iter(g.splits)) for g in groups if len(g.splits) == 1)
            across = Counter("+".join(sorted(g.splits)) for g in groups if len(g.splits) > 1)
            conflicts = sum(g.conflicting for g in groups)
            lines.append(
                f"{kind} duplicate groups: {len(groups)} ({sum(len(g.members) for g in groups)} images); "
                f"within a split: {dict(within) or 0}; across splits: {dict(across) or 0}; "
                f"with conflicting labels: {conflicts}"
            )
        for split in ("val", "test"):
            lines.append(f"{split} images with a copy or near copy in train: {len(self.leaked(split))}")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        data = {
            "images": self.images,
            "unreadable": self.unreadable,
            "groups": [{"kind": g.kind, "members": [asdict(m) for m in g.members]} for g in self.groups],
        }
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> AuditResult:
        data = json.loads(Path(path).read_text())
        groups = [DuplicateGroup(g["kind"], [Item(**m) for m in g["members"]]) for g in data["groups"]]
        return cls(groups, data["unreadable"], data["images"])


def phash(gray: np.ndarray) -> int:
    """64-bit perceptual hash of a grayscale uint8 image: signs of its 8x8 lowest DCT frequencies."""
    small = np.asarray(Image.fromarray(gray).resize((HASH_SIDE, HASH_SIDE), Image.BILINEAR), dtype=np.float32)
    low = dctn(small, norm="ortho")[:8, :8].flatten()
    bits = low[1:] > np.median(low[1:])  # skip the DC term
    return int(np.packbits(np.concatenate([[False], bits])).view(">u8")[0])


def _hashes(path: Path) -> tuple[str, int] | None:
    """(md5 of the decoded grayscale pixels, 64-bit pHash), or None if the file cannot be decoded."""
    try:
        with Image.open(path) as image:
            pixels = to_gray(np.asarray(image.convert("RGB")))  # the luma serving and training use
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    exact = hashlib.md5(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()
    return exact, phash(pixels)


def _near_pairs(hashes: np.ndarray, max_distance: int) -> list[tuple[int, int]]:
    pairs = []
    for start in range(0, len(hashes), CHUNK):
        block = hashes[start : start + CHUNK]
        distance = np.bitwise_count(block[:, None] ^ hashes[None, :])
        rows, cols = np.nonzero(distance <= max_distance)
        keep = cols > rows + start
        pairs += list(zip((rows[keep] + start).tolist(), cols[keep].tolist()))
    return pairs


def _groups(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[find(a)] = find(b)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[find(i)].append(i)
    return [m for m in members.values() if len(m) > 1]


def audit(root: Path, max_distance: int = NEAR_DISTANCE, workers: int = 4) -> AuditResult:
    """Find duplicate groups in root/{train,val,test}/<class>/ (class folders outside the 7 are skipped)."""
    items: list[Item] = []
    for split in SPLITS:
        if (Path(root) / split).is_dir():
            samples, _ = scan_split(Path(root) / split)
            items += [Item(split, str(path), EMOTIONS[label]) for path, label in samples]
    with ThreadPoolExecutor(workers) as pool:
        hashed = list(pool.map(lambda item: _hashes(Path(item.path)), items))
    result = AuditResult(unreadable=[it.path for it, h in zip(items, hashed) if h is None])
    readable = [(it, h) for it, h in zip(items, hashed) if h is not None]
    result.images = len(readable)
    by_exact: dict[str, list[int]] = defaultdict(list)
    for index, (_, (exact, _)) in enumerate(readable):
        by_exact[exact].append(index)
    exact_groups = [g for g in by_exact.values() if len(g) > 1]
    in_exact = {i for g in exact_groups for i in g}
    phashes = np.array([h for _, (_, h) in readable], dtype=np.uint64)
    near_groups = [g for g in _groups(len(readable), _near_pairs(phashes, max_distance)) if not set(g) <= in_exact]
    for kind, groups in (("exact", exact_groups), ("near", near_groups)):
        result.groups += [DuplicateGroup(kind, [readable[i][0] for i in g]) for g in groups]
    return result
