"""The one validator of images and prompts, used by every backend family (classical, SAM, SAM 2;
image and video), so the same bad input gets the same error type and message from all of them.

No torch. Prompts follow SAM's names and conventions (``sam2.sam2_image_predictor``,
``segment_anything.predictor``): ``point_coords`` are **x, y** pixels, ``point_labels`` 1/0,
``box`` XYXY pixels, ``mask_input`` low-resolution logits. Masks are row/column ``(H, W)``.

Rules
-----
image
    An ``(H, W, 3)`` uint8 RGB array of at least 2 x 2 pixels. Anything ``np.asarray`` turns
    into such an array is accepted as is (NumPy arrays, PIL RGB images, nested lists); the
    dtype is never converted: float, 16-bit, gray and RGBA inputs raise ``DataError`` (read
    files with :func:`workbench.io.read_image`, which converts them).
points
    ``point_coords`` ``(N, 2)`` x, y pixels (one point may be given as ``(2,)``) and
    ``point_labels`` ``(N,)`` (one label may be a scalar) of 1 (positive) / 0 (negative),
    always both or neither. Empty arrays (N = 0) mean "no points". Coordinates must be finite
    and lie on the pixel grid, ``0 <= x < W`` and ``0 <= y < H`` (a click is on a pixel: the
    rule of the sessions and the canvas).
box
    ``(4,)`` or ``(1, 4)`` XYXY pixels, finite, ``x0 <= x1`` and ``y0 <= y1`` (a box of zero
    width or height is allowed: tight boxes with inclusive corners of one-pixel-wide masks),
    inside ``[0, W] x [0, H]`` (box corners are pixel edges).
mask_input
    ``(1, s, s)`` or ``(s, s)`` finite logits, ``s`` the backend's low-resolution side (the
    shape of its own ``low_res_logits[i:i+1]``: ``image_size / 4`` for SAM and SAM 2, 256 for
    classical).
prompt
    At least one of points, box and mask_input; ``predict`` before ``set_image`` raises
    ``BackendError``.
video prompts
    ``frame_idx`` an integer in ``[0, num_frames)``, ``obj_id`` an integer, ``add_points``
    at least one point, ``add_mask`` an ``(H, W)`` array of the frame size (non-zero = object).

Checks run in this order, and the first failing one raises: no image, no prompt, points
(together, numbers, coords shape, labels shape, label values, finite, inside), box (numbers,
shape, finite, order, inside), mask_input (numbers, shape, side, finite).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import BackendError, DataError, PromptError

MIN_IMAGE_SIDE = 2
"""Fewest pixels per side of an image (GrabCut needs 2 x 2; one-pixel images are refused by all)."""


class CheckedPrompt(NamedTuple):
    """A validated prompt (None where absent).

    Attributes
    ----------
    point_coords : (N, 2) float64 x, y pixels, N >= 1, or None
    point_labels : (N,) int64 in {0, 1}, or None
    box : (4,) float64 XYXY pixels, or None
    mask_input : (1, s, s) float32 logits, or None
    """

    point_coords: np.ndarray | None
    point_labels: np.ndarray | None
    box: np.ndarray | None
    mask_input: np.ndarray | None


def check_image(image: object) -> np.ndarray:
    """Return ``image`` as a C-contiguous ``(H, W, 3)`` uint8 RGB array (no copy when it is one).

    Raises
    ------
    DataError
        Not readable as an ``(H, W, 3)`` uint8 array, or smaller than 2 x 2 pixels.
    """
    try:
        arr = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"image must be an (H, W, 3) uint8 RGB array; a {type(image).__name__} cannot be read as "
            f"one ({exc}). Read files with workbench.io.read_image."
        ) from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        source = "" if isinstance(image, np.ndarray) else f" (from {type(image).__name__})"
        raise DataError(
            f"image must be an (H, W, 3) uint8 RGB array; got shape {arr.shape} dtype {arr.dtype}"
            f"{source}. Read files with workbench.io.read_image, which converts gray / RGBA / 16-bit "
            "images; scale float images to 0..255 before converting them to uint8."
        )
    if arr.shape[0] < MIN_IMAGE_SIDE or arr.shape[1] < MIN_IMAGE_SIDE:
        raise DataError(
            f"image must be at least {MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE} pixels; "
            f"got {arr.shape[1]} x {arr.shape[0]} (W x H)."
        )
    return np.ascontiguousarray(arr)


def _values(labels: np.ndarray) -> list:
    try:
        return np.unique(labels).tolist()
    except TypeError:  # mixed object arrays cannot be sorted
        return labels.tolist()


def check_points(
    point_coords: object, point_labels: object, hw: tuple[int, int]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validate SAM point prompts against an image of ``hw`` = (H, W) pixels.

    Returns
    -------
    (coords, labels)
        ``(N, 2)`` float64 x, y and ``(N,)`` int64 labels; ``(None, None)`` when both are None
        or empty.

    Raises
    ------
    PromptError
        Only one of the two given; not numbers; wrong shapes; labels other than 0/1;
        non-finite coordinates; a click outside the image (the message says when it would fit
        as (row, col)).
    """
    if (point_coords is None) != (point_labels is None):
        raise PromptError(
            "point_coords and point_labels must be given together: (N, 2) x, y pixels and (N,) "
            "labels, 1 positive / 0 negative."
        )
    if point_coords is None:
        return None, None
    try:
        coords = np.asarray(point_coords, dtype=np.float64)
        labels = np.asarray(point_labels)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"point_coords and point_labels must be numbers: {exc}") from exc
    if coords.ndim == 1 and coords.shape[0] == 2:
        coords = coords[None]
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise PromptError(f"point_coords must be an (N, 2) array of x, y pixels; got shape {coords.shape}.")
    n = coords.shape[0]
    if labels.ndim == 0:
        labels = labels.reshape(1)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise PromptError(
            f"point_labels must be ({n},), one label per point, to match point_coords; got "
            f"{labels.size} entries in shape {labels.shape}."
        )
    if n == 0:
        return None, None
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise PromptError(
            f"point_labels must be 1 (positive) or 0 (negative); got {_values(labels)}. "
            "Give boxes through `box`, not as labels 2/3."
        )
    if not np.isfinite(coords).all():
        raise PromptError("point_coords contain NaN or infinity; they must be finite x, y pixels.")
    h, w = hw
    outside = (coords[:, 0] < 0) | (coords[:, 0] >= w) | (coords[:, 1] < 0) | (coords[:, 1] >= h)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        x, y = coords[i]
        hint = ""
        if 0 <= y < w and 0 <= x < h:
            hint = " The point would fit as (row, col): point_coords are (x, y) — use Click.point or clicks_to_prompt."
        raise PromptError(
            f"Click {i} at (x={x:g}, y={y:g}) lies outside the {w}x{h} (WxH) image: point_coords are "
            f"(x, y) pixels with 0 <= x < {w} and 0 <= y < {h}.{hint}"
        )
    return coords, labels.astype(np.int64)


