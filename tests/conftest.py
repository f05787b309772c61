"""Shared fixtures: a real face photo (scikit-image's astronaut) and a small random model on disk."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# a fresh ONNX cache per test session (the apps the tests start share it): every run exports the networks itself
os.environ.setdefault("FER_ONNX_CACHE", tempfile.mkdtemp(prefix="fer-onnx-"))

from pathlib import Path

import numpy as np
import pytest
import torch

from fer.model import new_classifier, save_classifier
from fer.preprocess import InputSpec

TEST_SPEC = InputSpec(size=75, mean=0.5, std=0.25, margin=-0.09)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """512x512 RGB photo with one smiling face near (181, 62, 268, 172)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timm save_for_hf folder (config.json + model.safetensors) of an untrained 7-class 1x75x75 ResNet18."""
    torch.manual_seed(0)
    return save_classifier(new_classifier(), tmp_path_factory.mktemp("model") / "fer-random", TEST_SPEC)


@pytest.fixture(scope="session")
def random_model_id(random_model_dir: Path) -> str:
    return f"local-dir:{random_model_dir}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on a running app are marked `live`, tests driving Chromium `browser` (`-m "not live"` skips both)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "live_app" in fixtures or "chromium" in fixtures:
            item.add_marker(pytest.mark.live)
        if "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
