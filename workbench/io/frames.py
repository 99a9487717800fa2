"""Video frames from a folder of images or a video file, decoded lazily.

Frames are ``(H, W, 3)`` uint8 RGB, indexed by ``frame_idx`` from 0.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, DatasetNotFoundError
from .images import image_size, read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def _ranges(indices: list[int], limit: int = 12) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"`` (at most ``limit`` ranges, then the count left)."""
    parts: list[str] = []
    start = prev = indices[0]
    for i in [*indices[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    more = len(parts) - limit
    return ", ".join(parts[:limit]) + (f" and {more} more range(s)" if more > 0 else "")


def list_frame_files(folder: str | Path, allow_gaps: bool = False) -> list[Path]:
    """Image files of a frame folder, sorted by the integer in their stem (``00012.jpg``).

    Parameters
    ----------
    folder : str or Path
        Folder of numbered frames (``.jpg``, ``.jpeg``, ``.png``).
    allow_gaps : bool
        False (default): the frame numbers must be consecutive (any start, e.g. 00000 or
        00001), so that ``frame_idx`` and file numbers stay in step. True: accept gaps (e.g.
        YouTube-VOS's every-5th-frame folders); ``frame_idx`` i is then the i-th file in
        number order, NOT the file number.

    Raises
    ------
    DatasetNotFoundError
        The folder does not exist or holds no frames.
    DataError
        A frame name holds no integer, two frames share one index, or (``allow_gaps=False``)
        frame numbers are missing; the message lists the missing numbers.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Video folder not found: {folder}.")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise DatasetNotFoundError(f"No frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    keyed: dict[int, Path] = {}
    for p in files:
        m = re.search(r"(\d+)(?!.*\d)", p.stem)
        if m is None:
            raise DataError(f"Frame {p.name} in {folder} has no frame number; name frames like 00000.jpg.")
        idx = int(m.group(1))
        if idx in keyed:
            raise DataError(f"Frames {keyed[idx].name} and {p.name} share index {idx} in {folder}.")
        keyed[idx] = p
    order = sorted(keyed)
    has_gaps = len(order) != order[-1] - order[0] + 1
    if has_gaps and not allow_gaps:
        gaps = sorted(set(range(order[0], order[-1] + 1)) - set(order))
        raise DataError(
            f"Frame numbers in {folder} have gaps: {len(gaps)} missing ({_ranges(gaps)}) between "
            f"{keyed[order[0]].name} and {keyed[order[-1]].name}. frame_idx would no longer match the file "
            "numbers. Restore the missing frames, renumber the files consecutively, or pass allow_gaps=True "
            "to index the frames in number order (frame_idx i = i-th file)."
        )
    return [keyed[k] for k in order]


@dataclass
class _Decoder:
    """An open video file read front to back (PyAV objects)."""

    container: Any  # av.container.InputContainer
    frames: Iterator[Any]  # its decoded av.VideoFrame objects
    pos: int = 0  # index of the next frame


class FrameSource(Sequence):
    """Random-access frames of a video, decoded on demand with a bounded LRU cache.

    Parameters
    ----------
    video : str, Path or sequence of arrays
        A folder of numbered JPEG/PNG frames, a video file (mp4 … via PyAV), or in-memory
        ``(H, W, 3)`` uint8 RGB frames.
    cache_size : int
        Most decoded frames kept in memory.
    allow_gaps : bool
        Frame folders only: accept gaps in the frame numbering (see :func:`list_frame_files`).
    check_sizes : bool
        Frame folders and arrays: check up front (image headers only, no decoding) that all
        frames have frame 0's size; otherwise a frame of another size raises only when it
        is read. See :meth:`check_sizes`.

    Raises
    ------
    DatasetNotFoundError, DataError
        Missing path, unreadable video (random bytes, truncated file, no video stream),
        gaps in the frame numbering, or frames of different sizes.
    """

    def __init__(
        self,
        video: str | Path | Sequence[np.ndarray],
        cache_size: int = 64,
        *,
        allow_gaps: bool = False,
        check_sizes: bool = False,
    ):
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._files: list[Path] | None = None
        self._arrays: Sequence[np.ndarray] | None = None
        self._video_path: Path | None = None
        self._decoder: _Decoder | None = None  # for sequential video decoding
        if isinstance(video, (str, Path)):
            path = Path(video)
            self.path: Path | None = path
            if path.is_dir():
                self._files = list_frame_files(path, allow_gaps=allow_gaps)
                self._len = len(self._files)
            elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                self._video_path = path
                self._len = self._count_video_frames(path)
            elif path.exists():
                raise DataError(f"{path} is neither a frame folder nor a video file ({', '.join(VIDEO_SUFFIXES)}).")
            else:
                raise DatasetNotFoundError(f"Video not found: {path}.")
        else:
            self.path = None
            try:
                self._arrays = list(video)
            except TypeError as exc:
                raise DataError(
                    f"video must be a frame folder, a video file or a sequence of (H, W, 3) uint8 "
                    f"frames; got {type(video).__name__}."
                ) from exc
            if not self._arrays:
                raise DataError("The frame sequence is empty.")
            self._len = len(self._arrays)
        first = self[0]
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        if check_sizes:
            self.check_sizes()

    def check_sizes(self) -> None:
        """Check that every frame has frame 0's size, without decoding pixels (image headers
        for folders, array shapes for arrays; a video stream has one size by construction).

        Raises
        ------
        DataError
            Lists the frames whose size differs (file names for folders).
        """
        if self._files is not None:
            sizes = [(p.name, image_size(p)) for p in self._files]
        elif self._arrays is not None:
            sizes = [(f"frame {i}", tuple(np.shape(a)[:2])) for i, a in enumerate(self._arrays)]
        else:
            return
        bad = [f"{name} ({hw[1]}x{hw[0]})" for name, hw in sizes if tuple(hw) != (self.height, self.width)]
        if bad:
            raise DataError(
                f"{len(bad)} frame(s) of {self.path or 'the frame list'} do not share one size with frame 0 "
                f"({self.width}x{self.height}, WxH): {', '.join(bad[:8])}{' …' if len(bad) > 8 else ''}. "
                "All frames of a video must share one size: resize or remove them."
            )

    # -- video files ---------------------------------------------------------------
    @staticmethod
    def _video_error(path: Path, exc: Exception) -> DataError:
        reason = "it holds no video stream" if isinstance(exc, IndexError) else f"{type(exc).__name__}: {exc}"
        return DataError(
            f"Cannot decode video {path} ({reason}); the file is corrupt, truncated or not a video. "
            "Convert it to H.264 mp4 (e.g. `ffmpeg -i in -c:v libx264 out.mp4`) or to a JPEG folder."
        )

    @staticmethod
    def _count_video_frames(path: Path) -> int:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                n = sum(1 for _ in container.decode(stream))
        except (av.error.FFmpegError, IndexError, OSError, ValueError, EOFError) as exc:
            raise FrameSource._video_error(path, exc) from exc
        if n == 0:
            raise DataError(f"Video {path} has no decodable frame. Convert it to H.264 mp4 or a JPEG folder.")
        return n

    def _decode_video_frame(self, idx: int) -> np.ndarray:
        import av

        path = self._video_path
        if path is None:
            raise DataError("This frame source is not a video file.")
        try:
            if self._decoder is None or self._decoder.pos > idx:
                if self._decoder is not None:
                    self._decoder.container.close()
                container = av.open(str(path))
                self._decoder = _Decoder(container, container.decode(container.streams.video[0]))
            decoder = self._decoder
            for frame in decoder.frames:
                arr = frame.to_ndarray(format="rgb24")
                decoder.pos += 1
                if decoder.pos - 1 == idx:
                    return arr
                self._remember(decoder.pos - 1, arr)
        except (av.error.FFmpegError, IndexError, OSError, ValueError, EOFError) as exc:
            self.close()
            raise self._video_error(path, exc) from exc
        self.close()
        raise DataError(
            f"Frame {idx} could not be decoded from {path} (the file changed or is "
            f"truncated after frame {decoder.pos - 1})."
        )

    # -- Sequence API --------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def _remember(self, idx: int, arr: np.ndarray) -> None:
        self._cache[idx] = arr
        self._cache.move_to_end(idx)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def __getitem__(self, idx):
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
            self._decoder.container.close()
            self._decoder = None
