"""What visitors and API clients are told about the model: a friendly name, a stable id and where its card is.

Never the server's paths: a `local-dir:` model is named by its folder and versioned by its weights' hash.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fer.model import DEFAULT_MODEL_DIR, WEIGHTS_NAME

HUB_URL = "https://huggingface.co/"
VERSION_CHARS = 8  # of the weights' sha256: changes whenever the weights do
CARD_NAME = "README.md"
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)\n?")  # relative image files the app does not serve


@dataclass(frozen=True)
class ModelIdentity:
    """`name` for people, `id` for API clients (`hf-hub:org/name`, or `name@version` for a local folder)."""

    name: str
    id: str
    bundled: bool = False
    card_url: str | None = None  # the Hub page of a Hub model
    card_path: Path | None = None  # the card of a local folder, shown in the app

    @property
    def description(self) -> str:
        """One line for headers and summaries, e.g. `fer-resnet18 (bundled, version 1a2b3c4d)`."""
        if self.card_url:
            return self.name
        version = self.id.rpartition("@")[2]
        return f"{self.name} ({'bundled, ' if self.bundled else ''}version {version})"


def weights_version(folder: Path) -> str:
    """The first VERSION_CHARS hex digits of the weights' sha256."""
    digest = hashlib.sha256()
    with (folder / WEIGHTS_NAME).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:VERSION_CHARS]


@lru_cache(maxsize=8)
def identify(model_id: str) -> ModelIdentity:
    """The identity of a loadable `hf-hub:org/name` or `local-dir:PATH` id."""
    source, _, name = model_id.partition(":")
    if source == "hf-hub":
        return ModelIdentity(name.rpartition("/")[2], model_id, card_url=f"{HUB_URL}{name}")
    folder = Path(name).expanduser().resolve()
    card = folder / CARD_NAME
    return ModelIdentity(
        folder.name,
        f"{folder.name}@{weights_version(folder)}",
        bundled=folder == DEFAULT_MODEL_DIR,
        card_path=card if card.is_file() else None,
    )


def card_text(identity: ModelIdentity) -> str:
    """A local card's markdown without its YAML front matter (the Hub shows it as metadata) and image links."""
    if identity.card_path is None:
        return ""
    return IMAGE_LINK.sub("", FRONT_MATTER.sub("", identity.card_path.read_text(encoding="utf-8"), count=1))
