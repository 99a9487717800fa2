"""Export per-frame object id maps: DAVIS palette PNGs, COCO RLE JSON and overlay MP4 videos.

A *label map* is an ``(H, W)`` integer array of object ids (row, column indexed): 0 is the
background, ``1..254`` are objects (SAM 2's ``obj_id``) and 255 is the DAVIS *void* label.
Every function here takes label maps in any of these forms:

* a mapping ``frame_idx -> (H, W) array``;
* an iterable of ``(frame_idx, (H, W) array)`` pairs (e.g. :func:`session_label_maps`);
* a ``(T, H, W)`` array or a sequence of ``(H, W)`` arrays (frame ``t`` is item ``t``);
* a :class:`~workbench.types.LabelMapSource` (``tracked_frames`` and ``label_map_at(frame_idx)``,
  as :class:`workbench.sessions.VideoSession` provides).

Sessions merge overlapping objects into their label maps with the lower id on top, the rule of
SAM 2's ``tools/vos_inference.py`` (:func:`workbench.io.label_maps.merge_object_masks`); masks
kept per object go through that function too.

``io`` lies below ``sessions``: this module imports no session code. What it reads from a
session is spelled out by the runtime-checkable protocols of :mod:`workbench.types`
(:class:`~workbench.types.LabelMapSource`, :class:`~workbench.types.FrameStack`,
:class:`~workbench.types.HasObjects` of :class:`~workbench.types.ObjectLike`).

Every file is written atomically (temp file in the same folder, then ``os.replace``), so a
crash never leaves a truncated PNG, JSON or MP4 under the final name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFoundError, ResultsFormatError
from ..types import FrameStack, HasColor, HasName, HasObjects, LabelMapSource
from .images import DAVIS_PALETTE, write_palette_mask

__all__ = [
    "as_frame_label_maps",
    "export_coco_rle",
    "export_davis_pngs",
    "export_overlay_mp4",
    "load_coco_rle",
    "overlay_label_map",
    "session_colors",
    "session_label_maps",
    "session_object_names",
]

VOID_ID = 255
"""DAVIS void label: never exported as an object."""

LabelMaps = LabelMapSource | Mapping[int, np.ndarray] | np.ndarray | Iterable
"""Every label-map input the exporters accept (see the module docstring)."""

Frames = FrameStack | Sequence[np.ndarray] | np.ndarray
"""Frames for the overlay MP4: a :class:`~workbench.types.FrameStack` (a video session), a
sequence of ``(H, W, 3)`` uint8 RGB images (a ``FrameSource``) or a ``(T, H, W, 3)`` array."""


# --------------------------------------------------------------------------------------------
# session adapters (typed by the protocols of workbench.types: no import of workbench.sessions)
# --------------------------------------------------------------------------------------------
def session_label_maps(
    session: LabelMapSource, frames: Iterable[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_idx, (H, W) uint8 label map)`` for the tracked frames of a video session.

    ``session`` is a :class:`~workbench.types.LabelMapSource`: ``tracked_frames`` (sorted
    frame indices holding a mask) and ``label_map_at(frame_idx) -> (H, W)`` integer ids, as
    :class:`workbench.sessions.VideoSession` has. Nothing from ``workbench.sessions`` is imported.

    Parameters
    ----------
    session : LabelMapSource
        A video session (or anything with the two members above).
    frames : iterable of int, optional
        Frame indices to export instead of ``session.tracked_frames``.

    Raises
    ------
    DataError
        ``session`` lacks the members, or an object id exceeds 254 (PNG palettes hold 0..255,
        255 being void).
    """
    if not isinstance(session, LabelMapSource):
        raise DataError(
            f"{type(session).__name__} is not a video session: it needs `tracked_frames` and "
            "`label_map_at(frame_idx)`. Pass a VideoSession, a dict frame_idx -> label map, or a "
            "(T, H, W) array instead."
        )
    for f in session.tracked_frames if frames is None else frames:
        yield int(f), _as_ids(session.label_map_at(int(f)), f"label map of frame {f}")


def _objects_of(session) -> Mapping:
    """``session.objects`` of a :class:`~workbench.types.HasObjects`, else (or when None) ``{}``."""
    return (session.objects if isinstance(session, HasObjects) else None) or {}


