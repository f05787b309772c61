"""What train.py's subcommands do; kept here so train.py stays a thin option parser."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import torch

from fer.data import load_dataset
from fer.training import TrainConfig, Trainer


def fit(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    from fer.model import IMAGE_SIZE

    splits = load_dataset(
        args.data, IMAGE_SIZE, Path(config.soft_labels) if config.soft_labels else None, args.val_fraction, config.seed
    )
    print(f"train: {splits.train.summary()}")
    print(f"val:   {splits.val.summary()}")
    if splits.test is not None:
        print(f"test:  {splits.test.summary()}")
    trainer = Trainer(splits, config, args.run_dir, args.device)
    if args.resume:
        trainer.resume()
        print(f"resumed after epoch {trainer.start_epoch}")
    try:
        trainer.fit()
    except KeyboardInterrupt:
        print(
            f"\nInterrupted. Continue with the same command plus --resume (checkpoint: {args.run_dir / 'last.ckpt'})."
        )
        return 130
    return 0


def run(args: argparse.Namespace) -> int:
    return {"fit": fit}[args.command](args)
