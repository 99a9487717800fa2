"""Inputs of the :class:`~workbench.widgets.video.annotator.VideoAnnotator`: the first frames of a
video, ground-truth id maps, a display name.

Frames stay lazy: a JPEG/PNG folder cut to its first ``max_frames`` frames becomes a temporary
folder of symbolic links to them (so :class:`~workbench.io.frames.FrameSource` and SAM 2's own
JPEG loader still read one file per frame on demand); a video file cut short is decoded once
into that many frames (backends hold non-folder videos in memory anyway).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ...io.frames import FrameSource, list_frame_files
from ...io.images import read_palette_mask


def limit_frames(video, max_frames: int | None = None):
    """The first ``max_frames`` frames of ``video``, still lazy where possible.

    Parameters
    ----------
    video : str, Path, FrameSource or sequence of (H, W, 3) uint8 RGB frames
        A frame folder, a video file (mp4 …) or frames in memory.
    max_frames : int, optional
        Keep frames ``0 .. max_frames - 1``; None keeps all.

    Returns
    -------
    (video, tmpdir)
        ``video`` to give to a :class:`~workbench.sessions.VideoSession`: the input itself when
        nothing is cut, a folder of symbolic links for a frame folder, or a list of frames.
        ``tmpdir`` is the ``tempfile.TemporaryDirectory`` holding the links (keep a reference
        while the session lives; it is deleted when collected), else None.

    Raises
    ------
    ConfigError
        ``max_frames`` is not a positive integer.
    DatasetNotFoundError, DataError
        Unreadable video.
    """
    if max_frames is None:
        return video, None
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ConfigError(f"max_frames must be a positive integer or None; got {max_frames!r}.")
    n = int(max_frames)
    if isinstance(video, (str, Path)) and Path(video).is_dir():
        files = list_frame_files(video)
        if len(files) <= n:
            return video, None
        tmp = tempfile.TemporaryDirectory(prefix=f"wb-{Path(video).name}-")
        link_dir = Path(tmp.name) / Path(video).name
        link_dir.mkdir()
        try:
            for i, f in enumerate(files[:n]):
                os.symlink(f.resolve(), link_dir / f"{i:05d}{f.suffix.lower()}")
        except OSError:  # no symlinks here (some Windows setups): frames in memory instead
            tmp.cleanup()
            return [FrameSource(video)[i] for i in range(n)], None
        return link_dir, tmp
    source = video if isinstance(video, FrameSource) else FrameSource(video)
    if len(source) <= n:
        return video, None
    return [source[i] for i in range(n)], None


def load_gt_ids(gt, num_frames: int, shape: tuple[int, int]) -> np.ndarray | None:
    """Ground truth as ``(num_frames, H, W)`` uint8 object ids (0 background, 255 void).

    Parameters
    ----------
    gt : None, str, Path or array_like
        A folder of palette PNGs (DAVIS ``Annotations/<seq>``: one per frame, sorted by the
        number in the name), or a ``(T, H, W)`` integer array. Only the first ``num_frames``
        are kept, so a video cut with ``max_frames`` pairs with its full annotation folder.
    num_frames : int
    shape : (H, W)

    Raises
    ------
    DataError
        Fewer annotated frames than video frames, another frame size, non-integer ids.
    DatasetNotFoundError
        Missing folder.
    """
    if gt is None:
        return None
    if isinstance(gt, (str, Path)):
        files = list_frame_files(gt)
        if len(files) < num_frames:
            raise DataError(
                f"{gt} holds {len(files)} annotations but the video has {num_frames} frames; the "
                "timeline's J needs one annotation per frame (or pass gt=None)."
            )
        arr = np.stack([read_palette_mask(f) for f in files[:num_frames]])
    else:
        arr = np.asarray(gt)
        if arr.ndim != 3 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise DataError(
                f"gt must be a (T, H, W) integer array of object ids or an annotations folder; "
                f"got shape {arr.shape}, dtype {arr.dtype}."
            )
        if arr.shape[0] < num_frames:
            raise DataError(f"gt has {arr.shape[0]} frames but the video has {num_frames}.")
        arr = arr[:num_frames]
    if arr.shape[1:] != tuple(shape):
        raise DataError(f"gt frames are {arr.shape[1:]} (H, W) but the video is {tuple(shape)}.")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise DataError("gt ids must lie in 0..255 (0 background, 255 void).")
    return arr.astype(np.uint8)


def video_name(video) -> str:
    """A short name for exports: the folder name or the file stem; ``"video"`` for frames in memory."""
    path = getattr(video, "path", None) if isinstance(video, FrameSource) else video
    if isinstance(path, (str, Path)):
        p = Path(path)
        return p.name if p.is_dir() or not p.suffix else p.stem
    return "video"


__all__ = ["limit_frames", "load_gt_ids", "video_name"]
