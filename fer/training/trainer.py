"""The training loop: augmentation, soft/balanced loss, cosine schedule, EMA, atomic checkpoints, resume."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from timm.utils import ModelEmaV3
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from fer.labels import EMOTIONS
from fer.model import ModelError, load_classifier, new_classifier
from fer.preprocess import InputSpec
from fer.training import checkpoint
from fer.training.augment import AugmentConfig, augment_batch, mixup
from fer.training.config import History, TrainConfig
from fer.training.data import DatasetSplits, FaceSet, class_prior
from fer.training.evaluation import evaluate_crops
from fer.training.metrics import Report, selection_score
from fer.training.runtime import autocast, init_distributed

LAST = "last.ckpt"
BEST = "best.ckpt"


def epoch_file(epoch: int) -> str:
    """The weights of one epoch, kept with --keep-epochs: the same contents as best.ckpt."""
    return f"epoch-{epoch:03d}.ckpt"


def dataset_spec(train: FaceSet, margin: float) -> InputSpec:
    """Mean and std of the training crops, stored in config.json for serving."""
    pixels = train.crops.float() / 255.0
    return InputSpec(
        size=train.crops.shape[-1],
        mean=round(float(pixels.mean()), 4),
        std=round(float(pixels.std()), 4),
        margin=margin,
    )


def class_weights(train: FaceSet) -> torch.Tensor:
    """Inverse square-root frequency weights, mean 1."""
    counts = torch.tensor(train.class_counts(), dtype=torch.float32).clamp(min=1)
    weights = counts.rsqrt()
    return weights / weights.mean()


class Trainer:
    """Fits a classifier on `DatasetSplits`, checkpointing every epoch into `run_dir` (rank 0 only under DDP)."""

    def __init__(self, splits: DatasetSplits, config: TrainConfig, run_dir: Path, device: str = "cpu"):
        self.splits, self.config, self.run_dir = splits, config, Path(run_dir)
        self.rank, self.world = init_distributed()
        if self.world > 1 and device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        self.device = torch.device(device)
        torch.manual_seed(config.seed)
        model, init_spec = self._initial_model()
        self.model = model.to(self.device, memory_format=torch.channels_last)
        # a model that goes on from other weights keeps the input statistics those weights learnt
        spec = dataset_spec(splits.train, config.margin) if init_spec is None else init_spec
        self.spec = replace(spec, detail=config.detail or spec.detail)
        self.augment = AugmentConfig(
            scale_min=config.scale_min,
            rotation=config.rotation,
            erasing=config.erasing,
            low_res=config.low_res,
            low_res_max=self.spec.detail,
        )
        self.epoch_size = config.epoch_size or len(splits.train)
        self.optimizer = create_optimizer_v2(
            self.model, config.optimizer, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum
        )
        # the module that runs forward/backward: the model itself, or its DDP wrapper under torchrun
        self.runner = DistributedDataParallel(self.model) if self.world > 1 else self.model
        self.steps_per_epoch = max(1, self.epoch_size // (config.batch_size * self.world))
        self.scheduler = CosineLRScheduler(
            self.optimizer,
            t_initial=config.epochs * self.steps_per_epoch,
            lr_min=config.lr * 1e-3,
            warmup_t=int(config.warmup_epochs * self.steps_per_epoch),
            warmup_lr_init=config.lr * 1e-2,
            t_in_epochs=False,
        )
        self.ema = ModelEmaV3(self.model, decay=config.ema_decay, use_warmup=True) if config.ema_decay else None
        weights = class_weights(splits.train) if config.balance == "loss" else None
        self.loss_weights = None if weights is None else weights.to(self.device)
        # logit adjustment: the loss sees logits + tau log prior, so the served logits must beat the prior's pull
        adjust = config.logit_adjust * class_prior(splits).clamp(min=1e-6).log() if config.logit_adjust else None
        self.logit_offset = None if adjust is None else adjust.to(self.device)
        self.history = History()
        self.start_epoch = 0

    def _initial_model(self) -> tuple[torch.nn.Module, InputSpec | None]:
        """The model to train and, when it starts from saved weights, their input spec."""
        if self.config.init:
            model, info = load_classifier(self.config.init)
            model.drop_rate = self.config.drop_rate  # timm's ResNet reads it in forward_head
            spec = info.spec
            return model.train(), replace(spec, margin=self.config.margin)
        try:
            return new_classifier(pretrained=self.config.pretrained, drop_rate=self.config.drop_rate), None
        except Exception as err:  # timm raises several types when the Hub cannot be reached
            if not self.config.pretrained:
                raise
            raise ModelError(
                f"ImageNet weights for resnet18 could not be fetched ({type(err).__name__}): the Hub is "
                "unreachable. Train from scratch (drop --pretrained) or pass --init local-dir:PATH."
            ) from err

    # --- checkpoints -------------------------------------------------------------------------------
    def state(self, epochs_done: int) -> dict:
        return {
            "epochs_done": epochs_done,
            "model": self.model.state_dict(),
            "ema": None if self.ema is None else self.ema.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": asdict(self.history),
            "config": asdict(self.config),
            "spec": asdict(self.spec),
        }

    def resume(self) -> None:
        """Continue from run_dir/last.ckpt exactly where it ended."""
        state = checkpoint.load(self.run_dir / LAST)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.module.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scheduler.t_initial = self.config.epochs * self.steps_per_epoch  # --epochs may change on resume
        self.history = History(**state["history"])
        self.start_epoch = state["epochs_done"]

    def eval_model(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.model

    # --- the loop ----------------------------------------------------------------------------------
    def sample_weights(self) -> torch.Tensor | None:
        """Per-image sampling weights: the mix's per-set weights, times 1/class count with --balance sampler."""
        weights = getattr(self.splits, "train_weights", None)
        if self.config.balance == "sampler":
            per_class = 1.0 / torch.tensor(self.splits.train.class_counts(), dtype=torch.float64).clamp(min=1)
            weights = per_class[self.splits.train.labels] * (1.0 if weights is None else weights.double())
        return weights

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Augmented (images, targets) batches of one epoch; the order and augmentation are seeded by the epoch,
        so a resumed run replays the same batches. Under DDP each rank takes every world-th batch."""
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        torch.manual_seed(self.config.seed * 100_003 + epoch)  # dropout
        train, weights = self.splits.train, self.sample_weights()
        size = self.steps_per_epoch * self.config.batch_size * self.world
        if weights is None:
            order = torch.cat([torch.randperm(len(train), generator=generator) for _ in range(-(-size // len(train)))])
        else:
            order = torch.multinomial(weights.float(), size, replacement=True, generator=generator)
        targets = train.soft if train.soft is not None else F.one_hot(train.labels, len(EMOTIONS)).float()
        mix_rng = np.random.default_rng([self.config.seed, epoch, self.rank])
        for step in range(self.steps_per_epoch):
            index = order[(step * self.world + self.rank) * self.config.batch_size :][: self.config.batch_size]
            batch = augment_batch(train.crops[index], self.spec, self.augment, generator), targets[index]
            yield mixup(*batch, self.config.mixup, mix_rng) if self.config.mixup > 0 else batch

    def train_step(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step; returns the loss and the logits."""
        images = images.to(self.device, memory_format=torch.channels_last)
        with autocast(self.device, self.config.amp):
            logits = self.runner(images)
        loss = F.cross_entropy(
            logits.float() if self.logit_offset is None else logits.float() + self.logit_offset,
            targets.to(self.device),
            weight=self.loss_weights,
            label_smoothing=self.config.label_smoothing,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), logits.detach()

    def train_epoch(self, epoch: int) -> dict:
        self.model.train()
        seen, correct, loss_sum, start = 0, 0, 0.0, time.perf_counter()
        bar = tqdm(
            self.batches(epoch),
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.config.epochs}",
            leave=False,
            disable=self.rank > 0,
        )
        for step, (images, targets) in enumerate(bar):
            loss, logits = self.train_step(images, targets)
            self.scheduler.step_update(epoch * self.steps_per_epoch + step + 1)
            if self.ema is not None:
                self.ema.update(self.model, step=epoch * self.steps_per_epoch + step)
            seen += len(images)
            correct += int((logits.argmax(1).cpu() == targets.argmax(1)).sum())
            loss_sum += float(loss.detach()) * len(images)
            rate = seen / (time.perf_counter() - start)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.1%}", img_s=f"{rate:.0f}")
        return {
            "loss": loss_sum / max(seen, 1),
            "train_acc": correct / max(seen, 1),
            "img_s": seen / (time.perf_counter() - start),
        }

    def validate(self) -> tuple[Report, dict[str, Report]]:
        """The whole val split's report, and one per set of a mix (empty for a single dataset)."""
        per_set = {
            name: evaluate_crops(self.eval_model(), faces, self.spec, self.device)
            for name, faces in (getattr(self.splits, "val_sets", None) or {}).items()
        }
        return evaluate_crops(self.eval_model(), self.splits.val, self.spec, self.device), per_set

    def fit(self) -> History:
        """Train the remaining epochs; Ctrl-C leaves the last finished epoch's checkpoint to --resume."""
        if self.start_epoch == 0 and self.rank == 0:
            checkpoint.save_atomic(self.state(0), self.run_dir / LAST)
        for epoch in range(self.start_epoch, self.config.epochs):
            figures = self.train_epoch(epoch)
            if self.rank == 0:
                self.end_epoch(epoch, figures)
            if self.world > 1:
                dist.barrier()
        return self.history

    def end_epoch(self, epoch: int, figures: dict) -> None:
        """Validate, keep the best weights, write the checkpoint and the history, print one line."""
        result, per_set = self.validate()
        # a mix selects on the mean of its sets' scores, so the biggest set does not decide alone
        scores = [selection_score(r, self.config.select) for r in per_set.values()]
        score = sum(scores) / len(scores) if scores else selection_score(result, self.config.select)
        figures.update(
            val_sets={
                name: {"acc": r.accuracy, "macro_recall": r.macro_recall, "recall": r.recall}
                for name, r in per_set.items()
            },
            epoch=epoch + 1,
            val_acc=result.accuracy,
            val_macro_recall=result.macro_recall,
            val_macro_f1=result.macro_f1,
            val_score=score,
            lr=self.optimizer.param_groups[0]["lr"],
        )
        self.history.epochs.append(figures)
        improved = score > self.history.best_score
        weights = {
            "model": self.eval_model().state_dict(),
            "epoch": epoch + 1,
            "spec": asdict(self.spec),
            "val": result.to_dict(),
        }
        if improved:
            self.history.best_score, self.history.best_epoch = score, epoch + 1
            checkpoint.save_atomic(weights, self.run_dir / BEST)
        if self.config.keep_epochs:
            checkpoint.save_atomic(weights, self.run_dir / epoch_file(epoch + 1))
        checkpoint.save_atomic(self.state(epoch + 1), self.run_dir / LAST)
        (self.run_dir / "history.json").write_text(json.dumps(asdict(self.history), indent=1))
        tqdm.write(
            f"epoch {epoch + 1:3d}  loss {figures['loss']:.3f}  train {figures['train_acc']:.1%}  "
            f"val {result.line()}  {figures['img_s']:.0f} img/s{'  *best' if improved else ''}"
        )
        for name, r in per_set.items():
            tqdm.write(f"    {name:10s} {r.line()}  neutral {r.recall['neutral']:.0%}")
