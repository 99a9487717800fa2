"""Per-object masks merged into one object-id map: the one rule of the whole workbench.

Where two objects' masks overlap, the **lower** object id wins. This is what SAM 2's own VOS
tool writes: ``tools/vos_inference.py`` (facebookresearch/sam2 @ 2b90b9f), ``put_per_obj_mask``
paints the objects in reverse-sorted id order (``sorted(per_obj_mask)[::-1]``), so the lowest id
is painted last. Every place that turns several objects into one id map uses
:func:`merge_object_masks`: the VOS protocol and its results PNGs, video and image session label
maps (and so the DAVIS / COCO / MP4 exports of the annotator), and the volume runner's slices.

An id map is an array of object ids, 0 = background (row, column indexed).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import DataError

__all__ = ["OVERLAP_RULE", "merge_object_masks", "split_object_masks"]

OVERLAP_RULE = "lower object id wins (tools/vos_inference.py put_per_obj_mask)"
"""The overlap rule of :func:`merge_object_masks`, in words (for docs and reports)."""


def merge_object_masks(
    masks: Mapping[int, np.ndarray], shape: tuple[int, ...] | None = None, dtype: type | np.dtype = np.uint8
) -> np.ndarray:
    """Merge per-object masks into one id map; where objects overlap the lower id wins.

    Parameters
    ----------
    masks : mapping ``obj_id -> bool array``
        One mask per object, all of one shape: ``(H, W)`` for a frame or ``(T, H, W)`` for a
        sequence (any shape works). Object ids are positive integers.
    shape : tuple of int, optional
        Shape of the map; needed when ``masks`` is empty (else the masks' shape).
    dtype : numpy dtype
        dtype of the map (default uint8, as DAVIS palette PNGs; sessions use int32).

    Returns
    -------
    np.ndarray
        ``shape`` array of ``dtype``: at each pixel the smallest id whose mask holds it, 0 where
        no mask does.

    Raises
    ------
    DataError
        Masks of different shapes (or not ``shape``), a non-positive id, an id that ``dtype``
        cannot hold (uint8: 1..255; 255 is DAVIS's void label, so results should use 1..254),
        or no masks and no ``shape``.

    Source: ``put_per_obj_mask`` of SAM 2's ``tools/vos_inference.py``.
    """
    if shape is None:
        if not masks:
            raise DataError("merge_object_masks needs the map's shape when there are no masks; pass shape=(H, W).")
        shape = np.shape(next(iter(masks.values())))
    shape = tuple(int(s) for s in shape)
    info = np.iinfo(np.dtype(dtype))
    out = np.zeros(shape, dtype=dtype)
    for obj_id in sorted((int(k) for k in masks), reverse=True):  # the lowest id is painted last
        if not 1 <= obj_id <= info.max:
            raise DataError(
                f"Object id {obj_id} cannot go into a {np.dtype(dtype).name} id map (valid 1..{info.max}; "
                "0 is the background). Renumber the objects."
            )
        m = np.asarray(masks[obj_id])
        if m.shape != shape:
            raise DataError(f"Mask of object {obj_id} has shape {m.shape}; every mask of one id map must be {shape}.")
        out[m.astype(bool, copy=False)] = obj_id
    return out


def split_object_masks(ids: np.ndarray, obj_ids: list[int] | None = None) -> dict[int, np.ndarray]:
    """Per-object bool masks of an id map (the inverse of :func:`merge_object_masks` where no
    objects overlap), as ``get_per_obj_mask`` of ``tools/vos_inference.py`` reads input PNGs.

    Parameters
    ----------
    ids : np.ndarray
        Integer id map (any shape), 0 = background.
    obj_ids : list of int, optional
        Objects to return (empty masks for ids absent from the map); default every nonzero id
        present, ascending (DAVIS's void label 255 included when present, as the official
        reader does; pass ``obj_ids`` to leave it out).

    Returns
    -------
    dict
        ``obj_id -> bool array`` of ``ids``'s shape, ids ascending.
    """
    a = np.asarray(ids)
    keys = sorted(int(k) for k in np.unique(a) if k != 0) if obj_ids is None else sorted(int(k) for k in obj_ids)
    return {k: a == k for k in keys}
