"""The app's API endpoints called in-process: an upload is checked and decoded once, as on /analyze."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.ui.blocks import build_demo

API_NAMES = ("analyze", "classify_face")


@pytest.fixture(scope="module")
def endpoints(random_model_id: str) -> dict[str, Callable]:
    demo = build_demo(EmotionRecognizer.from_pretrained(random_model_id))
    return {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name in API_NAMES}


@pytest.mark.parametrize("api_name", API_NAMES)
def test_an_upload_is_checked_once(
    api_name: str,
    endpoints: dict[str, Callable],
    astronaut: np.ndarray,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fer.images

    path = tmp_path / "face.png"
    Image.fromarray(astronaut[62:172, 181:268]).save(path)
    calls = []
    check = fer.images.check_dimensions
    monkeypatch.setattr(fer.images, "check_dimensions", lambda *a: calls.append(a) or check(*a))
    answer = endpoints[api_name]({"path": str(path), "meta": {"_type": "gradio.FileData"}})
    assert len(calls) == 1
    if api_name == "classify_face":
        assert list(answer) == list(EMOTIONS) and sum(answer.values()) == pytest.approx(1.0, abs=1e-4)
    else:
        assert answer["image_size"] == [87, 110] and "faces" in answer
