"""Real browser: what a first visitor sees on each tab (header and card, examples, clean refusals, the Video tab).

Screenshots of every tab are written to the test's tmp folder (paths printed with -s).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import CHROMIUM, CHROMIUM_FLAGS, LiveApp, chromium, serve_app  # noqa: F401

from fer.identity import identify

pytestmark = pytest.mark.slow

RESULT_TIMEOUT_MS = 300_000  # an analysis on a busy 2-core machine
# A card as long and wide as the bundled one: a run table with a long settings column, then pages of text
RUN_HEADERS = ["run", "settings", "epochs (best)", "val acc", "val macro recall", "test acc", "test macro recall"]
RUN_ROW = ["r1", "from scratch, sgd lr 0.1, bs 128, ls 0.05, drop 0.2, soft labels, EMA 0.998, " * 6, "31 (31)"]
RUN_ROW += ["82.77%", "80.05%", "82.35%", "77.48%"]
RUN_TABLE = "\n".join("| " + " | ".join(row) + " |" for row in (RUN_HEADERS, ["---"] * len(RUN_HEADERS), RUN_ROW))
PARAGRAPH = "A paragraph of the card, long enough to wrap onto a second line. " * 8
CARD = "---\nlicense: mit\n---\n# fer-demo\n\n## Results\n\n![confusion matrix](confusion_matrix.png)\n\n"
CARD += f"### Every run\n\n{RUN_TABLE}\n\n" + f"{PARAGRAPH}\n\n" * 40
MIN_COLUMN_PX = 60  # a run table column squeezed to a letter or two measured 47-57 px
MAX_PAGE_PX = 2500  # the page with the card open (the bundled card's made it 5,840 px)
# In the page: the rendered width of each header cell of the card's first table, and the page's height
CARD_LAYOUT = """() => ({
  headers: [...document.querySelector('#model-card table').querySelectorAll('th')].map(
    th => [th.innerText, th.getBoundingClientRect().width]),
  page: document.documentElement.scrollHeight,
})"""
# In the page: the Video tab's annotated clip played (muted) for a moment; its size and whether sound was decoded
PLAYBACK = """async () => {
  const v = document.querySelector('#video-annotated video');
  if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
  v.muted = true; await v.play(); await new Promise(r => setTimeout(r, 1000));
  return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, audioBytes: v.webkitAudioDecodedByteCount,
          error: v.error && v.error.code};
}"""
# In the page: images in a component that failed to load (the browser's broken-image icon)
BROKEN_IMAGES = "(id) => [...document.querySelectorAll(`#${id} img`)].filter(i => i.complete && !i.naturalWidth).length"


@pytest.fixture(scope="module")
def model_dir(random_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random model in a folder named fer-demo, with a model card."""
    folder = tmp_path_factory.mktemp("models") / "fer-demo"
    shutil.copytree(random_model_dir, folder)
    (folder / "README.md").write_text(CARD)
    return folder


@pytest.fixture(scope="module")
def app(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve_app(f"local-dir:{model_dir}", tmp_path_factory.mktemp("ui") / "app.log") as live:
        yield live


@pytest.fixture
def page(chromium, app: LiveApp) -> Iterator[object]:  # noqa: F811
    browser = chromium.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url, wait_until="load")
        yield page
    finally:
        browser.close()


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"\nscreenshot: {path}")


def refusals(app: LiveApp, name: str) -> list[str]:
    return [line for line in app.log.read_text().splitlines() if name in line]


def test_header_names_the_model_and_shows_its_card(page, app: LiveApp, model_dir: Path, tmp_path: Path) -> None:
    header = page.locator("#header").inner_text()
    assert f"fer-demo (version {identify(f'local-dir:{model_dir}').id.split('@')[1]})" in header
    body = page.locator("body").inner_text()
    assert str(model_dir) not in body and "local-dir" not in body
    page.get_by_text("Model card: fer-demo").click()
    page.locator("#model-card").get_by_role("heading", name="Results").wait_for()
    assert page.evaluate(BROKEN_IMAGES, "model-card") == 0
    layout = page.evaluate(CARD_LAYOUT)
    assert all(width >= MIN_COLUMN_PX for _, width in layout["headers"]), layout["headers"]
    assert layout["page"] <= MAX_PAGE_PX, layout["page"]  # the card scrolls inside its panel
    shot(page, tmp_path, "upload_card")


