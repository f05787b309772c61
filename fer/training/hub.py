"""Publish an exported model folder to the Hugging Face Hub with timm's push_to_hf_hub."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi
from timm.models import push_to_hf_hub

from fer.model import data_config as timm_data_config
from fer.model import hub_reachable, load_classifier, model_config

CARD_FILES = ["README.md", "*.png", "metrics.json"]


class PushError(RuntimeError):
    """A push that did not happen; the message says how to retry. The local folder is never touched."""


def push_folder(folder: Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Push weights + config (timm) and the model card files of `folder` to `repo_id`; return the repo URL."""
    folder = Path(folder)
    retry = f"The exported model is kept at {folder}; retry with: python train.py push {folder} {repo_id}"
    model, info = load_classifier(f"local-dir:{folder}")
    if not hub_reachable():
        raise PushError(f"Cannot push to {repo_id}: the Hub is unreachable (or HF_HUB_OFFLINE=1). {retry}")
    try:
        push_to_hf_hub(
            model,
            repo_id,
            token=token,
            private=private,
            model_config=model_config(
                info.label_names, info.spec, {k: v for k, v in info.extra.items() if k != "face_margin"}
            ),
            data_config=timm_data_config(info.spec),
            safe_serialization=True,
        )
        commit = HfApi(token=token).upload_folder(
            repo_id=repo_id, folder_path=folder, allow_patterns=CARD_FILES, commit_message="Model card and metrics"
        )
    except Exception as err:  # network, auth, quota: all end the same way for the user
        raise PushError(
            f"Push to {repo_id} failed ({type(err).__name__}: {str(err).splitlines()[0]}). {retry}"
        ) from err
    return str(commit.repo_url) if hasattr(commit, "repo_url") else f"https://huggingface.co/{repo_id}"
