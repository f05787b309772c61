"""The app in-process: an upload is checked and decoded once, as on /analyze; the idle queue polls sparingly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer
from fer.ui.blocks import QUEUE_POLL_S, build_demo, poll_queue_every

API_NAMES = ("analyze", "classify_face")


@pytest.fixture(scope="module")
def demo(random_model_id: str) -> gr.Blocks:
    return build_demo(EmotionRecognizer.from_pretrained(random_model_id))


@pytest.fixture(scope="module")
def endpoints(demo: gr.Blocks) -> dict[str, Callable]:
    return {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name in API_NAMES}


def test_the_idle_queue_polls_every_10_ms_not_every_1_ms(demo: gr.Blocks, caplog: pytest.LogCaptureFixture) -> None:
    assert demo._queue.sleep_when_free == QUEUE_POLL_S == 0.01
    renamed = gr.Blocks().queue()
    del renamed._queue.sleep_when_free  # a Gradio without the attribute: said in the log, nothing set
    poll_queue_every(renamed)
    assert not hasattr(renamed._queue, "sleep_when_free") and "sleep_when_free" in caplog.text


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
