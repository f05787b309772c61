"""The one preprocessing path: square crop with margin, edge padding, grayscale, resize, normalise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from make_inputs import FACE_BOX

from fer.preprocess import InputSpec, face_crop, faces_batch, limit_detail, normalize, square_box, to_gray

SPEC = InputSpec(size=75, mean=0.5, std=0.25, margin=-0.09)


def gradient(height: int = 120, width: int = 160) -> np.ndarray:
    """An RGB image whose grey level grows left to right, so crops and padding can be located."""
    row = np.linspace(0, 255, width).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)


def face_tensor(image: np.ndarray, box, spec: InputSpec) -> torch.Tensor:
    """The model's input for one face: its row of faces_batch."""
    return faces_batch(image, [box], spec)[0]


def test_face_tensor_shape_dtype_and_range(astronaut: np.ndarray) -> None:
    x = face_tensor(astronaut, FACE_BOX, SPEC)
    assert x.shape == (1, 75, 75) and x.dtype == torch.float32
    low, high = (0 - SPEC.mean) / SPEC.std, (1 - SPEC.mean) / SPEC.std
    assert low <= x.min() and x.max() <= high
    assert x.max() - x.min() > 1.0  # a face, not a flat patch


def test_crop_is_a_writable_uint8_array(astronaut: np.ndarray) -> None:
    """torch.from_numpy warns on read-only arrays (what np.asarray of a PIL image gives)."""
    crop = face_crop(astronaut, FACE_BOX, SPEC.size, SPEC.margin)
    assert crop.dtype == np.uint8 and crop.shape == (75, 75) and crop.flags.writeable


def test_normalisation_uses_the_specs_mean_and_std(astronaut: np.ndarray) -> None:
    crop = face_crop(astronaut, FACE_BOX, SPEC.size, SPEC.margin)
    other = InputSpec(size=75, mean=0.2, std=0.7, margin=SPEC.margin)
    for spec in (SPEC, other):
        x = face_tensor(astronaut, FACE_BOX, spec)
        torch.testing.assert_close(x * spec.std + spec.mean, torch.from_numpy(crop).float()[None] / 255)


def test_normalize_accepts_uint8_and_unit_floats() -> None:
    crops = torch.randint(0, 256, (2, 75, 75), dtype=torch.uint8)
    torch.testing.assert_close(normalize(crops, SPEC), normalize(crops.float() / 255, SPEC))
    assert normalize(crops, SPEC).shape == (2, 1, 75, 75)


def test_input_size_comes_from_the_spec(astronaut: np.ndarray) -> None:
    assert face_tensor(astronaut, FACE_BOX, InputSpec(size=48, mean=0.5, std=0.5)).shape == (1, 48, 48)


def test_each_row_of_a_batch_is_its_face_alone(astronaut: np.ndarray) -> None:
    boxes = [FACE_BOX, (0, 0, 100, 60), (400, 450, 530, 560)]
    batch = faces_batch(astronaut, boxes, SPEC)
    assert batch.shape == (3, 1, 75, 75)
    for row, box in zip(batch, boxes, strict=True):
        torch.testing.assert_close(row, face_tensor(astronaut, box, SPEC))


def test_gray_is_bt601_luma_like_pillow(astronaut: np.ndarray) -> None:
    """One grayscale everywhere (serving, training, the audit): BT.601, within 1 level of Pillow's "L"."""
    from PIL import Image

    pillow = np.asarray(Image.fromarray(astronaut).convert("L")).astype(int)
    assert np.abs(to_gray(astronaut).astype(int) - pillow).max() <= 1


def test_empty_batch() -> None:
    assert faces_batch(gradient(), [], SPEC).shape == (0, 1, 75, 75)


def test_grayscale_input_gives_the_same_tensor(astronaut: np.ndarray) -> None:
    gray = face_crop(astronaut, None, 512)  # the whole image, grayscale
    torch.testing.assert_close(
        face_tensor(gray, FACE_BOX, SPEC), face_tensor(np.repeat(gray[..., None], 3, axis=2), FACE_BOX, SPEC)
    )


