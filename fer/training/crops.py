"""The crop cache: every training image cropped once the way serving crops it, with a manifest.

`prepare_dataset` runs the serving detector (padded retry included) on each image of a folder dataset,
keeps the biggest face (what `predict` reports first) and crops it through `preprocess.face_crop` with the
serving margin. It also keeps the image's native crop (what `classify_face` sees for an image that is
already a face). Each split becomes `<cache>/<split>.npz` plus `<cache>/manifest.csv`.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from fer.images import ImageError, load_rgb
from fer.labels import EMOTIONS
from fer.preprocess import DEFAULT_MARGIN, face_crop
from fer.training.data import SPLITS, FaceSet, scan_split

MANIFEST = "manifest.csv"
CHUNK = 256  # images per task of a worker process
FRAMINGS = ("detector", "native", "both")  # which crops a training set uses (see `CachedSplit.faces`)


@dataclass
class CropRecord:
    """One manifest row: where a crop came from and what the detector said."""

    split: str
    source: str  # path relative to the dataset root
    label: str
    status: str  # face | no_face (the detector crop is the native crop) | unreadable
    faces: int  # faces the detector found
    score: float
    x1: float
    y1: float
    x2: float
    y2: float


_detector = None


def _init_worker(threads: int) -> None:
    global _detector
    from fer.detect import FaceDetector

    torch.set_num_threads(threads)
    _detector = FaceDetector()


def _crop_one(root: Path, split: str, path: Path, label: int, size: int, margin: float):
    """(detector crop, native crop, record) of one image; crops are None when the image is unreadable."""
    source = str(path.relative_to(root))
    try:
        image = load_rgb(path)
    except ImageError:
        return None, None, CropRecord(split, source, EMOTIONS[label], "unreadable", 0, 0.0, 0, 0, 0, 0)
    native = face_crop(image, None, size)
    faces = _detector.detect(image)
    if not faces:
        return native, native, CropRecord(split, source, EMOTIONS[label], "no_face", 0, 0.0, 0, 0, 0, 0)
    face = faces[0]
    crop = face_crop(image, face.box, size, margin)
    box = (round(v, 1) for v in face.box)
    return crop, native, CropRecord(split, source, EMOTIONS[label], "face", len(faces), round(face.score, 4), *box)


def _crop_chunk(args: tuple) -> list:
    root, split, samples, size, margin = args
    return [_crop_one(root, split, path, label, size, margin) for path, label in samples]


@dataclass
class PrepareSummary:
    counts: dict[str, Counter]  # split -> status -> images

    def lines(self) -> list[str]:
        return [f"{split}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for split, c in self.counts.items()]


def prepare_dataset(
    root: Path, out: Path, size: int, margin: float = DEFAULT_MARGIN, workers: int | None = None
) -> PrepareSummary:
    """Detect and crop every image of root/{train,val,test}/<class>/ into the cache folder `out`."""
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workers = workers or max(1, os.cpu_count() or 1)
    records: list[CropRecord] = []
    counts: dict[str, Counter] = {}
    from tqdm.auto import tqdm

    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(1,)) as pool:
        for split in SPLITS:
            if not (root / split).is_dir():
                continue
            samples, _ = scan_split(root / split)
            tasks = [(root, split, samples[i : i + CHUNK], size, margin) for i in range(0, len(samples), CHUNK)]
            results = []
            for chunk in tqdm(pool.map(_crop_chunk, tasks), total=len(tasks), desc=f"{root.name}/{split}"):
                results += chunk
            kept = [(d, n, r) for d, n, r in results if d is not None]
            records += [r for _, _, r in results]
            counts[split] = Counter(r.status for _, _, r in results)
            tmp = out / f"{split}.tmp.npz"
            np.savez(
                tmp,
                detector=np.stack([d for d, _, _ in kept]),
                native=np.stack([n for _, n, _ in kept]),
                labels=np.array([EMOTIONS.index(r.label) for _, _, r in kept], dtype=np.int64),
                sources=np.array([r.source for _, _, r in kept]),
            )
            tmp.replace(out / f"{split}.npz")
    with open(out / MANIFEST, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(CropRecord)])
        writer.writerows(astuple(r) for r in records)
    return PrepareSummary(counts)


@dataclass(frozen=True)
class CachedSplit:
    """One cached split as written by `prepare_dataset`, read from disk once."""

    detector: torch.Tensor  # (N, size, size) uint8 crops around the detector's box (native where no face)
    native: torch.Tensor  # (N, size, size) uint8 crops of the whole image
    labels: torch.Tensor  # (N,) int64 index into EMOTIONS
    sources: list[str]  # paths relative to the dataset root

    @classmethod
    def read(cls, cache: Path, split: str) -> CachedSplit:
        with np.load(Path(cache) / f"{split}.npz") as data:
            return cls(
                torch.from_numpy(data["detector"]),
                torch.from_numpy(data["native"]),
                torch.from_numpy(data["labels"]),
                data["sources"].tolist(),
            )

    def faces(self, root: Path, framing: str = "detector", index: torch.Tensor | None = None) -> FaceSet:
        """The split (or its images at `index`) as a FaceSet; `framing` picks detector crops, native crops or
        both (each image twice, once per framing)."""
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, not {framing!r}.")
        index = torch.arange(len(self.labels)) if index is None else index
        detector, native, labels = self.detector[index], self.native[index], self.labels[index]
        paths = [Path(root) / self.sources[i] for i in index.tolist()]
        if framing == "detector":
            return FaceSet(detector, labels, paths)
        if framing == "native":
            return FaceSet(native, labels, paths)
        return FaceSet(torch.cat([detector, native]), torch.cat([labels, labels]), paths + paths)


def load_cached_split(cache: Path, split: str, root: Path, framing: str = "detector") -> FaceSet:
    """A cached split as a FaceSet (see `CachedSplit.faces`)."""
    return CachedSplit.read(cache, split).faces(root, framing)