def test_group_example_analyses_on_click(page, tmp_path: Path) -> None:
    page.locator("#upload-examples button").nth(1).click()
    rows = page.locator("#faces-table [role=row]")  # the header, then a row per face
    rows.nth(4).wait_for(timeout=RESULT_TIMEOUT_MS)  # at least 4 of the 5 faces
    confidences = [rows.nth(i).inner_text().split("\n")[2].strip() for i in range(1, rows.count())]
    assert all(re.fullmatch(r"\d{1,3}%", c) for c in confidences), confidences
    assert page.locator("#faces img").count() == 1
    shot(page, tmp_path, "upload_group")


def test_not_an_image_gives_a_clean_page_and_one_log_line(page, app: LiveApp, tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("this is not a picture\n")
    page.locator("#photo input[type=file]").set_input_files(str(notes))
    page.get_by_text("'notes.png' is not an image").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_timeout(2000)  # anything late (a second event, an error badge) would show by now
    shot(page, tmp_path, "upload_not_an_image")
    assert page.evaluate(BROKEN_IMAGES, "photo") == 0
    assert page.get_by_text("Error", exact=True).count() == 0
    assert page.get_by_text("Drop Image Here").count() == 1  # the photo box is ready for the next try
    lines = refusals(app, "notes.png")
    assert len(lines) == 1 and "Traceback" not in app.log.read_text(), lines


def test_video_tab_refuses_cleanly_then_analyses_its_example(page, app: LiveApp, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Video").click()
    assert not page.locator("#video-csv").is_visible() and not page.locator("#video-json").is_visible()
    assert not page.locator("#video-run").is_visible()  # "Analyse again" only once a clip is in
    shot(page, tmp_path, "video_empty")

    notes = tmp_path / "notes.mp4"
    notes.write_text("this is not a video\n" * 50)
    page.locator("#video-clip input[type=file]").set_input_files(str(notes))
    page.get_by_text("'notes.mp4' could not be opened as a video").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_timeout(2000)
    shot(page, tmp_path, "video_not_a_video")
    # no red "Error" badge on the outputs (Gradio's own player still toasts "Video not playable" in the browser)
    assert page.locator("[data-testid=status-tracker]", has_text="Error").count() == 0
    assert page.get_by_text("Drop Video Here").count() == 1  # the clip box is ready for the next try
    assert not page.locator("#video-run").is_visible()
    assert len(refusals(app, "notes.mp4")) == 1 and "Traceback" not in app.log.read_text()

    page.locator("#video-examples button").first.click()  # analysed on click: no other step
    page.locator("#video-annotated video").wait_for(timeout=RESULT_TIMEOUT_MS)
    page.locator("#video-csv").get_by_text(".csv").wait_for()
    assert page.locator("#video-json").get_by_text(".json").is_visible()
    assert page.locator("#video-run").is_visible()
    state = page.evaluate(PLAYBACK)
    assert state["error"] is None and (state["width"], state["height"]) == (480, 360), state
    assert state["audioBytes"] > 0, state  # the annotated clip has sound
    shot(page, tmp_path, "video_example")


def test_api_tab_has_examples(page, tmp_path: Path) -> None:
    page.get_by_role("tab", name="API").click()
    page.locator("#api-examples").get_by_text("Examples").wait_for()
    page.locator("#api-examples tbody tr, #api-examples button").first.click()
    page.locator("button", has_text="/analyze").first.click()
    page.get_by_text('"image_size"').wait_for(timeout=RESULT_TIMEOUT_MS)
    shot(page, tmp_path, "api")