@pytest.mark.parametrize(
    ("margin", "expected"),
    [(0.0, (-10, 20, 70, 100)), (0.5, (-30, 0, 90, 120)), (-0.25, (0, 30, 60, 90))],
)
def test_square_box_margin(margin: float, expected: tuple[int, int, int, int]) -> None:
    # a 40x80 box centred on (30, 60): the square side is 80 * (1 + margin)
    assert square_box((10, 20, 50, 100), margin) == expected


@pytest.mark.parametrize("margin", [-0.09, 0.0, 0.2, 0.5])
def test_crop_is_exactly_the_square_box_with_margin(margin: float, astronaut: np.ndarray) -> None:
    left, top, right, bottom = square_box(FACE_BOX, margin)
    assert right - left == bottom - top == round(110 * (1 + margin))  # the face box is 87x110
    full_gray = face_crop(astronaut, None, 512)
    crop = face_crop(astronaut, FACE_BOX, right - left, margin)  # at its own size: no resampling
    np.testing.assert_array_equal(crop, full_gray[top:bottom, left:right])


def test_box_past_the_border_is_edge_padded() -> None:
    image = gradient()
    crop = face_crop(image, (-40, 10, 40, 90), size=80, margin=0.0)  # left half lies outside the image
    assert crop.shape == (80, 80)
    assert (crop[:, :40] == image[0, 0, 0]).all()  # padding repeats the border column
    assert crop[:, 79].mean() > crop[:, 41].mean()  # the inside half still shows the gradient


def test_box_past_the_bottom_right_corner_is_padded() -> None:
    image = gradient()
    crop = face_crop(image, (120, 90, 200, 170), size=80, margin=0.0)
    assert crop.shape == (80, 80)
    assert (crop[:, 40:] == image[0, -1, 0]).all()
    np.testing.assert_array_equal(crop[30:, :40], np.broadcast_to(crop[29, :40], (50, 40)))


@pytest.mark.parametrize("box", [(200, 10, 260, 70), (-90, -90, -10, -10), (10, 130, 50, 170)])
def test_box_fully_outside_raises(box: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="outside the 160x120 image"):
        face_crop(gradient(), box, size=75, margin=0.0)


def test_whole_image_crop_is_squared_without_cutting(astronaut: np.ndarray) -> None:
    wide = astronaut[:256]  # 512x256
    crop = face_crop(wide, None, 64)
    assert crop.shape == (64, 64)
    # squared by padding top/bottom with the edge rows, so the whole width stays visible
    np.testing.assert_array_equal(crop[0], crop[10])


@pytest.mark.parametrize("detail", [24, 48, 60])
def test_detail_limit_is_torchs_resize_down_and_back(detail: int, astronaut: np.ndarray) -> None:
    """`limit_detail` (one matrix per side) equals resizing to detail x detail (antialiased) and back up."""
    crops = torch.from_numpy(np.stack([face_crop(astronaut, FACE_BOX, 75), face_crop(astronaut, None, 75)])).float()
    small = torch.nn.functional.interpolate(crops[:, None], (detail, detail), mode="bilinear", antialias=True)
    expected = torch.nn.functional.interpolate(small, (75, 75), mode="bilinear")[:, 0]
    torch.testing.assert_close(limit_detail(crops, detail), expected, atol=1e-3, rtol=0)
    assert (limit_detail(crops, detail) - crops).abs().mean() > 1.0  # fine detail is really gone


def test_normalize_limits_detail_only_when_the_spec_says_so(astronaut: np.ndarray) -> None:
    crops = torch.from_numpy(face_crop(astronaut, FACE_BOX, 75))[None]
    limited = InputSpec(size=75, mean=0.5, std=0.25, detail=48)
    torch.testing.assert_close(normalize(crops, limited)[:, 0], (limit_detail(crops.float() / 255, 48) - 0.5) / 0.25)
    assert not torch.equal(normalize(crops, limited), normalize(crops, SPEC))
    assert limit_detail(crops.float(), None) is not None and torch.equal(limit_detail(crops.float(), 75), crops.float())
