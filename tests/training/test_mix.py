"""Training on every face set: the crop cache, cross-set leaks, the mix, batch augmentation, calibration, per-set
evaluation. Real faces come from scikit-image's astronaut; nothing here needs ../shared."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer.cli.train_commands import audit_text
from fer.detect import FaceDetector
from fer.labels import EMOTIONS
from fer.model import IMAGE_SIZE, new_classifier
from fer.preprocess import face_crop
from fer.recognizer import EmotionRecognizer
from fer.training import checkpoint
from fer.training.augment import AugmentConfig, augment_batch, mixup
from fer.training.average import average_runs
from fer.training.calibration import expected_calibration_error, fit_temperature, fold_temperature
from fer.training.config import TrainConfig
from fer.training.crops import load_cached_split, prepare_dataset
from fer.training.data import class_prior
from fer.training.leaks import CrossSetLeaks, cross_set_leaks
from fer.training.metrics import report
from fer.training.mix import MixEntry, load_mix
from fer.training.suite import CROPS, END_TO_END, evaluate_set
from fer.training.trainer import BEST, Trainer, epoch_file
from tests.conftest import TEST_SPEC

GRAY = np.full((160, 160, 3), 128, dtype=np.uint8)


def _save(path: Path, rgb: np.ndarray, quality: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, **({"quality": quality} if quality else {}))
    return path


@pytest.fixture(scope="module")
def face_set(astronaut: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train: the astronaut, mirrored, a flat gray image (no face), a corrupt file; test: a tight face crop."""
    root = tmp_path_factory.mktemp("faces")
    _save(root / "train/happy/astronaut.png", astronaut)
    _save(root / "train/happy/mirrored.png", np.ascontiguousarray(astronaut[:, ::-1]))
    _save(root / "train/neutral/gray.png", GRAY)
    (root / "train/sad").mkdir(parents=True)
    (root / "train/sad/corrupt.png").write_bytes(b"not an image")
    _save(root / "test/happy/tight.png", astronaut[50:190, 165:285])
    return root


