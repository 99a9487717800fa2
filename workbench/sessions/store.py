"""Session folders on disk: atomic JSON/array writes and a manifest that commits a save.

Layout of a saved session folder::

    session.json        manifest (objects, prompts, file names, action timeline); written last
    data-<hex>/         the files of this save: masks as palette PNGs, arrays as .npz, ...

A save writes a fresh ``data-<hex>/`` folder, then replaces ``session.json`` atomically
(temp file + ``os.replace``), then deletes older ``data-*`` folders. A crash at any point
leaves the previous save intact and readable.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, DatasetNotFoundError
from ..io.images import read_palette_mask, write_palette_mask

FORMAT = "workbench-session"
VERSION = 1
MANIFEST = "session.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    named: dict[str, Any] = dict(arrays)  # Any: mypy would match the arrays against allow_pickle: bool
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **named)
    os.replace(tmp, path)


def write_mask(path: Path, mask: np.ndarray, obj_id: int) -> None:
    """Write an ``(H, W)`` bool mask as a DAVIS palette PNG whose pixels are ``obj_id`` (so it
    shows in the object's palette colour; 1 for ids above 255) or 0."""
    value = obj_id if 1 <= obj_id <= 255 else 1
    write_palette_mask(path, np.asarray(mask, bool).astype(np.uint8) * np.uint8(value))


def read_mask(path: Path) -> np.ndarray:
    """Read a mask written by :func:`write_mask` as ``(H, W)`` bool."""
    return read_palette_mask(path) > 0


def write_rgb_png(path: Path, image: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB image as a (lossless) PNG, atomically."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    os.replace(tmp, path)


class SaveTarget:
    """One save in progress: ``data`` is the fresh folder to write files into."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = f"data-{uuid.uuid4().hex[:12]}"
        self.data = self.folder / self.name
        self.data.mkdir()

    def commit(self, manifest: dict) -> Path:
        """Write ``session.json`` (pointing at this save's data folder) atomically, then remove
        older data folders. Returns the manifest path."""
        manifest = {"format": FORMAT, "version": VERSION, "data": self.name, **manifest}
        path = self.folder / MANIFEST
        atomic_write_text(path, json.dumps(manifest, indent=1))
        for old in self.folder.glob("data-*"):
            if old.is_dir() and old.name != self.name:
                shutil.rmtree(old, ignore_errors=True)
        return path

    def abort(self) -> None:
        shutil.rmtree(self.data, ignore_errors=True)


def read_manifest(folder: str | Path, kind: str) -> tuple[dict, Path]:
    """Read ``folder/session.json``; return it and its data folder.

    Raises
    ------
    DatasetNotFoundError
        No saved session in ``folder``.
    DataError
        Not a workbench session, another version, or a ``kind`` other than expected
        (``"image"`` / ``"video"``).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise DatasetNotFoundError(
            f"No saved session in {folder}: {MANIFEST} is missing. Save one with session.save(folder)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON: {exc}.") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise DataError(
            f"{path} is not a {FORMAT} version {VERSION} manifest "
            f"(format={manifest.get('format')!r}, version={manifest.get('version')!r})."
        )
    if manifest.get("kind") != kind:
        other = "VideoSession" if manifest.get("kind") == "video" else "ImageSession"
        raise DataError(f"{folder} holds a {manifest.get('kind')!r} session, not {kind!r}: load it with {other}.load.")
    data = folder / str(manifest.get("data", ""))
    if not data.is_dir():
        raise DataError(f"{path} points at data folder {data.name!r}, which is missing; the save is incomplete.")
    return manifest, data


__all__ = [
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "SaveTarget",
    "atomic_write_npz",
    "atomic_write_text",
    "read_manifest",
    "read_mask",
    "write_mask",
    "write_rgb_png",
]