def check_box(box: object, hw: tuple[int, int]) -> np.ndarray:
    """Validate an XYXY pixel box against an image of ``hw`` = (H, W); returns ``(4,)`` float64.

    Raises
    ------
    PromptError
        Not 4 numbers, not finite, x0 > x1 or y0 > y1, or corners outside the image.
    """
    try:
        b = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"box must be 4 numbers x0, y0, x1, y1 (XYXY pixels): {exc}") from exc
    if b.shape not in ((4,), (1, 4)):
        raise PromptError(f"box must be (4,) XYXY pixels x0, y0, x1, y1 (one box per prompt); got shape {b.shape}.")
    b = b.reshape(4)
    if not np.isfinite(b).all():
        raise PromptError("box contains NaN or infinity; it must be finite XYXY pixels.")
    x0, y0, x1, y1 = b.tolist()
    if x0 > x1 or y0 > y1:
        raise PromptError(
            f"box {b.tolist()} is not XYXY: it needs x0 <= x1 and y0 <= y1; "
            "convert XYWH boxes with [x, y, x + w, y + h]."
        )
    h, w = hw
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        raise PromptError(
            f"box {b.tolist()} leaves the {w}x{h} (WxH) image: corners outside [0, {w}] x [0, {h}]; "
            f"clip it with np.clip(box, 0, [{w}, {h}, {w}, {h}])."
        )
    return b


