"""Frames for ``SAM2VideoPredictor.init_state``: the reference preprocessing, prepared all at
once or lazily into a bounded LRU cache (with optional background prefetch).

The reference loader (``sam2.utils.misc.load_video_frames``, sam2 1.1.0) turns every frame of
a video into a ``(3, image_size, image_size)`` float32 tensor up front: 12 MB per frame at
1024, so a few thousand frames exhaust memory (facebookresearch/sam2 issues #264, #196, #62).
:class:`LazyFrames` gives ``init_state`` the same values, computed when the predictor asks for
a frame (``inference_state["images"][frame_idx]`` in ``_get_image_feature``), and keeps at
most ``cache_size`` of them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from ...errors import ConfigError
from ...io.frames import FrameSource

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)
"""ImageNet normalisation used by ``sam2.utils.misc.load_video_frames``."""


_MEAN = np.array(IMG_MEAN, np.float32)[:, None, None]
_STD = np.array(IMG_STD, np.float32)[:, None, None]


def preprocess_frame(frame: np.ndarray, image_size: int) -> torch.Tensor:
    """One ``(H, W, 3)`` uint8 RGB frame as SAM 2's video loader prepares it: PIL resize to
    ``image_size`` x ``image_size`` (PIL's default filter, as ``_load_img_as_tensor``), /255
    in float64, cast to float32, then ImageNet mean/std in float32. Returns a contiguous
    ``(3, image_size, image_size)`` float32 tensor, bit-identical to the reference loader's
    frame (float32 subtraction and division are correctly rounded in numpy as in torch; the
    arithmetic is done in numpy, single-threaded, ~3x faster than small torch ops at 1024)."""
    small = np.asarray(Image.fromarray(frame).resize((image_size, image_size)))
    img = np.ascontiguousarray((small / 255.0).astype(np.float32).transpose(2, 0, 1))
    img -= _MEAN
    img /= _STD
    return torch.from_numpy(img)


def preload_bytes(num_frames: int, image_size: int) -> int:
    """Bytes the reference loader allocates for ``num_frames`` preprocessed frames
    (float32, 3 x ``image_size`` x ``image_size`` each)."""
    return int(num_frames) * 3 * int(image_size) ** 2 * 4


class LazyFrames:
    """Preprocessed frames computed on first access, at most ``cache_size`` kept (LRU).

    Behaves like the ``(T, 3, S, S)`` tensor ``init_state`` expects where the predictor uses
    it (``len`` and integer indexing). Thread-safe; the frame source is only read under a lock.

    Parameters
    ----------
    source : FrameSource
        ``(H, W, 3)`` uint8 RGB frames.
    image_size : int
        Model input size ``S`` in pixels.
    device : torch.device
        Where prepared frames are kept (CPU with ``offload_video_to_cpu``).
    cache_size : int
        Most prepared frames held at once, prefetched ones included (>= ``prefetch + 1``).
    prefetch : int
        Frames prepared ahead on a background thread, in the direction of the last two
        accesses (0: none). Useful on GPU, where preparing a frame on the CPU costs about as
        much as tracking it.

    Attributes
    ----------
    stats : dict
        ``hits``, ``misses`` (frames prepared on the caller's thread), ``prefetched``,
        ``evicted`` and ``max_held`` (the most frames the cache ever held).

    Raises
    ------
    ConfigError
        ``cache_size`` < 1, ``prefetch`` < 0, or ``cache_size`` <= ``prefetch``.
    """

    def __init__(
        self, source: FrameSource, image_size: int, device: torch.device, cache_size: int = 8, prefetch: int = 0
    ):
        cache_size, prefetch = int(cache_size), int(prefetch)
        if cache_size < 1 or prefetch < 0 or cache_size <= prefetch:
            raise ConfigError(
                f"Frame cache: need cache_size >= 1, prefetch >= 0 and cache_size > prefetch; got "
                f"cache_size={cache_size}, prefetch={prefetch}. E.g. cache_size=8, prefetch=4."
            )
        self.source, self.image_size, self.device = source, int(image_size), torch.device(device)
        self.cache_size, self.prefetch = cache_size, prefetch
        self.stats = {"hits": 0, "misses": 0, "prefetched": 0, "evicted": 0, "max_held": 0}
        self._cache: OrderedDict[int, torch.Tensor | Future] = OrderedDict()
        self._lock = threading.Lock()
        self._source_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-frames") if prefetch else None
        self._last: int | None = None

    def __len__(self) -> int:
        return len(self.source)

    @property
    def held(self) -> int:
        """Frames held now (prepared or being prefetched)."""
        with self._lock:
            return len(self._cache)

    @property
    def nbytes(self) -> int:
        """Bytes of the prepared frames held now."""
        with self._lock:
            return sum(t.numel() * t.element_size() for t in self._cache.values() if isinstance(t, torch.Tensor))

    def _prepare(self, idx: int) -> torch.Tensor:
        with self._source_lock:
            frame = self.source[idx]
        return preprocess_frame(frame, self.image_size).to(self.device)

    def _insert(self, idx: int, item) -> None:
        """Put ``item`` at ``idx`` (lock held) and evict the least recently used others."""
        self._cache[idx] = item
        self._cache.move_to_end(idx)
        while len(self._cache) > self.cache_size:
            _, old = self._cache.popitem(last=False)
            if isinstance(old, Future):
                old.cancel()
            self.stats["evicted"] += 1
        self.stats["max_held"] = max(self.stats["max_held"], len(self._cache))

    def __getitem__(self, idx) -> torch.Tensor:
        n = len(self)
        idx = int(idx)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError(f"frame_idx {idx} out of range 0..{n - 1}")
        with self._lock:
            item = self._cache.get(idx)
            if item is None:
                self.stats["misses"] += 1
            else:
                self.stats["hits"] += 1
                self._cache.move_to_end(idx)
        if isinstance(item, Future):
            try:
                item = item.result()
            except Exception:  # cancelled or failed in the background: prepare it here
                item = None
        if item is None:
            item = self._prepare(idx)
        with self._lock:
            if not isinstance(self._cache.get(idx), torch.Tensor):
                self._insert(idx, item)
        self._schedule(idx)
        return item

    def _schedule(self, idx: int) -> None:
        if self._pool is None:
            return
        step = -1 if self._last is not None and idx < self._last else 1
        self._last = idx
        with self._lock:
            for k in range(1, self.prefetch + 1):
                j = idx + step * k
                if not 0 <= j < len(self) or j in self._cache:
                    continue
                self.stats["prefetched"] += 1
                self._insert(j, self._pool.submit(self._prepare, j))
                self._cache.move_to_end(idx)  # the frame in use stays the most recent

    def close(self) -> None:
        """Stop prefetching and drop the cache."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        with self._lock:
            self._cache.clear()


class PreparedFrames:
    """Frames from a :class:`FrameSource` for the official ``init_state``.

    ``SAM2VideoPredictor.init_state`` only reads JPEG folders (and mp4 through decord, not
    installed). Rather than re-encoding frames to JPEG (lossy, slow) or copying the ~40 lines
    of ``init_state`` that lay out ``inference_state`` (which change between sam2 releases),
    we pass an instance of this class as ``video_path``: :func:`install_loader_hook` wraps
    the one seam ``init_state`` has, the module-level ``load_video_frames`` it calls, so that
    instances of this class are turned into the same ``(images, video_height, video_width)``
    triple the reference loader returns, and every other input still goes to the original
    loader unchanged. ``lazy=True`` prepares frames on demand into a :class:`LazyFrames`
    (bounded memory for long videos) instead of all at once.
    """

    def __init__(self, source: FrameSource, lazy: bool = False, cache_size: int = 8, prefetch: int = 0):
        self.source = source
        self.lazy = lazy
        self.cache_size, self.prefetch = int(cache_size), int(prefetch)

    def load(self, image_size: int, offload_video_to_cpu: bool, compute_device: torch.device):
        """Return ``(images, video_height, video_width)`` as ``load_video_frames`` does:
        ``images`` is ``(T, 3, image_size, image_size)`` float32 (or a :class:`LazyFrames`),
        on ``compute_device`` unless ``offload_video_to_cpu``."""
        device = torch.device("cpu") if offload_video_to_cpu else compute_device
        if self.lazy:
            frames = LazyFrames(self.source, image_size, device, self.cache_size, self.prefetch)
            return frames, self.source.height, self.source.width
        images = torch.zeros(len(self.source), 3, image_size, image_size, dtype=torch.float32)
        for i in range(len(self.source)):
            images[i] = preprocess_frame(self.source[i], image_size)
        return images.to(device), self.source.height, self.source.width


def install_loader_hook() -> None:
    """Make ``SAM2VideoPredictor.init_state`` accept :class:`PreparedFrames` (idempotent)."""
    import sam2.sam2_video_predictor as svp

    original = svp.load_video_frames
    if getattr(original, "_workbench_hook", False):
        return

    def load_video_frames(video_path, image_size, offload_video_to_cpu, *args, **kwargs):
        if isinstance(video_path, PreparedFrames):
            device = kwargs.get("compute_device", torch.device("cpu"))
            return video_path.load(image_size, offload_video_to_cpu, device)
        return original(video_path, image_size, offload_video_to_cpu, *args, **kwargs)

    vars(load_video_frames)["_workbench_hook"] = True  # marks the hook as installed
    svp.load_video_frames = load_video_frames


__all__ = [
    "IMG_MEAN",
    "IMG_STD",
    "LazyFrames",
    "PreparedFrames",
    "install_loader_hook",
    "preload_bytes",
    "preprocess_frame",
]
