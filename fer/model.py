"""Load, validate, export and push the emotion classifier in timm's Hugging Face Hub format."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import timm
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from huggingface_hub.utils import get_session

from fer.labels import EMOTIONS, canonical_emotion
from fer.preprocess import DEFAULT_MARGIN, InputSpec

ARCHITECTURE = "resnet18"
IN_CHANS = 1
IMAGE_SIZE = 75
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "fer-resnet18"
DEFAULT_MODEL = f"local-dir:{DEFAULT_MODEL_DIR}"
MODEL_ID_PREFIXES = ("hf-hub:", "local-dir:")
HUB_PROBE_TIMEOUT_S = 3.0


class ModelError(RuntimeError):
    """A model id that cannot be loaded; the message names the id and the fix."""


@dataclass(frozen=True)
class ModelInfo:
    """What the app needs to know about a loaded classifier, all read from its config.json."""

    model_id: str
    label_names: tuple[str, ...]
    spec: InputSpec
    temperature: float = 1.0  # calibration already folded into the weights (kept to report the uncalibrated ECE)
    flip_average: bool = False  # serve the mean logits of the face and its mirror image
    extra: dict = field(default_factory=dict)  # config.json's "fer" section: margin, prior correction, temperature


def default_model_id() -> str:
    """`FER_MODEL` if set, else the model bundled in this repository."""
    return os.environ.get("FER_MODEL") or DEFAULT_MODEL


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """One quick HTTPS request to the Hub endpoint, no retry (huggingface_hub itself would retry for ~20 s).

    A TCP connect is not enough: proxies and firewalls accept connections that they then fail to serve.
    """
    if hub_constants.HF_HUB_OFFLINE:
        return False
    try:
        get_session().head(hub_constants.ENDPOINT, timeout=timeout)
    except (OSError, httpx2.HTTPError):
        return False
    return True


def _fetch_hub_files(repo_id: str, model_id: str) -> Path:
    """Download (or find in the cache) config.json and model.safetensors; return their snapshot folder."""
    online = hub_reachable()
    try:
        config = hf_hub_download(repo_id, CONFIG_NAME, local_files_only=not online)
        hf_hub_download(repo_id, WEIGHTS_NAME, local_files_only=not online)
    except LocalEntryNotFoundError as err:
        where = "the Hub is unreachable (or HF_HUB_OFFLINE=1)" if not online else "it has no such file"
        raise ModelError(
            f"Cannot load {model_id}: {where} and {CONFIG_NAME} + {WEIGHTS_NAME} are not in the local cache. "
            "Connect to the Hub once, or pass --model local-dir:PATH."
        ) from err
    except HfHubHTTPError as err:
        raise ModelError(
            f"Cannot load {model_id}: the Hub answered '{str(err).splitlines()[0]}'. Check the repo id, "
            f"that it holds {WEIGHTS_NAME} (pickle weights are refused), and HF_TOKEN for a private repo."
        ) from err
    return Path(config).parent


def resolve_model_dir(model_id: str) -> Path:
    """The local folder holding config.json and model.safetensors for an `hf-hub:` or `local-dir:` id."""
    source, _, name = model_id.partition(":")
    if source == "hf-hub" and name:
        return _fetch_hub_files(name, model_id)
    if source == "local-dir" and name:
        path = Path(name).expanduser()
        if not (path / CONFIG_NAME).is_file():
            if path == DEFAULT_MODEL_DIR:
                raise ModelError(
                    f"The bundled model is missing ({path}). Train one with `python train.py` "
                    "or pass --model hf-hub:org/name (or set FER_MODEL)."
                )
            raise ModelError(f"Cannot load {model_id}: {path / CONFIG_NAME} does not exist.")
        if not (path / WEIGHTS_NAME).is_file():
            raise ModelError(
                f"Cannot load {model_id}: no {WEIGHTS_NAME} in {path}. Only safetensors weights are loaded "
                "(pickle files such as pytorch_model.bin are refused); re-export with `python train.py export`."
            )
        return path
    raise ModelError(f"Model id '{model_id}' must look like hf-hub:org/name or local-dir:PATH.")


def read_model_info(model_id: str, model_dir: Path) -> ModelInfo:
    """Validate config.json (1 channel, 7 known labels, input size, mean/std) and return its facts."""
    try:
        config = json.loads((model_dir / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"Cannot load {model_id}: {CONFIG_NAME} is unreadable ({err}).") from err
    pretrained_cfg = config.get("pretrained_cfg", config)
    labels = config.get("label_names") or pretrained_cfg.get("label_names")
    if not labels:
        raise ModelError(f"Cannot load {model_id}: its {CONFIG_NAME} has no label_names.")
    names = tuple(canonical_emotion(str(label)) or str(label) for label in labels)
    if len(names) != len(EMOTIONS) or set(names) != set(EMOTIONS):
        raise ModelError(
            f"Cannot load {model_id}: its label_names {list(labels)} are not the 7 emotions {list(EMOTIONS)}."
        )
    num_classes = config.get("num_classes", len(names))
    if num_classes != len(EMOTIONS):
        raise ModelError(f"Cannot load {model_id}: it has {num_classes} classes, 7 are needed.")
    in_chans = config.get("model_args", {}).get("in_chans", 3)
    input_size = tuple(pretrained_cfg.get("input_size", (3, 224, 224)))
    if in_chans != IN_CHANS or input_size[0] != IN_CHANS:
        raise ModelError(
            f"Cannot load {model_id}: it takes {input_size[0]}-channel input (in_chans={in_chans}); "
            "this app feeds 1-channel grayscale faces."
        )
    if input_size[1] != input_size[2]:
        raise ModelError(f"Cannot load {model_id}: input size {input_size} is not square.")
    mean, std = pretrained_cfg.get("mean", (0.5,)), pretrained_cfg.get("std", (0.5,))
    fer = dict(config.get("fer", {}))
    margin = float(fer.get("face_margin", DEFAULT_MARGIN))
    detail = int(fer["detail"]) if fer.get("detail") else None
    spec = InputSpec(size=int(input_size[1]), mean=float(mean[0]), std=float(std[0]), margin=margin, detail=detail)
    return ModelInfo(
        model_id=model_id,
        label_names=names,
        spec=spec,
        temperature=float(fer.get("temperature", 1.0)),
        flip_average=bool(fer.get("flip_average", False)),
        extra=fer,
    )


def load_classifier(model_id: str | None = None) -> tuple[torch.nn.Module, ModelInfo]:
    """Build the timm model from an `hf-hub:` / `local-dir:` id, in eval mode, with its validated facts."""
    model_id = model_id or default_model_id()
    model_dir = resolve_model_dir(model_id)
    info = read_model_info(model_id, model_dir)
    try:
        model = timm.create_model(f"local-dir:{model_dir}", pretrained=True)
    except (RuntimeError, ValueError, KeyError) as err:
        raise ModelError(f"Cannot load {model_id}: timm could not build it ({str(err).splitlines()[0]}).") from err
    return model.eval(), info


def classifier_logits(model: torch.nn.Module, batch: torch.Tensor, flip_average: bool) -> torch.Tensor:
    """Logits of normalised faces (N, 1, H, W); with `flip_average`, the mean over each face and its mirror image
    (one forward pass of both), which is what the app serves when the model's config.json asks for it."""
    if not flip_average:
        return model(batch)
    logits = model(torch.cat([batch, batch.flip(-1)]))
    return logits.view(2, -1, logits.shape[-1]).mean(0)  # no Python int for the batch: exported graphs keep it free


