"""Read any image input (path, bytes, PIL image, array) into an RGB uint8 array, with clear errors."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # ~ 8000x5000; larger inputs are refused before decoding (decompression bombs)
MIN_SIDE = 20  # a face cannot be recognised in fewer pixels than this
MAX_IMAGE_BYTES = 25 * 1024 * 1024  # an image file; a video clip has its own limit (fer.video)
IMAGE_TYPES = "JPEG, PNG, WebP, GIF, BMP or TIFF"  # what users are told to use

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray

# Pillow warns above its own limit (89 MP) on stderr; MAX_PIXELS is lower and refuses those images with an ImageError
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageError(ValueError):
    """An input that is not a usable image; the message says why, in one line."""


def _describe(source: ImageInput, name: str | None = None) -> str:
    """How messages name an input: `name`, else a path as the user gave it, quoted; data in memory is 'The image'."""
    if name is not None:
        return f"'{name}'"
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    return "The image"


def check_file(path: Path, name: str, max_bytes: int, error: type[ValueError], empty_hint: str = "") -> None:
    """Raise `error` unless `path` is a non-empty file of at most `max_bytes` (`name` as shown in messages)."""
    if not path.is_file():
        raise error(f"{name} does not exist or is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise error(f"{name} is empty (0 bytes){empty_hint}.")
    if size > max_bytes:
        raise error(f"{name} is {size / 2**20:.0f} MB; the limit is {max_bytes // 2**20} MB.")


def open_image(source: ImageInput, name: str | None = None) -> Image.Image:
    """Open (lazily) a path, bytes or PIL image, checking size limits before pixels are decoded."""
    if isinstance(source, Image.Image):
        check_dimensions(source.size)
        return source
    name = _describe(source, name)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_file(path, name, MAX_IMAGE_BYTES, ImageError)
        fp: object = str(path)
    else:
        if len(source) == 0:
            raise ImageError("The image is empty (0 bytes).")
        fp = io.BytesIO(source)
    try:
        image = Image.open(fp)
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"{name} is too large to decode safely ({err}); the limit is {MAX_PIXELS / 1e6:.0f} megapixels."
        ) from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{name} is not an image that can be read; use a {IMAGE_TYPES} file.") from err
    except OSError as err:
        raise ImageError(f"{name} could not be read: {err}.") from err
    check_dimensions(image.size, name)
    return image


def check_dimensions(size: tuple[int, int], name: str = "The image") -> None:
    """Refuse images that are too large to decode safely or too small to hold a face."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} pixels; the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Resize it first."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{name} is {width}x{height} pixels; at least {MIN_SIDE} px per side is needed.")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(array) * scale, 0, 255).astype(np.uint8)
    top = float(array.max(initial=0))
    shift = 255.0 / top if top > 255 else 1.0
    if array.dtype in (np.uint16, np.int32, np.uint32) and top > 255:
        shift = 255.0 / (65535.0 if top <= 65535 else top)
    return np.clip(array.astype(np.float32) * shift, 0, 255).astype(np.uint8)


def array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Any HxW, HxWx1, HxWx3 or HxWx4 array (uint8, uint16 or float) to HxWx3 uint8 RGB."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"Expected an HxW, HxWx3 or HxWx4 image array, got shape {array.shape}.")
    check_dimensions((array.shape[1], array.shape[0]))
    return _decoded_to_rgb(array)


def _decoded_to_rgb(array: np.ndarray) -> np.ndarray:
    """array_to_rgb without the checks, for pixels of an image whose size open_image has checked."""
    array = _to_uint8(array)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        blended = array[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return blended.astype(np.uint8)
    return np.ascontiguousarray(array)


def pil_to_rgb(image: Image.Image, name: str = "The image") -> np.ndarray:
    """Decode a PIL image of any mode (EXIF-rotated, 16-bit, CMYK, palette, RGBA, animated) to RGB."""
    try:
        if getattr(image, "is_animated", False):
            image.seek(0)
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return _decoded_to_rgb(np.asarray(image))
        if (image.mode == "P" and "transparency" in image.info) or image.mode in ("LA", "PA", "RGBa", "La"):
            image = image.convert("RGBA")
        if image.mode == "RGBA":
            return _decoded_to_rgb(np.asarray(image))
        return np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{name} is damaged or truncated and could not be decoded ({err}).") from err


def load_rgb(source: ImageInput, name: str | None = None) -> np.ndarray:
    """Read a path, bytes, PIL image or array into an HxWx3 uint8 RGB array, or raise ImageError.

    Messages name a path as it was given, or `name` (e.g. an upload's file name, never the server's path)."""
    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    if not isinstance(source, (str, os.PathLike, bytes, bytearray, Image.Image)):
        raise ImageError(f"Unsupported image input of type {type(source).__name__}.")
    source = bytes(source) if isinstance(source, bytearray) else source
    image = open_image(source, name)  # checks the size once, before decoding
    return pil_to_rgb(image, _describe(source, name))
