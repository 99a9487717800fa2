"""SAM 2 video backend: the official ``SAM2VideoPredictor`` behind :class:`VideoBackend`.

Source: ``sam2/sam2_video_predictor.py`` and ``sam2/utils/misc.py`` (sam2 1.1.0).
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import BackendError, PromptError
from ..io.frames import FrameSource
from ..types import FrameMasks, ModelInfo
from .sam2_image import check_box, check_points
from .sam2_loading import autocast_context, enable_tf32, resolve_precision, with_extra

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)
"""ImageNet normalisation used by ``sam2.utils.misc.load_video_frames``."""

_OFFICIAL_JPEG = (".jpg", ".jpeg", ".JPG", ".JPEG")


def preprocess_frame(frame: np.ndarray, image_size: int) -> torch.Tensor:
    """One ``(H, W, 3)`` uint8 RGB frame as SAM 2's video loader prepares it: PIL resize to
    ``image_size`` x ``image_size`` (PIL's default filter, as ``_load_img_as_tensor``), /255,
    then ImageNet mean/std. Returns ``(3, image_size, image_size)`` float32."""
    small = np.asarray(Image.fromarray(frame).resize((image_size, image_size)))
    img = torch.from_numpy(small / 255.0).permute(2, 0, 1).to(torch.float32)
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
    return (img - mean) / std


class PreparedFrames:
    """Frames from a :class:`FrameSource` for the official ``init_state``.

    ``SAM2VideoPredictor.init_state`` only reads JPEG folders (and mp4 through decord, not
    installed). Rather than re-encoding frames to JPEG (lossy, slow) or copying the ~40 lines
    of ``init_state`` that lay out ``inference_state`` (which change between sam2 releases),
    we pass an instance of this class as ``video_path``: :func:`_install_loader_hook` wraps
    the one seam ``init_state`` has, the module-level ``load_video_frames`` it calls, so that
    instances of this class are turned into the same ``(images, video_height, video_width)``
    triple the reference loader returns, and every other input still goes to the original
    loader unchanged. ``lazy=True`` prepares frames on demand (bounded memory for long videos,
    like the reference ``AsyncVideoFrameLoader``) instead of all at once.
    """

    def __init__(self, source: FrameSource, lazy: bool = False):
        self.source = source
        self.lazy = lazy

    def load(self, image_size: int, offload_video_to_cpu: bool, compute_device: torch.device):
        """Return ``(images, video_height, video_width)`` as ``load_video_frames`` does:
        ``images`` is ``(T, 3, image_size, image_size)`` float32 (or a lazy sequence of
        ``(3, s, s)`` tensors), on ``compute_device`` unless ``offload_video_to_cpu``."""
        device = torch.device("cpu") if offload_video_to_cpu else compute_device
        if self.lazy:
            return _LazyFrames(self.source, image_size, device), self.source.height, self.source.width
        images = torch.zeros(len(self.source), 3, image_size, image_size, dtype=torch.float32)
        for i in range(len(self.source)):
            images[i] = preprocess_frame(self.source[i], image_size)
        return images.to(device), self.source.height, self.source.width


class _LazyFrames:
    """Sequence of preprocessed frames computed on first access (LRU-bounded via the source)."""

    def __init__(self, source: FrameSource, image_size: int, device: torch.device, keep: int = 16):
        self.source, self.image_size, self.device, self.keep = source, image_size, device, keep
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> torch.Tensor:
        if idx not in self._cache:
            if len(self._cache) >= self.keep:
                self._cache.pop(next(iter(self._cache)))
            self._cache[idx] = preprocess_frame(self.source[idx], self.image_size).to(self.device)
        return self._cache[idx]


def _install_loader_hook() -> None:
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

    load_video_frames._workbench_hook = True
    svp.load_video_frames = load_video_frames


def _memory_dtype_hook(module, args, kwargs):
    """Forward pre-hook of ``memory_attention``: cast the memory to the query's dtype when no
    autocast is active.

    The reference predictor stores mask memories in bfloat16 to save memory and relies on
    CUDA autocast to mix them with float32 weights; without autocast (CPU, fp32 runs) the
    cross-attention fails with "mat1 and mat2 must have the same dtype" whenever no float32
    object pointer is concatenated to the memory (e.g. tracking backward from a non-prompted
    frame). Casting the stored bfloat16 values up changes no numbers the model sees."""
    curr, memory = kwargs.get("curr"), kwargs.get("memory")
    if isinstance(curr, list):
        curr = curr[0]
    if curr is None or memory is None or memory.dtype == curr.dtype:
        return None
    if torch.is_autocast_enabled(curr.device.type):
        return None
    kwargs = dict(kwargs)
    kwargs["memory"] = memory.to(curr.dtype)
    if kwargs.get("memory_pos") is not None:
        kwargs["memory_pos"] = kwargs["memory_pos"].to(curr.dtype)
    return args, kwargs


def _copy_tree(value, clone_tensors: bool):
    """Copy nested dicts (keeping their type, e.g. OrderedDict), lists and tuples; tensors are
    cloned when ``clone_tensors`` else shared; other leaves are shared."""
    if isinstance(value, dict):
        return type(value)((k, _copy_tree(v, clone_tensors)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tree(v, clone_tensors) for v in value)
    if clone_tensors and isinstance(value, torch.Tensor):
        return value.clone()
    return value


def _is_official_jpeg_folder(path: Path) -> bool:
    """True when the reference loader reads ``path`` exactly like :class:`FrameSource`: only
    JPEG frames, each named by a bare integer (``00000.jpg``)."""
    if not path.is_dir():
        return False
    names = [p for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return bool(names) and all(p.suffix in _OFFICIAL_JPEG and re.fullmatch(r"\d+", p.stem) for p in names)


class SAM2VideoBackend:
    """Promptable video object tracking with the official ``SAM2VideoPredictor``.

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        From :func:`workbench.backends.sam2_loading.build_sam2_model` with ``mode="video"``.
    info : ModelInfo
        Its description.
    offload_video_to_cpu : bool
        Keep the preprocessed frames in CPU memory (saves GPU memory, small overhead).
    offload_state_to_cpu : bool
        Keep per-frame tracking state in CPU memory (saves GPU memory, lower fps).
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast (and TF32) on CUDA, fp32 on CPU.
    lazy_frames : bool
        For mp4 / PNG / in-memory input: prepare frames on demand instead of all at once.
    """

    def __init__(self, predictor, info: ModelInfo, *, offload_video_to_cpu: bool = False,
                 offload_state_to_cpu: bool = False, precision: str = "auto", lazy_frames: bool = False):
        self.predictor = predictor
        self.device = next(predictor.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        if self.precision == "bf16":
            enable_tf32(self.device)
        self.offload_video_to_cpu = bool(offload_video_to_cpu)
        self.offload_state_to_cpu = bool(offload_state_to_cpu)
        self.lazy_frames = bool(lazy_frames)
        self.info = with_extra(info, precision=self.precision, offload_video_to_cpu=self.offload_video_to_cpu,
                               offload_state_to_cpu=self.offload_state_to_cpu)
        self.inference_state: dict | None = None
        _install_loader_hook()
        if not getattr(predictor, "_workbench_memory_hook", False):
            predictor.memory_attention.register_forward_pre_hook(_memory_dtype_hook, with_kwargs=True)
            predictor._workbench_memory_hook = True

    # -- state ------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """Number of frames of the loaded video (0 before :meth:`init_state`)."""
        return 0 if self.inference_state is None else int(self.inference_state["num_frames"])

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the loaded video's frames (``(0, 0)`` before :meth:`init_state`)."""
        if self.inference_state is None:
            return (0, 0)
        return int(self.inference_state["video_height"]), int(self.inference_state["video_width"])

    @property
    def obj_ids(self) -> list[int]:
        """Object ids prompted so far, in insertion order."""
        return [] if self.inference_state is None else list(self.inference_state["obj_ids"])

    def _autocast(self):
        return autocast_context(self.device, self.precision)

    def _require_state(self) -> dict:
        if self.inference_state is None:
            raise BackendError("No video loaded: call init_state(video) first.")
        return self.inference_state

    def init_state(self, video: str | Path | Sequence[np.ndarray]) -> None:
        """Load a video and reset all prompts.

        Parameters
        ----------
        video : str, Path, FrameSource or sequence of arrays
            A folder of frames named by index (JPEG folders named ``00000.jpg`` … go to the
            official loader; other folders, e.g. PNG), a video file (``.mp4`` …, decoded with
            PyAV), or ``(H, W, 3)`` uint8 RGB frames. Non-JPEG input is prepared exactly like
            the official loader (see :class:`PreparedFrames`).

        Raises
        ------
        DatasetNotFoundError, DataError
            Missing or unreadable video.
        """
        self.inference_state = None
        if isinstance(video, (str, Path)) and _is_official_jpeg_folder(Path(video)):
            src = str(video)
        else:
            source = video if isinstance(video, FrameSource) else FrameSource(video)
            src = PreparedFrames(source, lazy=self.lazy_frames)
        with torch.inference_mode(), self._autocast():
            self.inference_state = self.predictor.init_state(
                src, offload_video_to_cpu=self.offload_video_to_cpu, offload_state_to_cpu=self.offload_state_to_cpu)

    def reset(self) -> None:
        """Clear all prompts and tracking results, keeping the loaded video."""
        self.predictor.reset_state(self._require_state())

    def close(self) -> None:
        """Release the loaded video and its tracking state."""
        self.inference_state = None

    # -- prompts ----------------------------------------------------------------------------
    def _check_frame_obj(self, frame_idx, obj_id) -> tuple[int, int]:
        state = self._require_state()
        n = int(state["num_frames"])
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)) or not 0 <= frame_idx < n:
            raise PromptError(f"frame_idx must be an integer in [0, {n - 1}]; got {frame_idx!r}.")
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
            raise PromptError(f"obj_id must be an integer; got {obj_id!r}.")
        return int(frame_idx), int(obj_id)

    def _frame_masks(self, frame_idx: int, obj_ids, video_res_masks: torch.Tensor) -> FrameMasks:
        masks = (video_res_masks[:, 0] > 0.0).cpu().numpy()
        return FrameMasks(frame_idx=int(frame_idx), obj_ids=[int(o) for o in obj_ids], masks=masks)

    def add_points(self, frame_idx: int, obj_id: int, point_coords: np.ndarray, point_labels: np.ndarray,
                   clear_old_points: bool = True) -> FrameMasks:
        """Add clicks for ``obj_id`` on ``frame_idx``.

        Parameters
        ----------
        frame_idx : int
        obj_id : int
            Any integer; new ids start a new object.
        point_coords : (N, 2) float, x, y pixels of the original frame
        point_labels : (N,) int, 1 positive / 0 negative
        clear_old_points : bool
            Replace (True) or extend (False) this object's clicks on this frame.

        Returns
        -------
        FrameMasks
            Masks ``(O, H, W)`` bool of all objects on ``frame_idx`` (logits > 0).

        Raises
        ------
        BackendError, PromptError
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        h, w = self.frame_size
        coords, labels = check_points(point_coords, point_labels, h, w)
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_points_or_box(
                self.inference_state, frame_idx, obj_id, points=coords, labels=labels,
                clear_old_points=bool(clear_old_points))
        return self._frame_masks(f, ids, masks)

    def add_box(self, frame_idx: int, obj_id: int, box: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an XYXY pixel box (replaces its clicks there).

        Raises
        ------
        BackendError, PromptError
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        h, w = self.frame_size
        b = check_box(box, h, w)
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_points_or_box(
                self.inference_state, frame_idx, obj_id, box=b, clear_old_points=True)
        return self._frame_masks(f, ids, masks)

    def add_mask(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an ``(H, W)`` bool mask at frame size.

        Raises
        ------
        BackendError, PromptError
            Wrong mask shape (it must match the frame size).
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        m = np.asarray(mask)
        if m.shape != self.frame_size:
            raise PromptError(f"mask must be (H, W) = {self.frame_size} like the video frames; got {m.shape}.")
        m = torch.from_numpy(np.ascontiguousarray(m if m.dtype == bool else m > 0))
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_mask(self.inference_state, frame_idx, obj_id, m)
        return self._frame_masks(f, ids, masks)

    # -- tracking ---------------------------------------------------------------------------
    def propagate(self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None,
                  reverse: bool = False) -> Iterator[FrameMasks]:
        """Track every object and yield one :class:`FrameMasks` per frame.

        Parameters
        ----------
        start_frame_idx : int, optional
            First frame; default the earliest prompted frame.
        max_frame_num_to_track : int, optional
            Most frames to track after the start; default all.
        reverse : bool
            Track backward (towards frame 0).

        Raises
        ------
        BackendError
            No video, or no object prompted yet.
        PromptError
            ``start_frame_idx`` out of range.
        """
        state = self._require_state()
        if not state["obj_ids"]:
            raise BackendError("No object prompted yet: call add_points / add_box / add_mask before propagate().")
        if start_frame_idx is not None:
            start_frame_idx, _ = self._check_frame_obj(start_frame_idx, 0)
        if max_frame_num_to_track is not None and int(max_frame_num_to_track) < 0:
            raise PromptError(f"max_frame_num_to_track must be >= 0; got {max_frame_num_to_track}.")
        return self._propagate(state, start_frame_idx, max_frame_num_to_track, bool(reverse))

    def _propagate(self, state, start, max_frames, reverse) -> Iterator[FrameMasks]:
        it = self.predictor.propagate_in_video(state, start_frame_idx=start, max_frame_num_to_track=max_frames,
                                               reverse=reverse)
        while True:
            # autocast is entered per step so it never leaks into the caller's code between yields
            with torch.inference_mode(), self._autocast():
                try:
                    f, ids, masks = next(it)
                except StopIteration:
                    return
                except RuntimeError as exc:
                    if "No input points or masks" in str(exc):
                        raise BackendError(f"{exc} Every object needs a prompt before propagate().") from exc
                    raise
                item = self._frame_masks(f, ids, masks)
            yield item

    # -- exact undo ---------------------------------------------------------------------------
    _SNAPSHOT_KEYS = ("obj_id_to_idx", "obj_idx_to_id", "obj_ids", "point_inputs_per_obj", "mask_inputs_per_obj",
                      "output_dict_per_obj", "temp_output_dict_per_obj", "frames_tracked_per_obj", "constants")
    """Keys of ``inference_state`` that prompts and tracking change (sam2 1.1.0). The frames
    (``images``) never change and ``cached_features`` is a cache of one frame's features."""

    def snapshot(self, clone_tensors: bool = False) -> dict:
        """Copy of the per-object inputs and outputs in ``inference_state``, for :meth:`restore`.

        Every container (dicts, lists, the per-frame output dicts) is copied. Tensors are
        shared unless ``clone_tensors``: ``SAM2VideoPredictor`` (sam2 1.1.0) never writes into
        a stored tensor, it only puts new tensors into these containers, so shared tensors stay
        exactly as they were (tests compare them after undo).

        Raises
        ------
        BackendError
            No video loaded.
        """
        state = self._require_state()
        with torch.inference_mode():
            copied = {k: _copy_tree(state[k], clone_tensors) for k in self._SNAPSHOT_KEYS}
        return {"video": weakref.ref(state["images"]), "state": copied}

    def restore(self, snapshot: dict) -> None:
        """Put back a :meth:`snapshot` (copied again, so it can be restored more than once).

        Raises
        ------
        BackendError
            No video loaded, or the snapshot was taken on another video (``init_state`` since).
        """
        state = self._require_state()
        ref = snapshot.get("video") if isinstance(snapshot, dict) else None
        if not callable(ref) or ref() is not state["images"]:
            raise BackendError("This snapshot belongs to another video (init_state was called since); "
                               "it cannot be restored.")
        with torch.inference_mode():
            for k, v in snapshot["state"].items():
                state[k] = _copy_tree(v, False)

    def remove_object(self, obj_id: int) -> None:
        """Remove ``obj_id`` with all its prompts and outputs.

        Raises
        ------
        PromptError
            ``obj_id`` is not tracked; the message lists the tracked ids.
        """
        state = self._require_state()
        if obj_id not in state["obj_ids"]:
            raise PromptError(f"obj_id {obj_id!r} is not tracked. Tracked ids: {list(state['obj_ids'])}.")
        with torch.inference_mode():
            self.predictor.remove_object(state, obj_id, strict=True, need_output=False)


__all__ = ["IMG_MEAN", "IMG_STD", "PreparedFrames", "SAM2VideoBackend", "preprocess_frame"]