def session_colors(session: HasObjects) -> dict[int, tuple[int, ...]]:
    """``obj_id -> (R, G, B)`` display colours of a session's objects (``session.objects``:
    mapping ``obj_id -> object with .color``, :class:`~workbench.types.HasColor`; the DAVIS
    palette colour of the id for an object without one); empty when the session has none."""
    return {
        int(k): tuple(int(c) for c in (o.color if isinstance(o, HasColor) else DAVIS_PALETTE[int(k) % 256]))
        for k, o in _objects_of(session).items()
    }


def session_object_names(session: HasObjects) -> dict[int, str]:
    """``obj_id -> name`` of a session's objects (``session.objects``: ``obj_id -> object with
    .name``, :class:`~workbench.types.HasName`; ``"object <id>"`` for one without)."""
    return {int(k): str(o.name if isinstance(o, HasName) else f"object {k}") for k, o in _objects_of(session).items()}


# --------------------------------------------------------------------------------------------
# input normalisation
# --------------------------------------------------------------------------------------------
def _as_ids(arr, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 2:
        raise DataError(f"{what} must be a 2-D (H, W) array of object ids; got shape {a.shape}.")
    if a.dtype == bool:
        return a.astype(np.uint8)
    if not np.issubdtype(a.dtype, np.integer):
        raise DataError(
            f"{what} has dtype {a.dtype}; label maps hold integer object ids (0 = background). "
            "Convert probabilities or logits to ids first (e.g. `(logits > 0) * obj_id`)."
        )
    if a.size and (a.min() < 0 or a.max() > 255):
        raise DataError(
            f"{what} holds ids outside 0..255 ({a.min()}..{a.max()}); palette PNGs and this "
            "exporter support object ids 1..254 (0 background, 255 void). Renumber the objects."
        )
    return a.astype(np.uint8, copy=False)


def as_frame_label_maps(label_maps: LabelMaps) -> list[tuple[int, np.ndarray]]:
    """Normalise any accepted label-map input (see the module docstring) into a sorted list of
    ``(frame_idx, (H, W) uint8)`` pairs, all of one shape.

    Raises
    ------
    DataError
        Empty input, non-integer ids, ids out of 0..255, repeated frame indices or shapes
        that differ between frames.
    """
    if isinstance(label_maps, LabelMapSource):
        pairs = list(session_label_maps(label_maps))
    elif isinstance(label_maps, Mapping):
        pairs = [(int(k), _as_ids(v, f"label map of frame {k}")) for k, v in label_maps.items()]
    elif isinstance(label_maps, np.ndarray):
        if label_maps.ndim != 3:
            raise DataError(f"A label-map array must be (T, H, W); got shape {label_maps.shape}.")
        pairs = [(t, _as_ids(m, f"label map {t}")) for t, m in enumerate(label_maps)]
    else:
        pairs = []
        for t, item in enumerate(label_maps):
            if isinstance(item, tuple) and len(item) == 2 and np.ndim(item[0]) == 0:
                pairs.append((int(item[0]), _as_ids(item[1], f"label map of frame {item[0]}")))
            else:
                pairs.append((t, _as_ids(item, f"label map {t}")))
    if not pairs:
        raise DataError("No label maps to export (no tracked frames?). Propagate or prompt objects first.")
    idx = [f for f, _ in pairs]
    if len(set(idx)) != len(idx) or min(idx) < 0:
        raise DataError(f"Frame indices must be distinct and >= 0; got {sorted(idx)}.")
    shapes = {m.shape for _, m in pairs}
    if len(shapes) != 1:
        raise DataError(f"All label maps must have one (H, W) shape; got {sorted(shapes)}.")
    return sorted(pairs, key=lambda p: p[0])


def _atomic_tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


# --------------------------------------------------------------------------------------------
# DAVIS palette PNGs
# --------------------------------------------------------------------------------------------
def export_davis_pngs(label_maps: LabelMaps, folder: str | Path, num_frames: int | None = None) -> list[Path]:
    """Write label maps as DAVIS results: ``folder/%05d.png`` palette PNGs (DAVIS palette).

    This is the layout ``davis2017-evaluation`` (and ``workbench eval vos``) read: one
    palette PNG per frame, named by ``frame_idx``, pixel value = object id.

    Parameters
    ----------
    label_maps
        ``(H, W)`` integer id maps in any form of the module docstring (a VideoSession gives
        its tracked frames).
    folder : path
        Output folder (created). Existing PNGs of other frames are left alone.
    num_frames : int, optional
        Write every frame ``0 .. num_frames-1``; frames without a label map are written as
        all-background, as DAVIS evaluation needs a PNG for every frame.

    Returns
    -------
    list of Path
        The files written, in frame order.

    Raises
    ------
    DataError
        Invalid label maps (see :func:`as_frame_label_maps`) or a frame index ``>= num_frames``.
    """
    pairs = dict(as_frame_label_maps(label_maps))
    folder = Path(folder)
    if num_frames is not None:
        if max(pairs) >= num_frames:
            raise DataError(f"Frame {max(pairs)} lies beyond num_frames={num_frames}; pass the video's frame count.")
        shape = next(iter(pairs.values())).shape
        pairs = {t: pairs.get(t, np.zeros(shape, np.uint8)) for t in range(num_frames)}
    out = []
    for t in sorted(pairs):
        path = folder / f"{t:05d}.png"
        write_palette_mask(path, pairs[t])  # atomic: temp + rename
        out.append(path)
    return out


# --------------------------------------------------------------------------------------------
# COCO RLE
# --------------------------------------------------------------------------------------------
def export_coco_rle(
    label_maps: LabelMaps,
    path: str | Path,
    video_name: str = "video",
    object_names: Mapping[int, str] | None = None,
    categories: Mapping[int, str] | None = None,
) -> Path:
    """Write label maps as COCO-style JSON with run-length-encoded masks.

    One image per exported frame (``image_id = frame_idx + 1``, ``file_name =
    "<video_name>/%05d.jpg"``, ``frame_idx`` kept) and one annotation per (frame, object) with a
    non-empty mask: ``segmentation`` is COCO compressed RLE (``pycocotools.mask.encode`` of the
    Fortran-ordered uint8 mask, ``counts`` as str), ``area`` (pixels, ``mask.area``), ``bbox``
    (``[x, y, width, height]`` pixels, ``mask.toBbox``), ``category_id``, ``iscrowd=0`` and the
    track: ``obj_id`` and ``object_name``. Id 255 (DAVIS void) is never exported.

    Parameters
    ----------
    label_maps
        ``(H, W)`` integer id maps in any form of the module docstring.
    path : path
        Output JSON file.
    video_name : str
        Name of the video (``videos[0].name`` and the image file names).
    object_names : mapping obj_id -> str, optional
        Display names of the objects (default ``"object <id>"``; see :func:`session_object_names`).
    categories : mapping obj_id -> str, optional
        Category name of each object (several objects may share one); default: each object's
        name is its category. Category ids are numbered from 1 in order of first appearance.

    Returns
    -------
    Path

    Raises
    ------
    DataError
        Invalid label maps.

    Source: COCO data format (https://cocodataset.org/#format-data) and ``pycocotools.mask``.
    """
    from pycocotools import mask as mask_utils

    pairs = as_frame_label_maps(label_maps)
    h, w = pairs[0][1].shape
    ids = sorted({int(i) for _, m in pairs for i in np.unique(m)} - {0, VOID_ID})
    names = {i: str((object_names or {}).get(i, f"object {i}")) for i in ids}
    for i, n in (object_names or {}).items():
        names.setdefault(int(i), str(n))
    cat_of_obj = {i: str((categories or {}).get(i, names.get(i, f"object {i}"))) for i in sorted(names)}
    cat_ids: dict[str, int] = {}
    for name in cat_of_obj.values():
        cat_ids.setdefault(name, len(cat_ids) + 1)
    images: list[dict] = []
    anns: list[dict] = []
    for frame_idx, m in pairs:
        image_id = frame_idx + 1
        images.append(
            {
                "id": image_id,
                "frame_idx": frame_idx,
                "file_name": f"{video_name}/{frame_idx:05d}.jpg",
                "height": h,
                "width": w,
                "video_id": 1,
            }
        )
        for obj_id in ids:
            binary = np.asfortranarray(m == obj_id, dtype=np.uint8)
            if not binary.any():
                continue
            rle = mask_utils.encode(binary)
            area = float(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            rle["counts"] = rle["counts"].decode("ascii")
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "frame_idx": frame_idx,
                    "category_id": cat_ids[cat_of_obj[obj_id]],
                    "obj_id": obj_id,
                    "object_name": names[obj_id],
                    "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"]},
                    "area": area,
                    "bbox": bbox,
                    "iscrowd": 0,
                }
            )
    data = {
        "info": {
            "description": f"workbench export of {video_name}",
            "format": "COCO RLE, one annotation per (frame, object)",
        },
        "videos": [{"id": 1, "name": video_name, "height": h, "width": w, "frames": [f for f, _ in pairs]}],
        "images": images,
        "categories": [{"id": cid, "name": name} for name, cid in cat_ids.items()],
        "objects": [{"obj_id": i, "name": names[i], "category_id": cat_ids[cat_of_obj[i]]} for i in sorted(names)],
        "annotations": anns,
    }
    path = Path(path)
    tmp = _atomic_tmp(path)
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_coco_rle(path: str | Path) -> dict[int, dict[int, np.ndarray]]:
    """Read a file written by :func:`export_coco_rle` back into masks.

    Returns
    -------
    dict
        ``frame_idx -> {obj_id: (H, W) bool mask}`` for every exported frame (frames without
        objects map to ``{}``). Files from other COCO tools work too: ``frame_idx`` falls back to
        ``image_id - 1`` and ``obj_id`` to ``category_id``.

    Raises
    ------
    DatasetNotFoundError
        The file does not exist.
    ResultsFormatError
        Not JSON, or not COCO with RLE segmentations (polygons are refused: convert them with
        ``pycocotools.mask.frPyObjects`` first).
    """
    from pycocotools import mask as mask_utils

    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"COCO RLE file not found: {path}. Write it with export_coco_rle().")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        frame_of = {int(im["id"]): int(im.get("frame_idx", int(im["id"]) - 1)) for im in data["images"]}
        out: dict[int, dict[int, np.ndarray]] = {f: {} for f in frame_of.values()}
        for ann in data["annotations"]:
            seg = ann["segmentation"]
            if not isinstance(seg, dict) or "counts" not in seg:
                raise ResultsFormatError(
                    f"{path}: annotation {ann.get('id')} is not RLE (polygon?). Convert it "
                    "with pycocotools.mask.frPyObjects, or re-export with export_coco_rle()."
                )
            rle = {"size": list(seg["size"]), "counts": seg["counts"]}
            if isinstance(rle["counts"], list):  # uncompressed RLE
                rle = mask_utils.frPyObjects(rle, *rle["size"])
            elif isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
            frame = frame_of.get(int(ann["image_id"]), int(ann.get("frame_idx", int(ann["image_id"]) - 1)))
            obj = int(ann.get("obj_id", ann["category_id"]))
            out.setdefault(frame, {})[obj] = mask_utils.decode(rle).astype(bool)
    except ResultsFormatError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsFormatError(
            f"{path} is not a COCO RLE file ({type(exc).__name__}: {exc}). It needs "
            "`images` (with `id`) and `annotations` (with `image_id`, `segmentation` RLE); "
            "write it with export_coco_rle()."
        ) from exc
    return out


