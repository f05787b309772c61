"""What visitors and API clients are told about the model: a name, a stable id, its card; never a server path."""

from __future__ import annotations

import re
from pathlib import Path

from fer.identity import card_text, identify
from fer.model import DEFAULT_MODEL, DEFAULT_MODEL_DIR
from fer.ui.blocks import header


def test_bundled_model_has_a_name_a_version_and_its_card() -> None:
    identity = identify(DEFAULT_MODEL)
    assert identity.name == "fer-resnet18" and identity.bundled
    assert re.fullmatch(r"fer-resnet18@[0-9a-f]{8}", identity.id)
    assert identity.card_path == DEFAULT_MODEL_DIR / "README.md" and identity.card_url is None
    text = header(identity)
    assert "fer-resnet18 (bundled, version " in text and "its card is below" in text
    assert str(DEFAULT_MODEL_DIR) not in text and "local-dir" not in text
    card = card_text(identity)
    assert not card.startswith("---") and "![" not in card and "# fer-resnet18" in card


def test_local_folder_is_named_by_folder_and_versioned_by_weights(random_model_id: str, random_model_dir: Path) -> None:
    identity = identify(random_model_id)
    assert identity.name == random_model_dir.name and not identity.bundled
    assert identity.id.startswith(f"{random_model_dir.name}@") and "/" not in identity.id
    assert identity.card_path is None and "card" not in header(identity)


def test_hub_model_links_to_its_hub_page() -> None:
    identity = identify("hf-hub:org/fer-resnet18")
    assert identity.id == "hf-hub:org/fer-resnet18" and identity.name == "fer-resnet18"
    assert "[model card](https://huggingface.co/org/fer-resnet18)" in header(identity)