def check_mask_input(mask_input: object, low_res: int) -> np.ndarray:
    """Validate low-resolution logits for a backend whose ``low_res_logits`` are
    ``low_res`` x ``low_res``; returns ``(1, low_res, low_res)`` float32.

    Raises
    ------
    PromptError
        Not numbers, not one ``(1, h, w)`` / ``(h, w)`` mask, another side than ``low_res``, or
        not finite.
    """
    try:
        m = np.asarray(mask_input, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"mask_input must be low-resolution logits (numbers): {exc}") from exc
    shape = m.shape
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[0] != 1:
        raise PromptError(
            f"mask_input must be (1, h, w) low-resolution logits of one mask, e.g. "
            f"prediction.low_res_logits[i:i+1]; got shape {shape}."
        )
    if m.shape[1:] != (low_res, low_res):
        raise PromptError(
            f"mask_input must be (1, {low_res}, {low_res}) low-resolution logits, the size of this "
            "backend's low_res_logits (image_size/4 for SAM and SAM 2), e.g. "
            f"prediction.low_res_logits[i:i+1]; got shape {shape}."
        )
    if not np.isfinite(m).all():
        raise PromptError("mask_input contains NaN or infinity; it must be finite logits.")
    return m


def check_prompt(
    hw: tuple[int, int] | None,
    low_res: int,
    point_coords: object = None,
    point_labels: object = None,
    box: object = None,
    mask_input: object = None,
) -> CheckedPrompt:
    """Validate one ``predict`` prompt against the current image size ``hw`` = (H, W).

    Parameters
    ----------
    hw : (int, int) or None
        Size of the image set with ``set_image``; None when none is set.
    low_res : int
        Side of the backend's low-resolution logits (what ``mask_input`` must match).
    point_coords, point_labels, box, mask_input
        As ``ImageBackend.predict``.

    Returns
    -------
    CheckedPrompt
        Normalised arrays, None where absent.

    Raises
    ------
    BackendError
        No image set (``hw`` is None).
    PromptError
        No prompt at all, or a malformed one (:func:`check_points`, :func:`check_box`,
        :func:`check_mask_input`).
    """
    if hw is None:
        raise BackendError("No image set: call set_image(image) before predict().")
    no_prompt = PromptError("No prompt given: pass point_coords + point_labels, a box, and/or mask_input.")
    if point_coords is None and point_labels is None and box is None and mask_input is None:
        raise no_prompt
    coords, labels = check_points(point_coords, point_labels, hw)
    b = None if box is None else check_box(box, hw)
    m = None if mask_input is None else check_mask_input(mask_input, low_res)
    if coords is None and b is None and m is None:
        raise no_prompt
    return CheckedPrompt(coords, labels, b, m)


# -- video prompts ------------------------------------------------------------------------------------
def check_frame_obj(frame_idx: object, obj_id: object, num_frames: int) -> tuple[int, int]:
    """Validate a video prompt's ``frame_idx`` (integer in ``[0, num_frames)``) and ``obj_id``
    (integer); returns them as ints.

    Raises
    ------
    PromptError
    """
    if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)) or not 0 <= frame_idx < num_frames:
        raise PromptError(f"frame_idx must be an integer in [0, {num_frames - 1}]; got {frame_idx!r}.")
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise PromptError(f"obj_id must be an integer; got {obj_id!r}.")
    return int(frame_idx), int(obj_id)


def check_video_points(
    point_coords: object, point_labels: object, hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_points` for ``VideoBackend.add_points``, which needs at least one point.

    Raises
    ------
    PromptError
    """
    coords, labels = check_points(point_coords, point_labels, hw)
    if coords is None or labels is None:
        raise PromptError(
            "add_points needs at least one point: point_coords (N, 2) x, y pixels and point_labels (N,), N >= 1."
        )
    return coords, labels


def check_mask(mask: object, hw: tuple[int, int]) -> np.ndarray:
    """Validate an ``add_mask`` prompt: an ``(H, W)`` array of the frame size ``hw``;
    returns it as bool (non-zero = object; a bool mask is copied).

    Raises
    ------
    PromptError
        Another shape than the frames.
    """
    m = np.asarray(mask)
    if m.shape != tuple(hw):
        raise PromptError(f"mask must be (H, W) = {tuple(hw)} like the video frames; got shape {m.shape}.")
    return m.copy() if m.dtype == bool else m != 0


__all__ = [
    "MIN_IMAGE_SIDE",
    "CheckedPrompt",
    "check_box",
    "check_frame_obj",
    "check_image",
    "check_mask",
    "check_mask_input",
    "check_points",
    "check_prompt",
    "check_video_points",
]
