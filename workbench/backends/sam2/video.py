"""SAM 2 video backend: the official ``SAM2VideoPredictor`` behind :class:`VideoBackend`.

Prompts are checked by :mod:`workbench.backends.validate` (the rules of every backend) before
they reach the predictor.
Source: ``sam2/sam2_video_predictor.py`` and ``sam2/utils/misc.py`` (sam2 1.1.0).
"""

from __future__ import annotations

import copy
import re
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ...errors import BackendError, ConfigError, PromptError, UnknownNameError
from ...io.frames import FrameSource
from ...types import FrameMasks, MemoryTrace, ModelInfo
from ..base import with_extra
from ..validate import check_box, check_frame_obj, check_mask, check_video_points
from .frames import IMG_MEAN, IMG_STD, LazyFrames, PreparedFrames, install_loader_hook, preload_bytes, preprocess_frame
from .loading import autocast_context, enable_tf32, resolve_precision
from .memory import MEMORY_MODES, SpilledOutput, StateTrimmer, state_nbytes, tracking_window
from .policies import DEFAULT_POLICY, POLICIES, apply_policy, installed_policy, make_policy, remove_policy
from .policies.trace import MemoryTracer, memory_trace
from .settings import RUNTIME_SETTINGS, SAM2VideoSettings, video_settings

