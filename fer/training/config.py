"""TrainConfig: every setting of a run, with the help text and allowed values of its train.py flag."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from fer.preprocess import DEFAULT_MARGIN

BALANCES = ("none", "sampler", "loss")
SELECTIONS = ("balanced", "accuracy", "macro_recall")


def _option(default: object, help: str, choices: tuple[str, ...] | None = None) -> object:
    """A TrainConfig field whose help text (and allowed values) train.py turns into its command-line flag."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Every setting of a run; saved in its checkpoints and model card. Each is a `train.py fit` flag."""

    epochs: int = _option(30, "epochs of the cosine schedule (may change on --resume)")
    batch_size: int = _option(128, "images per step (per process under torchrun)")
    optimizer: str = _option("sgd", "timm optimizer", ("sgd", "momentum", "adamw", "adam"))
    lr: float = _option(0.1, "peak learning rate, after the warm-up")
    weight_decay: float = _option(5e-4, "weight decay")
    momentum: float = _option(0.9, "SGD momentum (Nesterov)")
    warmup_epochs: float = _option(1.0, "linear warm-up from lr/100, in epochs")
    label_smoothing: float = _option(0.1, "label smoothing of the cross-entropy")
    balance: str = _option("none", "class balance: sample by 1/class count, or weight the loss", BALANCES)
    drop_rate: float = _option(0.2, "dropout before the classifier")
    ema_decay: float = _option(0.0, "EMA of weights (validated and exported when on; 0 turns it off)")
    select: str = _option("balanced", "what picks the best epoch on val (balanced: mean of the two)", SELECTIONS)
    seed: int = _option(0, "seed of the init, the val split, the batch order and the augmentation")
    amp: bool = _option(True, "bf16 autocast where the CPU supports it; fp16/bf16 on CUDA")
    init: str | None = _option(None, "start from these weights (hf-hub:org/name or local-dir:PATH)")
    pretrained: bool = _option(False, "start from timm's ImageNet weights (needs the Hub)")
    soft_labels: str | None = _option(None, "CSV of vote counts per file (FER+), as soft targets")
    margin: float = _option(DEFAULT_MARGIN, "face crop margin stored for serving (fraction of the box side)")
    scale_min: float = _option(0.7, "smallest area fraction of the random resized crop")
    rotation: float = _option(15.0, "largest random rotation, in degrees")
    erasing: float = _option(0.25, "share of faces with a random rectangle erased")
    low_res: float = _option(0.3, "share of faces shown at a random lower resolution (20 px and up)")
    detail: int = _option(
        0, "show every face (training and serving) through a DETAIL px bottleneck, low-res below it (0: off)"
    )
    logit_adjust: float = _option(
        0.0,
        "train on logits + TAU x log(class prior) (logit-adjusted loss, Menon et al. 2021): rare classes get a margin",
    )
    mixup: float = _option(0.0, "mixup: blend each batch with its reverse by a Beta(a, a) weight (0 turns it off)")
    keep_epochs: bool = _option(False, "also keep each epoch's validated weights (epoch-NNN.ckpt) for train.py average")
    epoch_size: int = _option(0, "images drawn per epoch (0: the size of the training set)")
    mix: list[str] | None = _option(None, "the cached sets trained on (train.py fit --mix); None for --data")

    @classmethod
    def from_saved(cls, saved: dict) -> TrainConfig:
        """The config saved with a run; keys of settings since removed are left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(
                    f"--{f.name.replace('_', '-')} must be one of {', '.join(choices)}, not {getattr(self, f.name)!r}."
                )


@dataclass
class History:
    """Per-epoch figures, kept in the checkpoint so a resumed run reports the whole run."""

    epochs: list[dict] = field(default_factory=list)
    best_score: float = -1.0
    best_epoch: int = -1
