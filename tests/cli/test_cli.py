"""`python -m fer predict IMAGE... [--model ID] [--json] [--annotate OUT_DIR]`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from make_inputs import FACE_BOX, blank, bomb_png
from PIL import Image

from fer.cli.common import EXIT_INPUT_FAILED, EXIT_MODEL_FAILED
from fer.cli.main import main
from fer.draw import draw_faces
from fer.identity import identify
from fer.labels import EMOTIONS
from fer.recognizer import EmotionRecognizer

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m fer ...` in a fresh interpreter, offline."""
    return subprocess.run(
        [sys.executable, "-m", "fer", *args],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    paths = {"astronaut": folder / "astronaut.png", "blank": folder / "blank.png", "text": folder / "notes.txt"}
    Image.fromarray(astronaut).save(paths["astronaut"])
    Image.fromarray(blank()).save(paths["blank"])
    paths["text"].write_text("not an image\n")
    return paths


def check_payload(payload: dict, model_id: str, faces: int, size: int = 512) -> None:
    """Exactly the /analyze JSON: the same keys, the model's public id (never a server path)."""
    assert set(payload) == {"faces", "image_size", "model"}
    assert payload["model"] == identify(model_id).id and payload["image_size"] == [size, size]
    assert len(payload["faces"]) == faces
    for face in payload["faces"]:
        assert set(face) == {"box", "score", "emotion", "probabilities"}
        assert list(face["probabilities"]) == list(EMOTIONS)
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_json_in_a_subprocess(images: dict[str, Path], random_model_id: str) -> None:
    result = run_cli("predict", str(images["astronaut"]), "--model", random_model_id, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    check_payload(payload, random_model_id, faces=1)
    np.testing.assert_allclose(payload["faces"][0]["box"], FACE_BOX, atol=6)


@pytest.mark.slow
def test_bad_file_is_one_line_and_the_rest_still_runs(images: dict[str, Path], random_model_id: str) -> None:
    missing = images["astronaut"].parent / "missing.jpg"
    bomb = images["astronaut"].parent / "bomb.png"  # 100 MP: above Pillow's warning limit, below its error limit
    bomb.write_bytes(bomb_png(side=10_000))
    bad = (images["text"], images["astronaut"], missing, bomb)
    result = run_cli("predict", *map(str, bad), "--model", random_model_id)
    assert result.returncode == EXIT_INPUT_FAILED
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3, result.stderr
    # each input named as it was given, and no exception class names
    assert f"'{images['text']}' is not an image" in errors[0] and f"'{missing}' does not exist" in errors[1]
    assert f"'{bomb}' is 10000x10000 pixels; the limit is 40 megapixels" in errors[2]
    assert not re.search(r"\w+Error\b", result.stderr), result.stderr
    assert "astronaut.png (512x512): 1 face" in result.stdout


@pytest.mark.slow
def test_unknown_hub_model_fails_in_one_line(images: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(
        "predict", str(images["astronaut"]), "--model", "hf-hub:nobody/nothing", env={"HF_HUB_CACHE": str(tmp_path)}
    )
    assert result.returncode == EXIT_MODEL_FAILED
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "hf-hub:nobody/nothing" in line and "--model local-dir:PATH" in line


def test_human_readable_output(images: dict[str, Path], random_model_id: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", str(images["astronaut"]), str(images["blank"]), "--model", random_model_id]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{images['astronaut']} (512x512): 1 face"
    assert out[1].startswith("  #1 ") and out[1].split()[1] in EMOTIONS and "box=(181, 62, 268, 172)" in out[1]
    assert out[2] == f"{images['blank']} (256x256): no faces"


def test_several_images_give_the_json_of_each_by_path(
    images: dict[str, Path], random_model_id: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["predict", str(images["astronaut"]), str(images["blank"]), "--model", random_model_id, "--json"]
    assert main(argv) == 0
    payloads = json.loads(capsys.readouterr().out)
    assert list(payloads) == [str(images["astronaut"]), str(images["blank"])]
    check_payload(payloads[str(images["astronaut"])], random_model_id, faces=1)
    check_payload(payloads[str(images["blank"])], random_model_id, faces=0, size=256)


def test_failed_image_is_left_out_of_the_json(
    images: dict[str, Path], random_model_id: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["predict", str(images["text"]), str(images["astronaut"]), "--model", random_model_id, "--json"]
    assert main(argv) == EXIT_INPUT_FAILED
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == [str(images["astronaut"])]
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"fer: '{images['text']}'")


def test_annotate_writes_an_image_per_input(
    images: dict[str, Path], random_model_id: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out_dir = tmp_path / "out" / "nested"
    argv = ["predict", str(images["astronaut"]), "--model", random_model_id, "--json", "--annotate", str(out_dir)]
    assert main(argv) == 0
    json.loads(capsys.readouterr().out)  # stdout stays pure JSON
    annotated = np.asarray(Image.open(out_dir / "astronaut.png"))
    original = np.asarray(Image.open(images["astronaut"]))
    assert annotated.shape == original.shape and not np.array_equal(annotated, original)
    faces = EmotionRecognizer.from_pretrained(random_model_id).predict_rgb(original)
    numbered = draw_faces(original, faces, ids=range(1, len(faces) + 1))  # "#1 happy 62%", as the printed lines
    np.testing.assert_array_equal(annotated, numbered)


def test_model_error_is_one_line(images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", str(images["astronaut"]), "--model", f"local-dir:{tmp_path}"]) == EXIT_MODEL_FAILED
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "config.json does not exist" in captured.err


def test_hub_model_from_the_cache(
    images: dict[str, Path],
    random_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from hub_cache import hub_cache
    from huggingface_hub import constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub_cache(tmp_path, "org/fer", random_model_dir)))
    assert main(["predict", str(images["astronaut"]), "--model", "hf-hub:org/fer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "hf-hub:org/fer"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    for argv in ([], ["predict"], ["unknown"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_video_subcommand_is_registered() -> None:
    from fer.cli.main import build_parser
    from fer.cli.video import run_video_command

    args = build_parser().parse_args(["video", "clip.mp4", "--csv", "out.csv"])
    assert args.func is run_video_command and args.input == Path("clip.mp4")


def test_every_option_has_help_text() -> None:
    """Every command line (fer, fer-train, fer-live, python -m fer.bench): each option and argument says what it is."""
    import argparse

    from fer.cli import app, bench, train
    from fer.cli.main import build_parser

    missing = []
    for parser in (build_parser(), train.build_parser(), app.build_parser(), bench.build_parser()):
        commands = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for command in list(commands[0].values()) if commands else [parser]:
            silent = [a for a in command._actions if not a.help and not isinstance(a, argparse._HelpAction)]
            missing += [f"{command.prog} {a.option_strings or a.dest}" for a in silent]
    assert not missing
