"""Image and mask files.

Arrays are ``(H, W, 3)`` uint8 RGB for images and ``(H, W)`` for masks (row, column).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError, DatasetNotFoundError


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


def _open(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"File not found: {path}. Check the path and the data folder (WORKBENCH_DATA_DIR).")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"Cannot decode image {path}: {exc}. Re-export it as a valid PNG or JPEG.") from exc
    return img


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB.

    Grayscale, palette and RGBA images are converted (alpha dropped); 16-bit images are
    rescaled to 8 bits by their maximum.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    DataError
        The file cannot be decoded.
    """
    img = _open(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_palette_mask(path: str | Path) -> np.ndarray:
    """Read an id mask as ``(H, W)`` uint8 of label ids (palette index, or gray level).

    DAVIS palette PNGs give object ids (0 background, 255 void); RGB PNGs are refused
    because their ids are ambiguous.

    Raises
    ------
    DataError
        The file is not a single-channel (palette or gray) image.
    """
    img = _open(path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8).copy()
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img)
        if arr.max() > 255:
            raise DataError(f"{path}: id mask has ids above 255; use workbench.io.read_instance_ids for 16-bit maps.")
        return arr.astype(np.uint8)
    if img.mode in ("RGB", "RGBA", "LA"):
        arr = np.asarray(img.convert("RGB"))
        if (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all():
            return arr[..., 0].copy()
    raise DataError(
        f"{path}: mask mode {img.mode!r} is not a palette or grayscale PNG. "
        "Save masks as palette ('P') or 8-bit grayscale ('L') PNGs."
    )


def read_mask(path: str | Path, threshold: int = 127) -> np.ndarray:
    """Read a binary mask as ``(H, W)`` bool: True where the value is above ``threshold``
    (for 0/255 masks) — use :func:`read_palette_mask` for id masks."""
    return read_palette_mask(path) > threshold


def write_palette_mask(path: str | Path, ids: np.ndarray) -> None:
    """Write ``(H, W)`` integer ids (0..255) as a DAVIS palette PNG (atomic: temp + rename)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise DataError(f"Palette masks must be 2-D (H, W); got shape {ids.shape}.")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise DataError("Palette mask ids must lie in 0..255.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ids.astype(np.uint8), mode="P")
    img.putpalette(DAVIS_PALETTE.reshape(-1).tolist())
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    tmp.replace(path)
