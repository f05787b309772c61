"""Loading the classifier from `local-dir:` and from an offline Hugging Face Hub cache; refusing what does not fit."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_cache import hub_cache
from huggingface_hub import constants as hub_constants
from make_inputs import FACE_BOX
from safetensors.torch import save_file

from fer.labels import EMOTIONS
from fer.model import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelError,
    classifier_logits,
    default_model_id,
    load_classifier,
    new_classifier,
    save_classifier,
)
from fer.preprocess import InputSpec
from fer.recognizer import EmotionRecognizer

SPEC = InputSpec(size=75, mean=0.5, std=0.25, margin=-0.09)
PERMUTED = ("neutral", "surprise", "happy", "angry", "sad", "fear", "disgust")
FAIL_FAST_S = 5.0


def biased_model(top_index: int) -> torch.nn.Module:
    """A classifier whose output `top_index` always wins (zero fc weights, one large bias)."""
    model = new_classifier()
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()
        model.fc.bias[top_index] = 10.0
    return model


def edited_copy(model_dir: Path, out: Path, **changes: object) -> Path:
    """A copy of a model folder whose config.json has some top-level keys replaced (None: removed)."""
    shutil.copytree(model_dir, out)
    config = json.loads((out / CONFIG_NAME).read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (out / CONFIG_NAME).write_text(json.dumps(config))
    return out


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache (what HF_HUB_CACHE=tmp gives) with the Hub offline."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


def test_local_dir_load(random_model_id: str, random_model_dir: Path) -> None:
    model, info = load_classifier(random_model_id)
    assert not model.training
    assert info.model_id == random_model_id
    assert info.label_names == EMOTIONS
    assert info.spec == SPEC  # size, mean, std and margin all read from config.json
    assert model(torch.zeros(2, 1, 75, 75)).shape == (2, 7)
    saved = json.loads((random_model_dir / CONFIG_NAME).read_text())
    assert saved["model_args"]["in_chans"] == 1 and saved["pretrained_cfg"]["input_size"] == [1, 75, 75]


def test_spec_comes_from_the_config(tmp_path: Path) -> None:
    spec = InputSpec(size=64, mean=0.4, std=0.3, margin=0.1)
    path = save_classifier(new_classifier(), tmp_path / "m", spec)
    assert load_classifier(f"local-dir:{path}")[1].spec == spec


def test_weights_survive_the_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = new_classifier().eval()
    path = save_classifier(model, tmp_path / "m", SPEC)
    loaded, _ = load_classifier(f"local-dir:{path}")
    x = torch.randn(3, 1, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_flip_average_is_the_mean_over_the_face_and_its_mirror_image() -> None:
    torch.manual_seed(2)
    model = new_classifier().eval()
    x = torch.randn(3, 1, 75, 75)
    with torch.no_grad():
        averaged = classifier_logits(model, x, flip_average=True)
        torch.testing.assert_close(averaged, (model(x) + model(x.flip(-1))) / 2)
        torch.testing.assert_close(averaged, classifier_logits(model, x.flip(-1), flip_average=True))
        assert not torch.allclose(model(x), model(x.flip(-1)), atol=1e-4)  # so the two checks above can fail
        torch.testing.assert_close(classifier_logits(model, x, flip_average=False), model(x))


def test_flip_average_comes_from_the_config(tmp_path: Path, random_model_dir: Path) -> None:
    assert not load_classifier(f"local-dir:{random_model_dir}")[1].flip_average  # older configs: off
    path = save_classifier(new_classifier(), tmp_path / "m", SPEC, extra={"flip_average": True})
    assert load_classifier(f"local-dir:{path}")[1].flip_average
    face = (np.random.default_rng(0).random((75, 75, 3)) * 255).astype(np.uint8)
    recognizer = EmotionRecognizer(*load_classifier(f"local-dir:{path}"), detector=None)  # type: ignore[arg-type]
    mirrored = np.ascontiguousarray(face[:, ::-1])
    torch.testing.assert_close(recognizer.classify(face, None), recognizer.classify(mirrored, None))


def test_hf_hub_load_from_an_offline_cache_keeps_label_order(
    tmp_path: Path, offline_cache: Path, astronaut: np.ndarray
) -> None:
    surprise_index = PERMUTED.index("surprise")
    model_dir = save_classifier(biased_model(surprise_index), tmp_path / "permuted", SPEC, label_names=PERMUTED)
    hub_cache(offline_cache, "org/fer-permuted", model_dir)
    model, info = load_classifier("hf-hub:org/fer-permuted")
    assert info.label_names == PERMUTED
    assert info.model_id == "hf-hub:org/fer-permuted"

    recognizer = EmotionRecognizer(model, info, detector=None)  # type: ignore[arg-type]
    probabilities = recognizer.classify(astronaut, [FACE_BOX])[0]
    assert EMOTIONS[int(probabilities.argmax())] == "surprise"  # mapped to the right name, not to index 1's
    assert float(probabilities[EMOTIONS.index("surprise")]) > 0.99
    assert recognizer.classify_face(astronaut[62:172, 181:268])["surprise"] > 0.99


def test_label_aliases_are_canonicalised(tmp_path: Path, random_model_dir: Path) -> None:
    aliases = ["anger", "disgusted", "fearful", "happiness", "sadness", "surprised", "Neutral"]
    path = edited_copy(random_model_dir, tmp_path / "m", label_names=aliases)
    assert load_classifier(f"local-dir:{path}")[1].label_names == EMOTIONS


def test_hf_hub_id_not_in_cache_fails_fast(offline_cache: Path) -> None:
    start = time.monotonic()
    with pytest.raises(ModelError) as info:
        load_classifier("hf-hub:nobody/no-such-model")
    assert time.monotonic() - start < FAIL_FAST_S
    message = str(info.value)
    assert "hf-hub:nobody/no-such-model" in message and "local-dir:" in message and "\n" not in message


def test_unreachable_hub_fails_fast(offline_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online mode, but the endpoint does not serve: one short probe, then the cache, then one clear error.

    10.255.255.1 is unroutable (the probe times out), or, behind an intercepting proxy, accepts the TCP connection
    and then fails TLS: huggingface_hub alone would retry for ~20 s in both cases.
    """
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "https://10.255.255.1")
    start = time.monotonic()
    with pytest.raises(ModelError, match="unreachable"):
        load_classifier("hf-hub:org/fer")
    assert time.monotonic() - start < FAIL_FAST_S


