"""The README and docs/ against the bundled model: its id, its test figures, links that lead somewhere, the picture.

When a new model ships, these fail until the README and docs/ say what it is; a failure prints the expected text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fer.identity import identify
from fer.model import DEFAULT_MODEL, DEFAULT_MODEL_DIR

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MODEL_NOTES = ROOT / "docs" / "model.md"
SCREENSHOT = ROOT / "docs" / "images" / "app.png"
MAX_README_LINES = 200
MAX_SCREENSHOT_BYTES = 300 * 1024
# How the README and docs name each test set of metrics.json (a row's "test set" cell starts with it)
SET_NAMES = {"ferplus": "FER+ test", "rafdb": "RAF-DB test", "twposed": "posed faces"}
MODEL_ID = re.compile(r"fer-resnet18@([0-9a-f]{8})\b")
VERSION = re.compile(r"\bversion ([0-9a-f]{8})\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def metrics() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())


def table_rows(text: str) -> list[dict[str, str]]:
    """Every row of every markdown table in `text`, as {header: cell} (bold marks taken off)."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            rows.append(dict(zip(header, cells)))
    return rows


def expected_figures(test_set: dict) -> dict[str, str]:
    """A test set's cells as the README and docs/model.md write them."""
    report = test_set["report"]
    return {
        "how": test_set["how"],
        "n": f"{report['n']:,}",
        "accuracy": f"{report['accuracy']:.2%}",
        "macro recall": f"{report['macro_recall']:.2%}",
        "ECE (before calibration)": f"{test_set['ece']:.3f} ({test_set['ece_uncalibrated']:.3f})",
    }


def figure_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of `path` that give a test set's figures, by (set name in metrics.json, how)."""
    found = {}
    for row in table_rows(path.read_text()):
        for name, label in SET_NAMES.items():
            if row.get("test set", "").startswith(label) and "how" in row:
                found[(name, row["how"])] = row
    return found


@pytest.mark.parametrize("path", [README, MODEL_NOTES], ids=lambda p: p.name)
def test_test_figures_are_the_bundled_models(path: Path, metrics: dict) -> None:
    rows = figure_rows(path)
    assert set(rows) == {(s["name"], s["how"]) for s in metrics["sets"]}, f"{path.name}: one row per test set"
    for test_set in metrics["sets"]:
        row, expected = rows[(test_set["name"], test_set["how"])], expected_figures(test_set)
        for column in row.keys() & expected.keys():
            assert row[column] == expected[column], f"{path.name}, {test_set['name']} {test_set['how']}: {expected}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_model_ids_and_versions_are_the_bundled_models(path: Path) -> None:
    version = identify(DEFAULT_MODEL).id.rpartition("@")[2]
    text = path.read_text()
    stale = {v for v in MODEL_ID.findall(text) + VERSION.findall(text) if v != version}
    assert not stale, f"{path.name} names version(s) {sorted(stale)}; the bundled model is fer-resnet18@{version}"


def test_readme_shows_the_bundled_models_id() -> None:
    assert identify(DEFAULT_MODEL).id in README.read_text()


def test_model_notes_are_about_the_shipped_run(metrics: dict) -> None:
    first_line = MODEL_NOTES.read_text().splitlines()[0]
    assert f"`{metrics['run']}`" in first_line, f"docs/model.md is about {first_line!r}; {metrics['run']} ships"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_lead_to_a_file_and_heading(path: Path) -> None:
    for target in LINK.findall(path.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target} does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)
            assert anchor in {slug(h) for h in headings}, f"{path.name}: no heading for {target}"


def test_readme_is_short_and_every_doc_is_one_click_away() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert (
        text.split("---\n", 2)[2].lstrip().startswith("# Facial emotion recognition")
    )  # after the Space's front matter
    for doc in DOCS:
        assert f"](docs/{doc.name}" in text, f"the README does not link docs/{doc.name}"


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.read_text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert first_block == [
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python app.py",
        "make test",
    ]


def test_screenshot_is_in_the_readme_and_small() -> None:
    assert SCREENSHOT.stat().st_size <= MAX_SCREENSHOT_BYTES
    assert "](docs/images/app.png)" in README.read_text()