@pytest.fixture(scope="module")
def face_cache(face_set: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    cache = tmp_path_factory.mktemp("cache") / "faces"
    return cache, prepare_dataset(face_set, cache, IMAGE_SIZE, workers=1)


def test_prepare_crops_each_image_as_serving_does(face_set: Path, face_cache, astronaut: np.ndarray) -> None:
    cache, summary = face_cache
    assert summary.counts["train"] == {"face": 2, "no_face": 1, "unreadable": 1}
    assert summary.counts["test"] == {"face": 1}  # a tight crop: found by the padded retry
    with open(cache / "manifest.csv", newline="") as handle:
        rows = {row["source"]: row for row in csv.DictReader(handle)}
    assert rows["train/sad/corrupt.png"]["status"] == "unreadable"
    assert rows["train/neutral/gray.png"]["status"] == "no_face"
    face = FaceDetector().detect(astronaut)[0]
    assert abs(float(rows["train/happy/astronaut.png"]["x1"]) - face.box[0]) < 0.1
    train = load_cached_split(cache, "train", face_set, "detector")
    index = [p.name for p in train.paths].index("astronaut.png")
    served = face_crop(astronaut, face.box, IMAGE_SIZE, TEST_SPEC.margin)  # what predict() feeds the model
    assert torch.equal(train.crops[index], torch.from_numpy(served))
    gray = [p.name for p in train.paths].index("gray.png")  # no face: the native crop stands in
    assert torch.equal(train.crops[gray], load_cached_split(cache, "train", face_set, "native").crops[gray])
    both = load_cached_split(cache, "train", face_set, "both")
    assert len(both) == 2 * len(train) == 6 and both.labels.tolist() == train.labels.tolist() * 2
    with pytest.raises(ValueError, match="framing"):
        load_cached_split(cache, "train", face_set, "tight")


def test_a_training_copy_of_any_sets_test_image_is_found(
    face_set: Path, face_cache, astronaut: np.ndarray, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    tight = astronaut[50:190, 165:285]
    copy = np.asarray(Image.fromarray(tight).resize((96, 112)))  # another set's resized, re-encoded copy
    _save(other / "train/happy/copy.jpg", copy, quality=80)
    _save(other / "train/neutral/gray.jpg", GRAY)
    prepare_dataset(other, tmp_path / "cache/other", IMAGE_SIZE, workers=1)
    result = cross_set_leaks({"faces": face_cache[0], "other": tmp_path / "cache/other"})
    assert result.excluded["other"] == ["train/happy/copy.jpg"]
    assert result.test_leaked == {"faces": ["test/happy/tight.png"]}
    assert "faces/test: 1 images" in result.summary()
    result.save(tmp_path / "leaks.json")
    card_audit = audit_text(
        None, CrossSetLeaks.load(tmp_path / "leaks.json")
    )  # what a mix's model card says under "Data audit"
    assert "faces/test: 1 images" in card_audit and "other/train: 1" in card_audit and "in all: 2" in card_audit


def _fake_cache(cache: Path, split: str, sources: list[str], labels: list[int]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(sources))
    crops = rng.integers(0, 255, (len(sources), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    np.savez(cache / f"{split}.npz", detector=crops, native=255 - crops, labels=np.array(labels), sources=sources)


@pytest.fixture
def mix_dirs(tmp_path: Path) -> Path:
    """Cached sets: `twposed` (performer-numbered files, no val) and `webset` (with a val split)."""
    names = [f"{p:02d}{'abcdefg'[k]}.jpg" for p in range(1, 16) for k in range(7)]
    _fake_cache(tmp_path / "twposed", "train", [f"train/x/{n}" for n in names], [i % 7 for i in range(len(names))])
    _fake_cache(tmp_path / "webset", "train", [f"train/x/{i}.png" for i in range(40)], [i % 6 for i in range(40)])
    _fake_cache(tmp_path / "webset", "val", [f"val/x/{i}.png" for i in range(12)], [i % 6 for i in range(12)])
    return tmp_path


def test_mix_weights_holds_out_performers_and_keeps_leaks_out(mix_dirs: Path) -> None:
    entries = [MixEntry.parse("twposed=0.25"), MixEntry.parse("webset:both=0.75")]
    excluded = {"webset": ["train/x/0.png", "train/x/1.png"]}
    splits = load_mix(entries, mix_dirs, mix_dirs / "data", excluded)
    val_posed = splits.val_sets["twposed"]
    assert {p.name[:2] for p in val_posed.paths} == {"13", "14", "15"}  # subject-disjoint validation
    assert len(val_posed) == 21 and len(splits.val_sets["webset"]) == 24  # webset's own val, both framings
    train_names = {p.name for p in splits.train.paths}
    assert "0.png" not in train_names and "1.png" not in train_names and "2.png" in train_names
    assert not any(n[:2] in {"13", "14", "15"} for n in train_names if n.endswith(".jpg"))
    posed = torch.tensor([p.suffix == ".jpg" for p in splits.train.paths])
    assert abs(float(splits.train_weights[posed].sum()) - 0.25) < 1e-6
    assert abs(float(splits.train_weights[~posed].sum()) - 0.75) < 1e-6
    prior = class_prior(splits)  # the classes as sampled, not as counted
    assert abs(float(prior.sum()) - 1) < 1e-6 and prior[EMOTIONS.index("neutral")] < 0.25 / 6


def test_mix_entries_are_checked(mix_dirs: Path) -> None:
    assert MixEntry.parse("rafdb:native=1.5") == MixEntry("rafdb", "native", 1.5)
    for bad in ("rafdb", "rafdb=x", "rafdb:tight=1"):
        with pytest.raises(ValueError, match="--mix entry"):
            MixEntry.parse(bad)
    with pytest.raises(FileNotFoundError, match=r"train\.py prepare"):
        load_mix([MixEntry.parse("missing=1")], mix_dirs, mix_dirs / "data")


def test_trainer_samples_by_weight_and_validates_each_set(mix_dirs: Path, tmp_path: Path) -> None:
    splits = load_mix([MixEntry.parse("twposed=0.9"), MixEntry.parse("webset=0.1")], mix_dirs, mix_dirs / "data")
    config = TrainConfig(epochs=1, batch_size=16, epoch_size=160, warmup_epochs=0, amp=False, ema_decay=0.0)
    trainer = Trainer(splits, config, tmp_path / "run")
    drawn = torch.cat([targets for _, targets in trainer.batches(0)])
    assert len(drawn) == 160 and torch.equal(drawn, torch.cat([t for _, t in trainer.batches(0)]))  # replayable
    posed = torch.tensor([p.suffix == ".jpg" for p in splits.train.paths])
    assert abs(float(trainer.sample_weights()[posed].sum()) - 0.9) < 1e-6
    trainer.fit()
    figures = trainer.history.epochs[0]
    assert set(figures["val_sets"]) == {"twposed", "webset"}
    assert "neutral" in figures["val_sets"]["twposed"]["recall"]


def test_kept_epoch_weights_are_written_only_when_asked_and_average_by_epoch(mix_dirs: Path, tmp_path: Path) -> None:
    splits = load_mix([MixEntry.parse("twposed=1")], mix_dirs, mix_dirs / "data")
    settings = {"epochs": 2, "batch_size": 16, "epoch_size": 32, "amp": False}
    Trainer(splits, TrainConfig(**settings), tmp_path / "plain").fit()
    assert not list((tmp_path / "plain").glob("epoch-*.ckpt"))
    trainer = Trainer(splits, TrainConfig(**settings, keep_epochs=True), tmp_path / "kept")
    trainer.fit()
    kept = [checkpoint.load(tmp_path / "kept" / epoch_file(n)) for n in (1, 2)]
    assert [k["epoch"] for k in kept] == [1, 2]
    assert not torch.equal(kept[0]["model"]["fc.weight"], kept[1]["model"]["fc.weight"])
    best = checkpoint.load(tmp_path / "kept" / BEST)
    assert torch.equal(best["model"]["fc.weight"], kept[trainer.history.best_epoch - 1]["model"]["fc.weight"])
    sources = [tmp_path / "kept" / epoch_file(n) for n in (1, 2)]
    average_runs(sources, tmp_path / "swa")
    averaged = checkpoint.load(tmp_path / "swa" / BEST)["model"]["fc.weight"]
    assert torch.allclose(averaged, (kept[0]["model"]["fc.weight"] + kept[1]["model"]["fc.weight"]) / 2)
    assert checkpoint.load(tmp_path / "swa" / "last.ckpt")["config"]["init"] == "the weight average of kept epochs 1-2"
    shutil.copytree(tmp_path / "kept", tmp_path / "later")  # a run that went on from "kept"
    average_runs([*sources, tmp_path / "later" / epoch_file(2)], tmp_path / "two_runs")
    init = checkpoint.load(tmp_path / "two_runs" / "last.ckpt")["config"]["init"]
    assert init == "the weight average of kept epochs 1-2, later epochs 2"


def test_batch_augmentation_is_seeded_and_keeps_the_input_shape() -> None:
    crops = torch.randint(0, 255, (8, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    config = AugmentConfig()
    first = augment_batch(crops, TEST_SPEC, config, torch.Generator().manual_seed(1))
    again = augment_batch(crops, TEST_SPEC, config, torch.Generator().manual_seed(1))
    other = augment_batch(crops, TEST_SPEC, config, torch.Generator().manual_seed(2))
    assert first.shape == (8, 1, IMAGE_SIZE, IMAGE_SIZE) and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    plain = AugmentConfig(scale_min=1.0, rotation=0.0, brightness=0.0, contrast=0.0, low_res=0.0, erasing=0.0)
    flat = torch.full((4, IMAGE_SIZE, IMAGE_SIZE), 200, dtype=torch.uint8)  # flips and crops of a flat image
    out = augment_batch(flat, TEST_SPEC, plain, torch.Generator().manual_seed(0))
    assert torch.allclose(out, torch.full_like(out, (200 / 255 - TEST_SPEC.mean) / TEST_SPEC.std), atol=1e-4)
    erased = augment_batch(flat, TEST_SPEC, AugmentConfig(**{**plain.__dict__, "erasing": 1.0}), torch.Generator())
    assert ((erased == 0).flatten(1).sum(1) > 0).all()  # every face got a rectangle at the normalised mean
    blurred = augment_batch(crops, TEST_SPEC, AugmentConfig(**{**plain.__dict__, "low_res": 1.0}), torch.Generator())
    assert blurred.std() < augment_batch(crops, TEST_SPEC, plain, torch.Generator()).std()  # fewer fine details


def test_mixup_blends_each_face_with_the_reverse_batch_by_one_weight() -> None:
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    targets = torch.eye(len(EMOTIONS))[[0, 1, 2, 3]]
    mixed, soft = mixup(images, targets, 0.4, np.random.default_rng(0))
    keep = float(soft[0, 0])
    assert 0.5 <= keep < 1.0 and torch.allclose(soft[0, 3], torch.tensor(1 - keep))  # face 0 with face 3
    assert torch.allclose(mixed[0], torch.full((1, 2, 2), 3 * (1 - keep)))
    assert torch.allclose(soft.sum(1), torch.ones(4)) and torch.equal(soft.argmax(1), targets.argmax(1))


def test_trainer_mixes_up_batches_only_when_asked(mix_dirs: Path, tmp_path: Path) -> None:
    splits = load_mix([MixEntry.parse("twposed=1")], mix_dirs, mix_dirs / "data")
    settings = {"epochs": 1, "batch_size": 16, "epoch_size": 32, "amp": False}
    plain = Trainer(splits, TrainConfig(**settings), tmp_path / "plain")
    mixed = Trainer(splits, TrainConfig(**settings, mixup=0.4), tmp_path / "mixed")
    plain_targets = torch.cat([t for _, t in plain.batches(0)])
    mixed_targets = torch.cat([t for _, t in mixed.batches(0)])
    assert plain_targets.max(1).values.eq(1).all()  # one-hot posed labels
    assert mixed_targets.max(1).values.lt(1).any() and torch.equal(
        mixed_targets, torch.cat([t for _, t in mixed.batches(0)])
    )  # blended, and replayed the same on resume


def test_temperature_fixes_an_overconfident_model() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, len(EMOTIONS), (3000,), generator=generator)
    calibrated = torch.randn(3000, len(EMOTIONS), generator=generator) + 1.5 * torch.nn.functional.one_hot(labels, 7)
    true_probs = calibrated.softmax(1)
    sampled = torch.multinomial(true_probs, 1, generator=generator).flatten()  # labels drawn from these probabilities
    temperature = fit_temperature(3 * calibrated, sampled)
    assert 2.6 < temperature < 3.4
    before = expected_calibration_error((3 * calibrated).softmax(1), sampled)
    after = expected_calibration_error((3 * calibrated / temperature).softmax(1), sampled)
    assert after < 0.03 < before
    model = new_classifier().eval()
    x = torch.randn(4, 1, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        logits = model(x)
        fold_temperature(model, 2.0)
        assert torch.allclose(model(x), logits / 2.0, atol=1e-5)


def test_a_missed_face_counts_as_wrong() -> None:
    result = report(torch.tensor([3, 3, 6, 6]), torch.tensor([3, -1, 6, 3]))
    assert result.n == 4 and result.accuracy == 0.5 and result.no_face == 1
    assert result.recall["happy"] == 0.5 and result.support["happy"] == 2
    assert sum(map(sum, result.confusion)) == 3


def test_each_test_set_on_its_own(face_set: Path, random_model_id: str, tmp_path: Path) -> None:
    root = tmp_path / "posed"
    _save(root / "test/happy/astronaut.png", np.asarray(Image.open(face_set / "train/happy/astronaut.png")))
    _save(root / "test/neutral/gray.png", GRAY)
    recognizer = EmotionRecognizer.from_pretrained(random_model_id)
    end_to_end = evaluate_set(recognizer, root, END_TO_END, temperature=2.0, leaked=["test/neutral/gray.png"])
    assert end_to_end.report.n == 2 and end_to_end.report.no_face == 1  # the gray image has no face
    assert end_to_end.clean.n == 1 and end_to_end.clean_removed == 1
    assert 0 <= end_to_end.ece <= 1 and end_to_end.ece != end_to_end.ece_uncalibrated
    crops = evaluate_set(recognizer, root, CROPS)
    assert crops.report.no_face == 0 and crops.clean is None