# --------------------------------------------------------------------------------------------
# overlay MP4
# --------------------------------------------------------------------------------------------
def _frames_of(frames: Frames):
    """``(count, getter)`` for a :class:`~workbench.types.FrameStack` (a session: ``num_frames`` +
    ``frame(f)``), a sequence or an array."""
    if isinstance(frames, FrameStack):
        return int(frames.num_frames), frames.frame
    try:
        return len(frames), frames.__getitem__
    except TypeError as exc:
        raise DataError(
            f"frames must be a sequence of (H, W, 3) uint8 images, a FrameSource, a (T, H, W, 3) "
            f"array or a video session; got {type(frames).__name__}."
        ) from exc


def _color_table(colors: Mapping[int, Iterable[int]] | None) -> np.ndarray:
    table = DAVIS_PALETTE.astype(np.float32).copy()
    for k, c in (colors or {}).items():
        rgb = np.asarray(list(c), dtype=np.float32)
        if rgb.shape != (3,) or not (0 <= int(k) <= 255) or (rgb < 0).any() or (rgb > 255).any():
            raise DataError(f"colors[{k!r}]={c!r}: colours map obj_id (0..255) to three integers (R, G, B) 0..255.")
        table[int(k)] = rgb
    return table


def overlay_label_map(
    image: np.ndarray, ids: np.ndarray, alpha: float = 0.5, table: np.ndarray | None = None, outline: bool = True
) -> np.ndarray:
    """Blend an ``(H, W)`` id map over an ``(H, W, 3)`` uint8 RGB image: object pixels become
    ``(1 - alpha) * pixel + alpha * colour``; with ``outline`` the boundary pixels of each
    object (pixels whose 3x3 neighbourhood leaves the object) take the full colour. 0 and 255
    (void) are not drawn. Returns ``(H, W, 3)`` uint8."""
    import cv2

    table = DAVIS_PALETTE.astype(np.float32) if table is None else table
    out = image.astype(np.float32)
    fg = (ids > 0) & (ids != VOID_ID)
    out[fg] = (1.0 - alpha) * out[fg] + alpha * table[ids[fg]]
    if outline and fg.any():
        kernel = np.ones((3, 3), np.uint8)
        eroded = cv2.erode(ids, kernel, borderType=cv2.BORDER_REPLICATE)
        dilated = cv2.dilate(ids, kernel, borderType=cv2.BORDER_REPLICATE)
        edge = fg & ((eroded != ids) | (dilated != ids))
        out[edge] = table[ids[edge]]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def export_overlay_mp4(
    frames: Frames,
    label_maps: LabelMaps,
    path: str | Path,
    fps: float = 24,
    alpha: float = 0.5,
    colors: Mapping[int, Iterable[int]] | None = None,
    outline: bool = True,
    crf: int = 18,
) -> Path:
    """Write an H.264 MP4 of the frames with the objects' masks blended in their colours.

    Parameters
    ----------
    frames : sequence of (H, W, 3) uint8 RGB, FrameSource, (T, H, W, 3) array, or a session
        The video (a session-like object with ``num_frames`` and ``frame(f)`` works).
    label_maps
        ``(H, W)`` id maps in any form of the module docstring; frames without one are written
        without overlay. Their shape must equal the frames'.
    path : path
        Output ``.mp4`` file.
    fps : float
        Frames per second of the video.
    alpha : float
        Mask opacity in [0, 1].
    colors : mapping obj_id -> (R, G, B), optional
        Object colours (default: the DAVIS palette, object 1 = (128, 0, 0); a session's own
        colours come from :func:`session_colors`).
    outline : bool
        Draw object boundaries in full colour.
    crf : int
        x264 constant rate factor (0 lossless … 51 worst; 18 is visually lossless).

    Returns
    -------
    Path

    Notes
    -----
    Encoded with PyAV, ``libx264`` and ``yuv420p`` (playable in browsers and notebooks).
    yuv420p needs even width and height: an odd last row / column is repeated (edge padding),
    so the video can be one pixel larger than the frames.

    Raises
    ------
    DataError
        Bad frames, label maps, colours, ``fps`` or ``alpha``; or the encoder fails.
    """
    import av

    if not (np.isfinite(fps) and fps > 0):
        raise DataError(f"fps must be a positive number; got {fps!r}.")
    if not 0.0 <= float(alpha) <= 1.0:
        raise DataError(f"alpha must lie in [0, 1]; got {alpha!r}.")
    n, get = _frames_of(frames)
    if n == 0:
        raise DataError("No frames to write; pass a non-empty video.")
    maps = dict(as_frame_label_maps(label_maps))
    if max(maps) >= n:
        raise DataError(f"Label map of frame {max(maps)} has no frame: the video has {n} frames (0..{n - 1}).")
    table = _color_table(colors)
    first = np.asarray(get(0))
    if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
        raise DataError(f"Frames must be (H, W, 3) uint8 RGB; got shape {first.shape}, dtype {first.dtype}.")
    h, w = first.shape[:2]
    if next(iter(maps.values())).shape != (h, w):
        raise DataError(
            f"Label maps are {next(iter(maps.values())).shape} but frames are {(h, w)} (H, W); "
            "export masks at the video's resolution."
        )
    path = Path(path)
    tmp = _atomic_tmp(path.with_suffix(".mp4"))
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = w + w % 2, h + h % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(int(crf))}
            for t in range(n):
                img = first if t == 0 else np.asarray(get(t))
                if img.shape != first.shape or img.dtype != np.uint8:
                    raise DataError(f"Frame {t} is {img.shape} {img.dtype}; every frame must be {first.shape} uint8.")
                if t in maps:
                    img = overlay_label_map(img, maps[t], float(alpha), table, outline)
                if h % 2 or w % 2:
                    img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except av.FFmpegError as exc:
        raise DataError(
            f"Encoding {path} with libx264 failed: {exc}. Check that the folder is writable and "
            "that PyAV was built with libx264 (`python -c \"import av; print('libx264' in "
            'av.codecs_available)"`).'
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