def test_hf_hub_cache_with_pickle_weights_only_is_refused(
    tmp_path: Path, offline_cache: Path, random_model_dir: Path
) -> None:
    pickle_dir = tmp_path / "pickle"
    pickle_dir.mkdir()
    shutil.copy(random_model_dir / CONFIG_NAME, pickle_dir)
    torch.save(new_classifier().state_dict(), pickle_dir / "pytorch_model.bin")
    hub_cache(offline_cache, "org/pickled", pickle_dir, files=(CONFIG_NAME, "pytorch_model.bin"))
    with pytest.raises(ModelError, match=r"hf-hub:org/pickled.*model\.safetensors"):
        load_classifier("hf-hub:org/pickled")


def test_local_pickle_weights_only_are_refused(tmp_path: Path, random_model_dir: Path) -> None:
    path = tmp_path / "pickle"
    path.mkdir()
    shutil.copy(random_model_dir / CONFIG_NAME, path)
    torch.save(new_classifier().state_dict(), path / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"no model\.safetensors.*pickle.*refused"):
        load_classifier(f"local-dir:{path}")


def test_three_channel_model_is_refused(tmp_path: Path, random_model_dir: Path) -> None:
    config = json.loads((random_model_dir / CONFIG_NAME).read_text())
    path = edited_copy(
        random_model_dir,
        tmp_path / "rgb",
        model_args={**config["model_args"], "in_chans": 3},
        pretrained_cfg={**config["pretrained_cfg"], "input_size": [3, 75, 75]},
    )
    with pytest.raises(ModelError, match=r"3-channel input.*1-channel grayscale"):
        load_classifier(f"local-dir:{path}")


def test_five_classes_are_refused(tmp_path: Path, random_model_dir: Path) -> None:
    five = edited_copy(random_model_dir, tmp_path / "five", num_classes=5, label_names=list(EMOTIONS[:5]))
    with pytest.raises(ModelError, match="not the 7 emotions"):
        load_classifier(f"local-dir:{five}")
    seven_names = edited_copy(random_model_dir, tmp_path / "five-b", num_classes=5)
    with pytest.raises(ModelError, match="5 classes, 7 are needed"):
        load_classifier(f"local-dir:{seven_names}")


def test_missing_label_names_are_refused(tmp_path: Path, random_model_dir: Path) -> None:
    path = edited_copy(random_model_dir, tmp_path / "nolabels", label_names=None)
    with pytest.raises(ModelError, match="no label_names"):
        load_classifier(f"local-dir:{path}")


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path, random_model_dir: Path) -> None:
    path = tmp_path / "mismatch"
    shutil.copytree(random_model_dir, path)
    state = {k: v for k, v in new_classifier().state_dict().items() if not k.startswith("fc.")}
    save_file({**state, "fc.weight": torch.zeros(5, 512), "fc.bias": torch.zeros(5)}, path / WEIGHTS_NAME)
    with pytest.raises(ModelError, match="timm could not build it"):
        load_classifier(f"local-dir:{path}")


def test_unreadable_config_is_refused(tmp_path: Path, random_model_dir: Path) -> None:
    path = tmp_path / "broken"
    shutil.copytree(random_model_dir, path)
    (path / CONFIG_NAME).write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        load_classifier(f"local-dir:{path}")


@pytest.mark.parametrize("model_id", ["resnet18", "timm/resnet18", "hf_hub:org/name", "hf-hub:", "local-dir:"])
def test_bad_id_prefix_is_refused(model_id: str) -> None:
    with pytest.raises(ModelError, match="must look like hf-hub:org/name or local-dir:PATH"):
        load_classifier(model_id)


def test_missing_local_dir_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nowhere.*config\.json does not exist"):
        load_classifier(f"local-dir:{tmp_path / 'nowhere'}")


def test_missing_bundled_model_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fer.model.DEFAULT_MODEL_DIR", tmp_path / "fer-resnet18")
    with pytest.raises(ModelError, match=r"bundled model is missing.*--model hf-hub:org/name.*FER_MODEL"):
        load_classifier(f"local-dir:{tmp_path / 'fer-resnet18'}")


def test_fer_model_environment_variable(monkeypatch: pytest.MonkeyPatch, random_model_id: str) -> None:
    monkeypatch.setenv("FER_MODEL", random_model_id)
    assert default_model_id() == random_model_id
    assert load_classifier()[1].model_id == random_model_id
    monkeypatch.delenv("FER_MODEL")
    assert default_model_id().startswith("local-dir:") and default_model_id().endswith("fer-resnet18")