_OFFICIAL_JPEG = (".jpg", ".jpeg", ".JPG", ".JPEG")


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
    cloned when ``clone_tensors`` else shared; other leaves are shared. Spilled per-frame
    outputs are copied by reference (their bytes on disk never change)."""
    if isinstance(value, SpilledOutput):
        return value.copy_refs()
    if isinstance(value, dict):
        return type(value)((k, _copy_tree(v, clone_tensors)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tree(v, clone_tensors) for v in value)
    if clone_tensors and isinstance(value, torch.Tensor):
        return value.clone()
    return value


def _official_jpeg_count(path: Path) -> int:
    """Number of frames when the reference loader reads ``path`` exactly like
    :class:`FrameSource` (only JPEG frames, each named by a bare integer, ``00000.jpg``), else 0."""
    if not path.is_dir():
        return 0
    names = [p for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    ok = bool(names) and all(p.suffix in _OFFICIAL_JPEG and re.fullmatch(r"\d+", p.stem) for p in names)
    return len(names) if ok else 0


def _video_settings(value) -> SAM2VideoSettings:
    return value if isinstance(value, SAM2VideoSettings) else video_settings(value)


def _apply_video_settings(predictor, settings: SAM2VideoSettings, info: ModelInfo) -> dict:
    """Set the runtime settings of ``settings`` on ``predictor``; return every setting's value in
    effect (runtime ones read back from the predictor, ``apply_postprocessing`` as built).

    Raises
    ------
    ConfigError
        ``apply_postprocessing`` asked for differs from the predictor's build.
    """
    built = info.extra.get("apply_postprocessing")
    wanted = settings.build_flags["apply_postprocessing"]
    if built is not None and bool(built) != wanted:
        raise ConfigError(
            f"apply_postprocessing={wanted} was asked for, but the predictor was built with "
            f"apply_postprocessing={built}. It is a flag of sam2's builder: build the model with "
            f"build_sam2_model(..., apply_postprocessing={wanted}), or use make_video_backend('sam2', "
            f"apply_postprocessing={wanted}, ...), which does."
        )
    for name, value in settings.runtime.items():
        setattr(predictor, name, value)
    out = {name: getattr(predictor, name) for name in RUNTIME_SETTINGS}
    out = {k: (int(v) if k == "max_cond_frames_in_attn" else bool(v)) for k, v in out.items()}
    return {**out, "apply_postprocessing": None if built is None else bool(built)}


class SAM2VideoBackend:
    """Promptable video object tracking with the official ``SAM2VideoPredictor``.

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        From :func:`workbench.backends.sam2.loading.build_sam2_model` with ``mode="video"``
        (``vos_optimized=True`` there gives ``SAM2VideoPredictorVOS`` with ``torch.compile``).
    info : ModelInfo
        Its description.
    offload_video_to_cpu : bool
        Keep the preprocessed frames in CPU memory (saves GPU memory, small overhead).
    offload_state_to_cpu : bool
        Keep per-frame tracking state in CPU memory (saves GPU memory, lower fps).
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast (and TF32) on CUDA, fp32 on CPU; bf16 on CPU is refused.
    lazy_frames : bool or None
        Prepare frames on demand into a bounded cache (:class:`LazyFrames`) instead of all
        at once (the reference loader: 3 x S x S float32 per frame, 12 MB at S = 1024). None
        (default): lazily when preloading would take more than ``preload_limit_mb``. Results
        are identical either way.
    memory : {"bounded", "full"}
        ``"bounded"`` (default): per-frame tracking outputs that fall behind the tracking
        window are spilled to a temporary file and read back exactly when needed (see
        :mod:`workbench.backends.sam2.memory`), so memory stays flat with video length and
        every mask is identical to ``"full"``, sam2's own behaviour (everything in memory).
    frame_cache : int
        Most prepared frames kept with lazy frames (prefetched ones included).
    prefetch : int or None
        Lazy frames prepared ahead on a background thread; None: 4 on CUDA, 0 on CPU.
    preload_limit_mb : float
        Threshold of ``lazy_frames=None``, megabytes of preprocessed frames.
    spill_dir : str or Path, optional
        Folder of the spill file (default: the system temporary folder). Disk use is about
        ``(S/16)^2 * 128 + (S/4)^2 * 4`` bytes per tracked frame and object (0.75 MB at 1024).
    spill_window : int, optional
        Outputs kept in memory behind the tracked frame; default
        :func:`~workbench.backends.sam2.memory.tracking_window` (15 for SAM 2.1). Any value
        gives the same masks; smaller ones read more back from disk.
    tf32 : bool or None
        Allow TF32 matmuls on Ampere+ GPUs (process-wide); None: with bf16 precision.
    video_settings : SAM2VideoSettings, str or None
        SAM 2's memory/runtime settings (:mod:`workbench.backends.sam2.settings`): a preset name
        (``"official"``, the default: the predictor as built; ``"interactive"``) or a
        :class:`~workbench.backends.sam2.settings.SAM2VideoSettings` with overrides. The
        runtime settings are set on ``predictor`` here; ``apply_postprocessing`` must equal
        the flag the predictor was built with (``info.extra["apply_postprocessing"]``).
        Unrelated to ``memory`` (where tracking outputs are stored).

    Attributes
    ----------
    video_settings : SAM2VideoSettings
        As given. ``info.extra`` records ``memory_preset`` (its preset) and
        ``video_settings`` (the value of every setting in effect, read back from the
        predictor; ``apply_postprocessing`` as built, None when unknown).

    Raises
    ------
    UnknownNameError
        Unknown ``precision``, ``memory``, preset or setting.
    ConfigError
        Bad cache / prefetch / window sizes or video settings; ``apply_postprocessing``
        differing from the predictor's build.
    BackendError
        bf16 asked for on CPU.

    Notes
    -----
    Which memories fed each prediction (:meth:`memory_trace`, the
    :class:`~workbench.backends.base.MemoryIntrospection` capability) is recorded while the
    predictor runs by a :class:`~workbench.backends.sam2.policies.trace.MemoryTracer` on its
    memory gathering (outputs unchanged); it is part of :meth:`snapshot`.

    With ``memory="bounded"`` the disk file grows with every frame tracked (a re-propagation
    writes new entries; the old ones stay for undo snapshots) until :meth:`init_state`,
    :meth:`reset` or :meth:`close` and the release of snapshots taken before. What stays in
    memory and grows with length is small bookkeeping: one Python dict per tracked frame and
    object (``frames_tracked_per_obj`` and the spilled entries' references, ~1 KB).
    """

    def __init__(
        self,
        predictor,
        info: ModelInfo,
        *,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        precision: str = "auto",
        lazy_frames: bool | None = None,
        memory: str = "bounded",
        frame_cache: int = 8,
        prefetch: int | None = None,
        preload_limit_mb: float = 1024.0,
        spill_dir: str | Path | None = None,
        spill_window: int | None = None,
        tf32: bool | None = None,
        video_settings: SAM2VideoSettings | str | None = None,
    ):
        self.predictor = predictor
        self.device = next(predictor.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        if memory not in MEMORY_MODES:
            raise UnknownNameError("memory mode", memory, MEMORY_MODES)
        self.tf32 = (self.precision == "bf16") if tf32 is None else bool(tf32)
        if self.tf32:
            enable_tf32(self.device)
        self.offload_video_to_cpu = bool(offload_video_to_cpu)
        self.offload_state_to_cpu = bool(offload_state_to_cpu)
        self.lazy_frames = None if lazy_frames is None else bool(lazy_frames)
        self.memory = memory
        self.frame_cache = int(frame_cache)
        self.prefetch = (4 if self.device.type == "cuda" else 0) if prefetch is None else int(prefetch)
        if self.frame_cache < 1 or self.prefetch < 0 or self.frame_cache <= self.prefetch:
            raise ConfigError(
                f"Need frame_cache >= 1, prefetch >= 0 and frame_cache > prefetch; got "
                f"frame_cache={frame_cache}, prefetch={prefetch}."
            )
        self.preload_limit_mb = float(preload_limit_mb)
        window = tracking_window(predictor) if spill_window is None else int(spill_window)
        if window < 0:
            raise ConfigError(f"spill_window must be >= 0 frames; got {spill_window}.")
        self._trimmer = StateTrimmer(window, spill_dir)
        self.video_settings = _video_settings(video_settings)
        applied = _apply_video_settings(predictor, self.video_settings, info)
        self.info = with_extra(
            info,
            precision=self.precision,
            offload_video_to_cpu=self.offload_video_to_cpu,
            offload_state_to_cpu=self.offload_state_to_cpu,
            memory=memory,
            tf32=self.tf32,
            memory_preset=self.video_settings.preset,
            video_settings=applied,
        )
        self.inference_state: dict | None = None
        install_loader_hook()
        if not getattr(predictor, "_workbench_memory_hook", False):
            predictor.memory_attention.register_forward_pre_hook(_memory_dtype_hook, with_kwargs=True)
            predictor._workbench_memory_hook = True
        self._tracer = self._install_tracer()

    def _install_tracer(self) -> MemoryTracer:
        """Record memory reads on the predictor (one tracer per predictor: the newest backend's),
        below any installed policy, so that policies that replace the memory gathering (SAM2Long)
        fall back to sam2's method through it."""
        previous = self.predictor.__dict__.get("_workbench_memory_tracer")
        if previous is not None:
            previous.detach()
        tracer = MemoryTracer(self.predictor)
        self.predictor._workbench_memory_tracer = tracer
        policy = installed_policy(self.predictor)
        if policy is not None:
            remove_policy(self.predictor)
        tracer.attach()
        if policy is not None:
            apply_policy(self.predictor, policy)
        return tracer

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
            official loader unless frames are lazy; other folders, e.g. PNG), a video file
            (``.mp4`` …, decoded with PyAV), or ``(H, W, 3)`` uint8 RGB frames. Every input
            is prepared exactly like the official loader (see :class:`PreparedFrames`).

        Raises
        ------
        DatasetNotFoundError, DataError
            Missing or unreadable video.
        """
        self.close()
        self._reset_policy()
        size = int(self.predictor.image_size)
        n_jpeg = _official_jpeg_count(Path(video)) if isinstance(video, (str, Path)) else 0
        source = None
        if not n_jpeg:
            source = video if isinstance(video, FrameSource) else FrameSource(video, cache_size=2)
        lazy = self.lazy_frames
        if lazy is None:
            lazy = preload_bytes(n_jpeg if source is None else len(source), size) > self.preload_limit_mb * 2**20
        src: str | PreparedFrames
        if n_jpeg and not lazy:
            src = str(video)
        else:
            if source is None:
                source = FrameSource(video, cache_size=2)
            src = PreparedFrames(source, lazy=lazy, cache_size=self.frame_cache, prefetch=self.prefetch)
        self._trimmer.new_video()
        with torch.inference_mode(), self._autocast():
            self.inference_state = self.predictor.init_state(
                src, offload_video_to_cpu=self.offload_video_to_cpu, offload_state_to_cpu=self.offload_state_to_cpu
            )
        self._tracer.inference_state = self.inference_state
        self._tracer.log = {}

    @property
    def frame_cache_stats(self) -> dict | None:
        """Counters of the lazy frame cache (``hits``, ``misses``, ``max_held`` …; see
        :class:`LazyFrames`), None when frames were preloaded or no video is loaded."""
        images = None if self.inference_state is None else self.inference_state["images"]
        return (
            dict(images.stats, held=images.held, cache_size=images.cache_size)
            if isinstance(images, LazyFrames)
            else None
        )

    def memory_stats(self) -> dict:
        """Bytes held by the tracking state now (:func:`~workbench.backends.sam2.memory.state_nbytes`)
        plus ``spill_bytes`` written to disk so far.

        Raises
        ------
        BackendError
            No video loaded.
        """
        stats = state_nbytes(self._require_state())
        store = self._trimmer.store
        return {**stats, "spill_bytes": 0 if store is None else store.bytes_written}

    def reset(self) -> None:
        """Clear all prompts and tracking results, keeping the loaded video."""
        self.predictor.reset_state(self._require_state())
        self._trimmer.new_video()
        self._reset_policy()
        self._tracer.log = {}

    def _reset_policy(self) -> None:
        """A new video or a reset: the tracking policy starts over (as each reference builds a
        new predictor per video)."""
        policy = installed_policy(self.predictor)
        if policy is not None:
            policy.reset()

    def close(self) -> None:
        """Release the loaded video and its tracking state."""
        state, self.inference_state = self.inference_state, None
        if state is not None and isinstance(state.get("images"), LazyFrames):
            state["images"].close()
        self._trimmer.new_video()
        self._tracer.inference_state, self._tracer.log = None, {}

    # -- prompts ----------------------------------------------------------------------------
    def _check_frame_obj(self, frame_idx, obj_id) -> tuple[int, int]:
        return check_frame_obj(frame_idx, obj_id, int(self._require_state()["num_frames"]))

    def _frame_masks(self, frame_idx: int, obj_ids, video_res_masks: torch.Tensor, logits: bool = False) -> FrameMasks:
        masks = (video_res_masks[:, 0] > 0.0).cpu().numpy()
        scores = video_res_masks[:, 0].float().cpu().numpy() if logits else None
        return FrameMasks(frame_idx=int(frame_idx), obj_ids=[int(o) for o in obj_ids], masks=masks, logits=scores)

    def add_points(
        self,
        frame_idx: int,
        obj_id: int,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        clear_old_points: bool = True,
    ) -> FrameMasks:
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
        coords, labels = check_video_points(point_coords, point_labels, self.frame_size)
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_points_or_box(
                self.inference_state,
                frame_idx,
                obj_id,
                points=coords.astype(np.float32),
                labels=labels.astype(np.int32),
                clear_old_points=bool(clear_old_points),
            )
        return self._frame_masks(f, ids, masks)

    def add_box(self, frame_idx: int, obj_id: int, box: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an XYXY pixel box (replaces its clicks there).

        Raises
        ------
        BackendError, PromptError
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        b = check_box(box, self.frame_size).astype(np.float32)
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_points_or_box(
                self.inference_state, frame_idx, obj_id, box=b, clear_old_points=True
            )
        return self._frame_masks(f, ids, masks)

    def add_mask(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an ``(H, W)`` bool mask at frame size.

        Raises
        ------
        BackendError, PromptError
            Wrong mask shape (it must match the frame size).
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        m = torch.from_numpy(np.ascontiguousarray(check_mask(mask, self.frame_size)))
        self._tracer.record_without_memory(obj_id, frame_idx)  # replaced if sam2 reads memory after all
        with torch.inference_mode(), self._autocast():
            f, ids, masks = self.predictor.add_new_mask(self.inference_state, frame_idx, obj_id, m)
        return self._frame_masks(f, ids, masks)

    # -- tracking ---------------------------------------------------------------------------
    def propagate(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None, reverse: bool = False
    ) -> Iterator[FrameMasks]:
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
        return self._checked_propagate(start_frame_idx, max_frame_num_to_track, reverse, False)

    def propagate_logits(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None, reverse: bool = False
    ) -> Iterator[FrameMasks]:
        """As :meth:`propagate`, with ``FrameMasks.logits`` set: ``(O, H, W)`` float32, the
        predictor's mask logits at frame size (after ``non_overlap_masks`` when it is on, before
        the ``> 0`` threshold that gives ``masks``), as ``tools/vos_inference.py`` reads
        ``out_mask_logits``. The :class:`~workbench.backends.base.MaskLogits` capability.

        Raises
        ------
        BackendError, PromptError
            As :meth:`propagate`.
        """
        return self._checked_propagate(start_frame_idx, max_frame_num_to_track, reverse, True)

    def _checked_propagate(self, start_frame_idx, max_frame_num_to_track, reverse, logits) -> Iterator[FrameMasks]:
        state = self._require_state()
        if not state["obj_ids"]:
            raise BackendError("No object prompted yet: call add_points / add_box / add_mask before propagate().")
        if start_frame_idx is not None:
            start_frame_idx, _ = self._check_frame_obj(start_frame_idx, 0)
        if max_frame_num_to_track is not None and int(max_frame_num_to_track) < 0:
            raise PromptError(f"max_frame_num_to_track must be >= 0; got {max_frame_num_to_track}.")
        return self._propagate(state, start_frame_idx, max_frame_num_to_track, bool(reverse), logits)

    def _propagate(self, state, start, max_frames, reverse, logits=False) -> Iterator[FrameMasks]:
        it = self.predictor.propagate_in_video(
            state, start_frame_idx=start, max_frame_num_to_track=max_frames, reverse=reverse
        )
        trim = self._trimmer if self.memory == "bounded" else None
        if trim is not None:
            trim.start_pass(reverse)
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
                item = self._frame_masks(f, ids, masks, logits)
                if trim is not None:
                    trim.after_frame(state, f)
            yield item

    # -- exact undo ---------------------------------------------------------------------------
    _SNAPSHOT_KEYS = (
        "obj_id_to_idx",
        "obj_idx_to_id",
        "obj_ids",
        "point_inputs_per_obj",
        "mask_inputs_per_obj",
        "output_dict_per_obj",
        "temp_output_dict_per_obj",
        "frames_tracked_per_obj",
        "constants",
    )
    """Keys of ``inference_state`` that prompts and tracking change (sam2 1.1.0). The frames
    (``images``) never change and ``cached_features`` is a cache of one frame's features."""

    def snapshot(self, clone_tensors: bool = False) -> dict:
        """Copy of the per-object inputs and outputs in ``inference_state``, for :meth:`restore`.

        Every container (dicts, lists, the per-frame output dicts) is copied. With
        ``memory="bounded"`` the per-frame outputs are spilled first, so the snapshot holds
        references to bytes on disk rather than tensors. Tensors are shared unless
        ``clone_tensors``: ``SAM2VideoPredictor`` (sam2 1.1.0) never writes into
        a stored tensor, it only puts new tensors into these containers, so shared tensors stay
        exactly as they were (tests compare them after undo).

        Raises
        ------
        BackendError
            No video loaded.
        """
        state = self._require_state()
        with torch.inference_mode():
            if self.memory == "bounded":  # history never pins tracking tensors in memory
                self._trimmer.spill_all(state)
            copied = {k: _copy_tree(state[k], clone_tensors) for k in self._SNAPSHOT_KEYS}
        policy = installed_policy(self.predictor)  # the tracking policy's own state (Kalman filters, ...)
        return {
            "video": weakref.ref(state["images"]),
            "state": copied,
            "policy": None if policy is None else copy.deepcopy(policy.policy_state()),
            "memory_log": dict(self._tracer.log),  # immutable records: a shallow copy is a snapshot
        }

    def restore(self, snapshot: object) -> None:
        """Put back a :meth:`snapshot` (copied again, so it can be restored more than once).

        Raises
        ------
        BackendError
            No video loaded, or the snapshot was taken on another video (``init_state`` since).
        """
        state = self._require_state()
        ref = snapshot.get("video") if isinstance(snapshot, dict) else None
        if not isinstance(snapshot, dict) or not callable(ref) or ref() is not state["images"]:
            raise BackendError(
                "This snapshot belongs to another video (init_state was called since); it cannot be restored."
            )
        with torch.inference_mode():
            for k, v in snapshot["state"].items():
                state[k] = _copy_tree(v, False)
        policy = installed_policy(self.predictor)
        if policy is not None and snapshot.get("policy") is not None:
            policy.set_policy_state(copy.deepcopy(snapshot["policy"]))
        self._tracer.log = dict(snapshot.get("memory_log") or {})

    # -- tracking policy ----------------------------------------------------------------------
    @property
    def tracking_policies(self) -> tuple[str, ...]:
        """Policies :meth:`set_policy` accepts (:data:`~workbench.backends.sam2.policies.POLICIES`)."""
        return tuple(POLICIES)

    @property
    def policy_name(self) -> str:
        """The tracking policy in use (``"sam2"``: sam2's own)."""
        policy = installed_policy(self.predictor)
        return DEFAULT_POLICY if policy is None else str(policy.name)

    def set_policy(self, name: str, params: dict | None = None) -> None:
        """Track with policy ``name`` from the next propagation on, on the same weights (the
        predictor's class is swapped, see :mod:`workbench.backends.sam2.policies.predictor`);
        ``backend.info.extra`` records it with every parameter.

        Raises
        ------
        UnknownNameError, ConfigError
            Unknown policy or parameter; a ``vos_optimized`` predictor (compiled methods).
        """
        policy = make_policy(name, **dict(params or {}))
        remove_policy(self.predictor)  # a policy that replaced the memory gathering took the tracer with it
        self._tracer.attach()
        if name != DEFAULT_POLICY:
            apply_policy(self.predictor, policy)  # on top of the tracer
        self.info = with_extra(self.info, policy=policy.name, policy_params=policy.params_dict())

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
        policy = installed_policy(self.predictor)
        if policy is not None:
            policy.forget_object(int(obj_id))
        self._tracer.forget_object(int(obj_id))

    # -- teaching view ------------------------------------------------------------------------
    def memory_trace(self, frame_idx: int, obj_id: int) -> MemoryTrace | None:
        """Which memories fed the prediction of ``obj_id`` on ``frame_idx``: the conditioning
        frames, non-conditioning memory frames and object pointers the memory attention read, and
        the scores of the policy that made it (the
        :class:`~workbench.backends.base.MemoryIntrospection` capability; see
        :mod:`workbench.backends.sam2.policies.trace`).

        Returns
        -------
        MemoryTrace or None
            None when the object has no prediction on the frame (not tracked yet, or an unknown
            ``obj_id``).

        Raises
        ------
        BackendError
            No video loaded.
        PromptError
            ``frame_idx`` out of range.
        """
        frame_idx, obj_id = self._check_frame_obj(frame_idx, obj_id)
        with torch.inference_mode():
            return memory_trace(self._require_state(), self.predictor, self._tracer.log, frame_idx, obj_id)


__all__ = [
    "IMG_MEAN",
    "IMG_STD",
    "MEMORY_MODES",
    "LazyFrames",
    "PreparedFrames",
    "SAM2VideoBackend",
    "preprocess_frame",
]
