"""Face detection with facenet-pytorch's MTCNN, run on a downscaled copy, boxes mapped back to the input."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from fer.faces import Face
from fer.runtime import Backend, serving_backend
from fer.runtime.serving import serve_mtcnn


@dataclass(frozen=True)
class DetectorOptions:
    """MTCNN settings. Sizes are in pixels of the original image."""

    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    max_side: int | None = 1024  # detect on a copy whose longer side is at most this (None: full size)
    min_score: float = 0.9
    factor: float = 0.709
    # no face found: look again with a gray border of each of these fractions of the shorter side on every edge,
    # in turn, which finds faces that fill the image (tight crops) whose outline MTCNN misses at the border;
    # () turns the retries off. An image whose shorter side is under `upscale_below` px is then also looked at
    # twice as large, with each border (a small tight crop's eyes and mouth are too few pixels for P-Net).
    pad_retries: tuple[float, ...] = (0.5, 0.25, 0.15, 1.0)
    upscale_below: int = 160


WEBCAM_OPTIONS = DetectorOptions(min_face_size=40, max_side=320, pad_retries=())
PAD_GRAY = 128
ONET_SIZE = 48  # MTCNN's O-Net input side
REFINE_PASSES = 2  # O-Net passes per kept box: the second starts from the box the first moved
MAX_SIZED = 64  # MTCNN settings kept per smallest face size (one per image size seen, in practice a few)


class FaceDetector:
    """All faces of an RGB uint8 image, biggest first; an image with no face gives []."""

    def __init__(
        self,
        options: DetectorOptions | None = None,
        device: str = "cpu",
        backend: Backend | None = None,
        threads: int | None = None,
    ):
        """`threads`: onnxruntime threads per network (default: one per CPU)."""
        from facenet_pytorch import MTCNN

        self.options = options = options or DetectorOptions()
        self.backend = backend or serving_backend(device)
        self.mtcnn = MTCNN(
            keep_all=True,
            min_face_size=options.min_face_size,
            thresholds=list(options.thresholds),
            factor=options.factor,
            post_process=False,
            select_largest=False,
            device=device,
        )
        serve_mtcnn(self.mtcnn, self.backend, threads)
        self._sized: dict[int, torch.nn.Module] = {}

    def sized(self, min_face_size: int) -> torch.nn.Module:
        """`self.mtcnn` with its smallest face set to `min_face_size` pixels of the image it sees: a shallow copy
        per size, sharing the networks, so concurrent requests (uploads, webcam streams) detect at the same time
        instead of taking turns on one setting."""
        shell = self._sized.get(min_face_size)
        if shell is None:
            if len(self._sized) >= MAX_SIZED:
                self._sized.clear()
            shell = copy.copy(self.mtcnn)
            shell.min_face_size = min_face_size
            self._sized[min_face_size] = shell
        return shell

    def scale_for(self, width: int, height: int) -> float:
        """Factor (<= 1) that brings the longer side down to `max_side`."""
        longest = max(width, height)
        if self.options.max_side is None or longest <= self.options.max_side:
            return 1.0
        return self.options.max_side / longest

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self._detect(image)
        if faces or not self.options.pad_retries:
            return faces
        zooms = (1, 2) if min(image.shape[:2]) < self.options.upscale_below else (1,)
        for zoom in zooms:
            copy = enlarged(image, zoom)  # once per zoom, for every border
            for fraction in self.options.pad_retries:
                faces = self._detect_padded(copy, fraction, zoom)
                if faces:
                    return faces
        return []

    def _detect_padded(self, image: np.ndarray, fraction: float, zoom: int) -> list[Face]:
        """One look at `image` (the input enlarged `zoom` times) inside a gray border of `fraction` of its shorter
        side, boxes in the input's pixels; the border pads the downscaled copy, so a large image costs no more
        memory than the first look."""
        height, width = image.shape[:2]
        pad = max(1, round(min(height, width) * fraction))
        scale = self.scale_for(width + 2 * pad, height + 2 * pad)
        small_pad = max(1, round(pad * scale))
        padded = np.pad(
            downscaled(image, scale), ((small_pad,) * 2, (small_pad,) * 2, (0, 0)), constant_values=PAD_GRAY
        )
        return [
            Face(
                tuple((v / scale - pad) / zoom for v in face.box),  # may reach past the border: face_crop edge-pads
                face.score,
                [((x / scale - pad) / zoom, (y / scale - pad) / zoom) for x, y in face.landmarks or []],
            )
            for face in self._detect(padded, min_face_scale=scale * zoom)
        ]

    @torch.inference_mode()
    def _detect(self, image: np.ndarray, min_face_scale: float = 1.0) -> list[Face]:
        """One MTCNN pass; `min_face_scale` says how much `image` was already shrunk from the original."""
        height, width = image.shape[:2]
        scale = self.scale_for(width, height)
        small = downscaled(image, scale)
        mtcnn = self.sized(max(12, int(self.options.min_face_size * scale * min_face_scale)))
        boxes, scores, points = mtcnn.detect(planar(small), landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes, dtype=np.float32) / scale
        scores = np.asarray(scores, dtype=np.float32)
        points = np.asarray(points, dtype=np.float32) / scale
        faces = []
        for box, score, marks in zip(boxes, scores, points, strict=False):
            if score < self.options.min_score:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            box_clipped = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            if box_clipped[2] <= box_clipped[0] or box_clipped[3] <= box_clipped[1]:
                continue
            faces.append(Face((x1, y1, x2, y2), float(score), [(float(x), float(y)) for x, y in marks]))
        faces.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
        return faces

    @torch.inference_mode()
    def refine(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]], passes: int = REFINE_PASSES
    ) -> list[Face]:
        """Each box moved onto the face near it by MTCNN's O-Net (its last stage), with O-Net's face score.

        A box from an earlier frame is checked and moved this way at the cost of one small O-Net batch; a score
        below the detector's thresholds means the box no longer holds a face."""
        current = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.zeros(len(current), dtype=np.float32)
        marks = np.zeros((len(current), 5, 2), dtype=np.float32)
        if not len(current):
            return []
        canvas = Image.fromarray(image)
        for _ in range(passes):
            square = squared(current).astype(np.int64)  # as MTCNN crops (rerec, then integer pixels)
            crops = np.stack(
                [
                    np.asarray(canvas.crop((x1 - 1, y1 - 1, x2, y2)).resize((ONET_SIZE,) * 2, Image.BOX))
                    for x1, y1, x2, y2 in square
                ]
            )
            batch = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125
            shift, points, probability = self.mtcnn.onet(batch)
            size = (square[:, 2:] - square[:, :2] + 1).astype(np.float32)  # (w, h)
            current = square + shift.numpy() * np.concatenate([size, size], axis=1)
            scores = probability[:, 1].numpy()
            points = points.numpy()
            marks = np.stack([points[:, :5], points[:, 5:]], axis=2) * size[:, None, :] + square[:, None, :2] - 1
        return [
            Face(tuple(float(v) for v in box), float(score), [(float(x), float(y)) for x, y in points])
            for box, score, points in zip(current, scores, marks, strict=True)
        ]


def planar(image: np.ndarray) -> torch.Tensor:
    """An (H, W, 3) view of `image` stored plane by plane: MTCNN permutes it to (3, H, W), which is then
    contiguous, so its image pyramid and its hundreds of per-candidate crops are resampled by the fast
    contiguous kernel instead of the channels-last one (the same values, bit for bit)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).permute(1, 2, 0)


def squared(boxes: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) made square around their centres, side = the longer side (MTCNN's rerec)."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return np.stack([centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2], axis=1)


def enlarged(image: np.ndarray, zoom: int) -> np.ndarray:
    """`image` enlarged `zoom` times (bicubic), or itself for a zoom of 1."""
    if zoom == 1:
        return image
    height, width = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((width * zoom, height * zoom), Image.BICUBIC))


def downscaled(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` resized by `scale` (< 1), or itself."""
    if scale >= 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR, reducing_gap=2.0))