class ServedClassifier(torch.nn.Module):
    """The classifier as served: normalised faces (N, 1, H, W) in, logits out (`classifier_logits`); the PyTorch
    backend runs it and the ONNX export traces it, so both compute the same."""

    def __init__(self, model: torch.nn.Module, flip_average: bool):
        super().__init__()
        self.model, self.flip_average = model, flip_average

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return classifier_logits(self.model, faces, self.flip_average)


def new_classifier(**kwargs: object) -> torch.nn.Module:
    """A fresh ResNet18 for 1 x 75 x 75 grayscale faces and the 7 emotions (random init unless told)."""
    return timm.create_model(ARCHITECTURE, in_chans=IN_CHANS, num_classes=len(EMOTIONS), **kwargs)


def save_classifier(
    model: torch.nn.Module,
    out_dir: str | Path,
    spec: InputSpec,
    label_names: tuple[str, ...] = EMOTIONS,
    extra: dict | None = None,
) -> Path:
    """Write a timm `save_for_hf` folder (config.json + model.safetensors only) that `local-dir:` loads."""
    from timm.models import save_for_hf

    out_dir = Path(out_dir)
    save_for_hf(
        model,
        str(out_dir),
        model_config=model_config(label_names, spec, extra),
        model_args={"in_chans": IN_CHANS},
        data_config=data_config(spec),
        safe_serialization=True,
    )
    return out_dir


def model_config(label_names: tuple[str, ...], spec: InputSpec, extra: dict | None = None) -> dict:
    """The extra config.json fields: label names and how faces are cropped for this model."""
    detail = {"detail": spec.detail} if spec.detail else {}
    return {"label_names": list(label_names), "fer": {"face_margin": spec.margin, **detail, **(extra or {})}}


def data_config(spec: InputSpec) -> dict:
    """timm's data config for a 1-channel square input (else it claims 3x224x224 and ImageNet stats)."""
    return {
        "input_size": (IN_CHANS, spec.size, spec.size),
        "mean": (spec.mean,),
        "std": (spec.std,),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
    }
