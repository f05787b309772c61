"""A model folder laid out as huggingface_hub's cache, for `hf-hub:` ids with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import shutil
from pathlib import Path

from fer.model import CONFIG_NAME, WEIGHTS_NAME

SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(root: Path, repo_id: str, model_dir: Path, files: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME)) -> Path:
    """Lay `model_dir` out as huggingface_hub's cache: models--org--name/{snapshots/<hash>/..., refs/main}."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True)
    for name in files:
        shutil.copy(model_dir / name, snapshot / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SNAPSHOT)
    return root
