"""`fer bench` / `python -m fer.bench` with tiny settings: the latency table and the face counts (no timing asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fer.cli import bench
from fer.cli.main import main as fer_main
from fer.labels import EMOTIONS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_prints_the_tables(random_model_id: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # an empty --media folder: the frames are made from the astronaut photo, as on a fresh clone
    args = ["--frames", "2", "--warmup", "1", "--threads", "1", "--model", random_model_id, "--media", str(tmp_path)]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "skimage astronaut" in out and "median ms" in out and "p90 ms" in out and "vs baseline" in out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| 1 face") or "| 6 faces" in line]
    rows = [[cell.strip() for cell in row] for row in rows]
    assert [(row[0], row[1].split(":")[0]) for row in rows] == [
        ("1 face", "baseline"), ("1 face", "fast"), ("1 face", "fast"),
        ("6 faces", "baseline"), ("6 faces", "fast"), ("6 faces", "fast"),
    ]  # fmt: skip
    assert [row[-2] for row in rows] == ["1", "1", "1", "6", "6", "6"]  # every path finds every face
    assert all(float(row[5]) > 0 and float(row[6]) > 0 and row[7].endswith("x") for row in rows)
    labels = [row[-1].split(", ") for row in rows]  # the quality figure of the same frames: each face's label
    assert [len(faces) for faces in labels] == [1, 1, 1, 6, 6, 6]
    assert all(label.split()[0] in EMOTIONS and 0 < int(label.split()[1]) <= 100 for faces in labels for label in faces)
    assert "| astronaut x6 | 6 | 6 |" in out


def test_tracking_without_clips_exits_1(random_model_id: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert fer_main(["bench", "--tracking", "--model", random_model_id, "--media", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "not found" in out and "| clip | stride | path |" in out


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert bench.main(["--frames", "0"]) == 2
    assert capsys.readouterr().err == "fer: --frames, --detect-every and --classify-every must be >= 1, --warmup >= 0\n"
    assert bench.main(["--classify-every", "0"]) == 2
    assert fer_main(["bench", "--warmup", "-1"]) == 2
    assert "--frames" in capsys.readouterr().err


def test_python_m_fer_bench_is_fer_bench() -> None:
    """The shim has the subcommand's options and its one-line errors."""
    command = [sys.executable, "-m", "fer.bench", "--detect-every", "0", "--tracking"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("fer: --frames"), result.stderr
