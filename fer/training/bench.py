"""train.py bench: the training loop's img/s against raw forward/backward img/s."""

from __future__ import annotations

import itertools
import time

import torch
import torch.nn.functional as F

from fer.labels import EMOTIONS
from fer.training.trainer import Trainer


def benchmark(trainer: Trainer, batches: int = 20, warmup: int = 3) -> tuple[float, float]:
    """(raw forward/backward img/s on ready tensors, full loop img/s with loading and augmentation)."""
    size, batch = trainer.spec.size, trainer.config.batch_size
    images = torch.randn(batch, 1, size, size)
    targets = F.one_hot(torch.randint(0, len(EMOTIONS), (batch,)), len(EMOTIONS)).float()
    for _ in range(warmup):
        trainer.train_step(images, targets)
    start = time.perf_counter()
    for _ in range(batches):
        trainer.train_step(images, targets)
    raw = batches * batch / (time.perf_counter() - start)
    iterator = (batch for epoch in itertools.count() for batch in trainer.batches(epoch))
    for _ in range(warmup):
        trainer.train_step(*next(iterator))
    start = time.perf_counter()
    for _ in range(batches):
        trainer.train_step(*next(iterator))
    return raw, batches * batch / (time.perf_counter() - start)
