"""What a visitor reads: the same numbers in table and labels, labels clear of other faces, examples, README."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fer.cli.main import build_parser
from fer.draw import draw_faces, label_text, place_labels
from fer.faces import FacePrediction
from fer.labels import EMOTIONS
from fer.ui.blocks import faces_table
from fer.ui.examples import example_files

README = Path(__file__).resolve().parents[2] / "README.md"


def prediction(box: tuple[float, float, float, float], emotion: str = "happy", p: float = 0.758) -> FacePrediction:
    rest = (1 - p) / (len(EMOTIONS) - 1)
    probabilities = {name: p if name == emotion else rest for name in EMOTIONS}
    return FacePrediction(box, 0.99, None, emotion, probabilities)


def overlap(a: tuple, b: tuple) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def test_table_and_label_show_the_same_percentage() -> None:
    face = prediction((10, 20, 110, 140))
    ((index, emotion, confidence, box),) = faces_table([face])
    assert (index, emotion, confidence, box) == (1, "happy", "76%", "10, 20, 110, 140")
    assert label_text(face, 1) == f"#1 {emotion} {confidence}"


def test_faces_are_numbered_as_in_the_table_unless_ids_are_given() -> None:
    """`fer predict --annotate` and the Upload tab draw '#1 ...', '#2 ...' in the order of the faces."""
    image = np.zeros((240, 480, 3), np.uint8)
    faces = [prediction((40, 60, 160, 200), "happy"), prediction((280, 60, 400, 200), "sad", 0.6)]
    drawn = draw_faces(image, faces)
    np.testing.assert_array_equal(drawn, draw_faces(image, faces, ids=[1, 2]))
    assert not np.array_equal(drawn, draw_faces(image, faces, ids=[2, 1]))


@pytest.mark.parametrize(
    "boxes",
    [
        # a face right above another: the lower one's label cannot go above its box
        [(100, 130, 200, 250), (100, 20, 200, 125)],
        # a tight crowd: 4 x 3 faces 60 px wide, 10 px apart
        [(20 + 70 * c, 40 + 90 * r, 80 + 70 * c, 120 + 90 * r) for r in range(3) for c in range(4)],
        # a small face beside a big one, its label wider than its box
        [(150, 40, 400, 330), (90, 60, 140, 110)],
    ],
)
def test_labels_cover_no_other_face(boxes: list[tuple]) -> None:
    """Full labels (110 px) where they fit, the face's number alone (30 px) where they cannot."""
    sizes = [[(110, 20), (30, 20)]] * len(boxes)
    placed = place_labels(boxes, sizes, (480, 360))
    rects = [rect for rect, _ in placed]
    for index, (label, choice) in enumerate(placed):
        assert (label[2] - label[0], label[3] - label[1]) == sizes[index][choice]
        assert 0 <= label[0] and label[2] <= 480 and 0 <= label[1] and label[3] <= 360
        others = [box for other, box in enumerate(boxes) if other != index] + rects[:index]
        assert all(overlap(label, other) == 0 for other in others), (index, label)
    assert placed[0][1] == 0  # the first face of each layout keeps its full label


def test_examples_are_made_here_for_every_tab() -> None:
    paths = example_files()
    assert set(paths) == {"astronaut", "face", "group", "clip"}
    with Image.open(paths["group"]) as group:
        assert group.size == (960, 540)
    with av.open(paths["clip"]) as clip:
        kinds = {stream.type: stream.codec_context.name for stream in clip.streams}
    assert kinds == {"video": "h264", "audio": "aac"}


def test_readme_cli_section_shows_every_subcommand() -> None:
    section = re.search(r"^#+ CLI\n(.*?)^#+ ", README.read_text(), re.DOTALL | re.MULTILINE).group(1)
    commands = build_parser()._subparsers._group_actions[0].choices
    for command in commands:
        assert f"python -m fer {command} " in section, command
    assert "the /analyze JSON" in section
