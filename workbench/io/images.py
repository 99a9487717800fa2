"""Image and mask files.

Arrays are ``(H, W, 3)`` uint8 RGB for images and ``(H, W)`` for masks (row, column).

Decoding is strict: a truncated or corrupt file raises :class:`~workbench.errors.DataError`
even when Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES`` is True (with it, Pillow
would grey-fill the missing part of a truncated JPEG or PNG without a word).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from ..errors import DataError, DatasetNotFoundError

_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_STRICT_LOCK = threading.Lock()


def _davis_palette() -> np.ndarray:
    """The 256-colour palette of DAVIS annotations (PASCAL VOC bit-interleaved colour map)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


DAVIS_PALETTE: np.ndarray = _davis_palette()
"""``(256, 3)`` uint8 palette used by DAVIS palette PNGs (index 1 = (128, 0, 0))."""


@contextmanager
def _strict_decoding():
    """Decode with ``ImageFile.LOAD_TRUNCATED_IMAGES`` off (restored afterwards).

    The flag is a Pillow module global that other code may switch on; the lock keeps
    concurrent loads in this module from restoring each other's value."""
    with _STRICT_LOCK:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _open(path: str | Path) -> Image.Image:
    """Open and fully decode an image file (strictly, see the module docstring).

    Raises
    ------
    DatasetNotFoundError
        No such file.
    DataError
        Not an image, truncated, corrupt, empty (0 pixels) or larger than Pillow's
        decompression-bomb limit.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"File not found: {path}. Check the path and the data folder (WORKBENCH_DATA_DIR).")
    try:
        with _strict_decoding(), Image.open(path) as img:
            img.load()
    except Image.DecompressionBombError as exc:
        raise DataError(
            f"Image {path} is too large to decode safely: {exc} If the image is genuine, raise "
            "PIL.Image.MAX_IMAGE_PIXELS before reading it."
        ) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error … on bad files
        what = "is truncated" if "truncated" in str(exc) else f"cannot be decoded ({type(exc).__name__}: {exc})"
        raise DataError(
            f"Cannot decode image {path}: the file {what}. Re-export it as a valid PNG or JPEG "
            "(a partial download or copy is the usual cause)."
        ) from exc
    if img.width == 0 or img.height == 0:
        raise DataError(f"Image {path} has no pixels ({img.width}x{img.height}).")
    return img


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image file from its header only (fast; pixels are not decoded).

    Raises
    ------
    DatasetNotFoundError, DataError
        Missing file, or a header Pillow cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"File not found: {path}.")
    try:
        with Image.open(path) as img:
            return int(img.height), int(img.width)
    except Exception as exc:  # see _open
        raise DataError(f"Cannot read the header of image {path}: {exc}. Re-export it as a valid PNG or JPEG.") from exc


def _rescale_high_bit(img: Image.Image) -> np.ndarray:
    arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(arr.max()) if arr.size else 0.0
    if top <= 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB.

    Conversions (documented behaviour, no warning):

    * grayscale (``L``, ``1``) and palette (``P``) images are expanded to RGB;
    * RGBA / LA / PA: the alpha channel is **dropped**, not composited (transparent pixels
      keep their stored colour), as SAM's reference loaders do with ``convert("RGB")``;
    * CMYK / YCbCr are converted with Pillow's ``convert("RGB")``;
    * 16-bit and 32-bit single-channel images (``I;16``, ``I``, ``F``) are rescaled to 8 bits by
      their maximum (``v / max * 255``; negative and NaN values become 0) and repeated to 3
      channels. Absolute intensities (e.g. CT Hounsfield units) are therefore not kept: use
      :mod:`workbench.io.medical` for those.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    DataError
        The file cannot be decoded (corrupt, truncated, not an image) or has a mode that
        cannot be converted to RGB.
    """
    img = _open(path)
    if img.mode in _HIGH_BIT_MODES:
        arr = _rescale_high_bit(img)
        return np.repeat(arr[..., None], 3, axis=2)
    try:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise DataError(
            f"Cannot convert image {path} (mode {img.mode!r}) to RGB: {exc}. Re-save it as 8-bit RGB or grayscale."
        ) from exc


def read_palette_mask(path: str | Path) -> np.ndarray:
    """Read an id mask as ``(H, W)`` uint8 of label ids (palette index, or gray level).

    DAVIS palette PNGs give object ids (0 background, 255 void). Accepted: palette (``P``,
    ``PA`` – alpha ignored), gray (``L``, ``1`` → 0/1, ``LA``), 16/32-bit integer gray with
    values in 0..255, and RGB(A) images whose three channels are equal (gray saved as RGB).
    Colour RGB PNGs are refused because their ids are ambiguous.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    DataError
        The file is not a single-channel (palette or gray) image, holds ids outside 0..255,
        or cannot be decoded.
    """
    img = _open(path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8).copy()
    if img.mode == "PA":
        return np.asarray(img)[..., 0].astype(np.uint8)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if arr.size and (arr.max() > 255 or arr.min() < 0):
            raise DataError(
                f"{path}: id mask has ids outside 0..255 (min {arr.min()}, max {arr.max()}); "
                "read instance maps with more than 255 ids with PIL or tifffile directly."
            )
        return arr.astype(np.uint8)
    if img.mode in ("RGB", "RGBA", "LA"):
        arr = np.asarray(img.convert("RGB"))
        if (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all():
            return arr[..., 0].copy()
        raise DataError(
            f"{path}: mask is a colour {img.mode} PNG, so its object ids are ambiguous. Save masks as palette "
            "('P', e.g. with workbench.io.write_palette_mask) or 8-bit grayscale ('L') PNGs."
        )
    raise DataError(
        f"{path}: mask mode {img.mode!r} is not a palette or grayscale PNG. "
        "Save masks as palette ('P') or 8-bit grayscale ('L') PNGs."
    )


def read_mask(path: str | Path, threshold: int = 127) -> np.ndarray:
    """Read a binary mask as ``(H, W)`` bool.

    Rule: a mask whose values are only 0 and 1 (including 1-bit PNGs) is True where it is 1;
    any other mask (0/255 masks) is True where the value is above ``threshold``. Use
    :func:`read_palette_mask` for id masks.

    Raises
    ------
    DatasetNotFoundError, DataError
        As :func:`read_palette_mask`.
    """
    ids = read_palette_mask(path)
    if ids.size and ids.max() <= 1:
        return ids == 1
    return ids > threshold


def write_palette_mask(path: str | Path, ids: np.ndarray) -> None:
    """Write ``(H, W)`` integer ids (0..255) as a DAVIS palette PNG (atomic: temp + rename)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise DataError(f"Palette masks must be 2-D (H, W); got shape {ids.shape}.")
    if ids.dtype.kind not in "biuf" or (ids.dtype.kind == "f" and not np.array_equal(ids, np.round(ids))):
        raise DataError(f"Palette mask ids must be integers 0..255; got dtype {ids.dtype} with non-integer values.")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise DataError(f"Palette mask ids must lie in 0..255; got {ids.min()}..{ids.max()}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ids.astype(np.uint8), mode="P")
    img.putpalette(DAVIS_PALETTE.reshape(-1).tolist())
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    tmp.replace(path)
