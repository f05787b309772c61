"""load_rgb: every image mode decodes to an upright HxWx3 uint8 image; every bad input is one clear ImageError."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from make_inputs import BAD_CASES, GOOD_CASES, TINY_SIDE, Case, bomb_png, gray
from PIL import Image

from fer.images import MAX_IMAGE_BYTES, ImageError, load_rgb

MAX_GRAY_ERROR = 3.0  # mean |difference| in grey levels allowed by lossy formats (JPEG, GIF palette)
OPAQUE_FROM_X = 128  # make_inputs makes the left quarter transparent


def reference_gray(astronaut: np.ndarray, case: Case) -> np.ndarray:
    width, height = case.size
    return gray(astronaut[:height, :width]).astype(np.float32)


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda c: c.name)
def test_every_mode_loads_upright(case: Case, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = case.write(astronaut, tmp_path)
    rgb = load_rgb(path)
    width, height = case.size
    assert rgb.shape == (height, width, 3)
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    # same picture, same way up (a missed EXIF rotation or wrong 16-bit scaling would differ by ~90 levels)
    difference = np.abs(gray(rgb).astype(np.float32) - reference_gray(astronaut, case))
    assert difference[:, OPAQUE_FROM_X:].mean() < MAX_GRAY_ERROR


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda c: c.name)
def test_path_bytes_and_pil_agree(case: Case, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = case.write(astronaut, tmp_path)
    from_path = load_rgb(path)
    np.testing.assert_array_equal(load_rgb(str(path)), from_path)
    np.testing.assert_array_equal(load_rgb(path.read_bytes()), from_path)
    np.testing.assert_array_equal(load_rgb(bytearray(path.read_bytes())), from_path)
    np.testing.assert_array_equal(load_rgb(Image.open(path)), from_path)


@pytest.mark.parametrize("name", ["rgba", "la"])
def test_transparent_pixels_become_white(name: str, astronaut: np.ndarray) -> None:
    case = next(c for c in GOOD_CASES if c.name == name)
    rgb = load_rgb(case.make(astronaut))
    assert (rgb[:, : OPAQUE_FROM_X - 1] == 255).all()


def test_16bit_uses_the_full_range(astronaut: np.ndarray) -> None:
    case = next(c for c in GOOD_CASES if c.name == "gray16")
    assert Image.open(io.BytesIO(case.make(astronaut))).mode == "I;16"
    rgb = load_rgb(case.make(astronaut))
    np.testing.assert_array_equal(rgb[..., 0], gray(astronaut))


def test_animated_gif_uses_the_first_frame(astronaut: np.ndarray) -> None:
    case = next(c for c in GOOD_CASES if c.name == "animated")
    rgb = load_rgb(case.make(astronaut))
    assert rgb.std() > 30  # the second frame is plain white


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((32, 40), 0.5, np.float32), 127),
        (np.full((32, 40, 3), 1.0, np.float64), 255),
        (np.full((32, 40), 65535, np.uint16), 255),
        (np.full((32, 40), 257 * 100, np.uint16), 100),
        (np.full((32, 40, 1), 7, np.uint8), 7),
        (np.ones((32, 40), bool), 255),
    ],
    ids=["float32-0..1", "float64-rgb", "uint16-max", "uint16-mid", "hxwx1", "bool"],
)
def test_arrays_of_any_dtype(array: np.ndarray, expected: int) -> None:
    rgb = load_rgb(array)
    assert rgb.shape == (32, 40, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb[0, 0, 0]) - expected) <= 1


def test_rgba_array_is_blended_on_white() -> None:
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 15:, 3] = 255
    rgb = load_rgb(rgba)
    assert tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[0, 20]) == (200, 0, 0)


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.name)
def test_bad_file_is_one_clear_error(case: Case, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = case.write(astronaut, tmp_path)
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageError) as info:
            load_rgb(source)
        message = str(info.value)
        assert re.search(case.error, message, re.IGNORECASE), message
        assert "\n" not in message
    with pytest.raises(ImageError, match=re.escape(path.name)):
        load_rgb(path)  # a path's error names the file


def test_messages_name_the_input_as_given_and_no_exception_class(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    with pytest.raises(ImageError) as info:
        load_rgb(str(path))
    assert str(info.value).startswith(f"'{path}' is not an image") and "Error" not in str(info.value)
    with pytest.raises(ImageError, match=r"^'upload\.png' is not an image"):
        load_rgb(path, name="upload.png")  # an upload, named by its file name instead of the server's path


def test_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    """A ~100-byte file claiming 10^10 pixels must not allocate them (this would need 30 GB)."""
    data = bomb_png()
    assert len(data) < 2000
    with pytest.raises(ImageError, match="too large"):
        load_rgb(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # pytest resets fer.images' filter
def test_moderate_bomb_names_its_size() -> None:
    with pytest.raises(ImageError, match="10000x10000 pixels; the limit is 40 megapixels"):
        load_rgb(bomb_png(side=10_000))


@pytest.mark.parametrize(
    "array",
    [np.zeros((TINY_SIDE, 100, 3), np.uint8), np.zeros((0, 0, 3), np.uint8), np.zeros((30, 30, 2), np.uint8)],
    ids=["tiny", "empty", "two-channels"],
)
def test_bad_arrays(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        load_rgb(array)


def test_missing_file_directory_and_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=re.escape(f"'{tmp_path / 'nope.png'}' does not exist")):
        load_rgb(tmp_path / "nope.png")  # the path as it was given
    with pytest.raises(ImageError, match="not a file"):
        load_rgb(tmp_path)
    with pytest.raises(ImageError, match="Unsupported image input of type int"):
        load_rgb(42)  # type: ignore[arg-type]


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as handle:
        handle.truncate(MAX_IMAGE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ImageError, match="the limit is 25 MB"):
        load_rgb(path)


def test_an_image_is_checked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a file checks its size once (before decoding), RGBA included; an array is checked once too."""
    import fer.images

    calls = []
    check = fer.images.check_dimensions
    monkeypatch.setattr(fer.images, "check_dimensions", lambda *a: calls.append(a) or check(*a))
    for mode in ("RGB", "RGBA", "I;16"):
        path = tmp_path / f"{mode.replace(';', '')}.png"
        Image.new(mode, (40, 30)).save(path)
        calls.clear()
        load_rgb(path)
        assert len(calls) == 1, mode
    calls.clear()
    load_rgb(np.zeros((30, 40, 4), np.uint8))
    assert len(calls) == 1
