"""Video frames from a folder of images or a video file, decoded lazily.

Frames are ``(H, W, 3)`` uint8 RGB, indexed by ``frame_idx`` from 0.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFoundError
from .images import read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files of a frame folder, sorted by the integer in their stem (``00012.jpg``).

    Raises
    ------
    DatasetNotFoundError
        The folder does not exist or holds no frames.
    DataError
        A frame name holds no integer, or two frames share one index.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Video folder not found: {folder}.")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DatasetNotFoundError(f"No frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    keyed = {}
    for p in files:
        m = re.search(r"(\d+)(?!.*\d)", p.stem)
        if m is None:
            raise DataError(f"Frame {p.name} in {folder} has no frame number; name frames like 00000.jpg.")
        idx = int(m.group(1))
        if idx in keyed:
            raise DataError(f"Frames {keyed[idx].name} and {p.name} share index {idx} in {folder}.")
        keyed[idx] = p
    return [keyed[k] for k in sorted(keyed)]


class FrameSource(Sequence):
    """Random-access frames of a video, decoded on demand with a bounded LRU cache.

    Parameters
    ----------
    video : str, Path or sequence of arrays
        A folder of numbered JPEG/PNG frames, a video file (mp4 … via PyAV), or in-memory
        ``(H, W, 3)`` uint8 RGB frames.
    cache_size : int
        Most decoded frames kept in memory.

    Raises
    ------
    DatasetNotFoundError, DataError
        Missing path, unreadable video, or frames of different sizes.
    """

    def __init__(self, video: str | Path | Sequence[np.ndarray], cache_size: int = 64):
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._files: list[Path] | None = None
        self._arrays: Sequence[np.ndarray] | None = None
        self._video_path: Path | None = None
        self._decoder = None  # (container, iterator, next index) for sequential video decoding
        if isinstance(video, (str, Path)):
            path = Path(video)
            self.path: Path | None = path
            if path.is_dir():
                self._files = list_frame_files(path)
                self._len = len(self._files)
            elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                self._video_path = path
                self._len = self._count_video_frames(path)
            elif path.exists():
                raise DataError(
                    f"{path} is neither a frame folder nor a video file ({', '.join(VIDEO_SUFFIXES)})."
                )
            else:
                raise DatasetNotFoundError(f"Video not found: {path}.")
        else:
            self.path = None
            self._arrays = list(video)
            if not self._arrays:
                raise DataError("The frame sequence is empty.")
            self._len = len(self._arrays)
        first = self[0]
        self.height, self.width = int(first.shape[0]), int(first.shape[1])

    # -- video files ---------------------------------------------------------------
    @staticmethod
    def _count_video_frames(path: Path) -> int:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                return sum(1 for _ in container.decode(stream))
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            raise DataError(f"Cannot decode video {path}: {exc}. Convert it to H.264 mp4 or a JPEG folder.") from exc

    def _decode_video_frame(self, idx: int) -> np.ndarray:
        import av

        if self._decoder is None or self._decoder[2] > idx:
            if self._decoder is not None:
                self._decoder[0].close()
            container = av.open(str(self._video_path))
            self._decoder = [container, container.decode(container.streams.video[0]), 0]
        container, frames, pos = self._decoder
        for frame in frames:
            arr = frame.to_ndarray(format="rgb24")
            self._decoder[2] = pos = pos + 1
            if pos - 1 == idx:
                return arr
            self._remember(pos - 1, arr)
        raise DataError(f"Frame {idx} could not be decoded from {self._video_path}.")

    # -- Sequence API --------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def _remember(self, idx: int, arr: np.ndarray) -> None:
        self._cache[idx] = arr
        self._cache.move_to_end(idx)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def __getitem__(self, idx):  # type: ignore[override]
        if isinstance(idx, slice):
            return [self[i] for i in range(*idx.indices(len(self)))]
        idx = int(idx)
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"frame_idx {idx} out of range 0..{len(self) - 1}")
        if idx in self._cache:
            self._cache.move_to_end(idx)
            return self._cache[idx]
        if self._files is not None:
            arr = read_image(self._files[idx])
        elif self._arrays is not None:
            arr = np.asarray(self._arrays[idx])
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise DataError(f"Frame {idx} must be (H, W, 3) uint8 RGB; got {arr.shape} {arr.dtype}.")
        else:
            arr = self._decode_video_frame(idx)
        if hasattr(self, "height") and arr.shape[:2] != (self.height, self.width):
            raise DataError(
                f"Frame {idx} is {arr.shape[1]}x{arr.shape[0]} but frame 0 is {self.width}x{self.height}; "
                "all frames of a video must share one size."
            )
        self._remember(idx, arr)
        return arr

    @property
    def frame_files(self) -> list[Path] | None:
        """The frame image files when the source is a folder, else None."""
        return self._files

    def close(self) -> None:
        """Release the video decoder, if any."""
        if self._decoder is not None:
            self._decoder[0].close()
            self._decoder = None
