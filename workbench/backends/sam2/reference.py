"""The raw SAM 2 API, driven the way its own notebooks and ``tools/benchmark.py`` drive it,
as the baseline of ``workbench bench`` (:mod:`workbench.bench`), plus the torch-side helpers
the benchmark needs (threads, GPU memory, synchronisation). Torch stays in this package.

Source: ``notebooks/video_predictor_example.ipynb``, ``notebooks/image_predictor_example.ipynb``
and ``tools/benchmark.py`` of facebookresearch/sam2 (sam2 1.1.0).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..runtime import installed_version
from .loading import autocast_context, backbone_feature_sizes, build_sam2_model, enable_tf32, resolve_precision

if TYPE_CHECKING:
    from sam2.sam2_video_predictor import SAM2VideoPredictor


def set_threads(n: int | None) -> int:
    """Set torch's intra-op CPU threads when ``n`` is given; return the number in use."""
    if n:
        torch.set_num_threads(int(n))
    return int(torch.get_num_threads())


def runtime_info(device: str) -> dict:
    """Versions and hardware: ``torch``, ``sam2``, ``cuda`` (None on CPU), ``gpu`` name, ``threads``."""
    dev = torch.device(device)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    return {
        "torch": torch.__version__,
        "sam2": installed_version("sam2") or "unknown",
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "gpu": gpu,
        "threads": int(torch.get_num_threads()),
    }


def synchronize(device) -> None:
    """Wait for queued GPU work (timing); no-op on CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def gpu_memory(device, reset: bool = False) -> dict | None:
    """``{"peak_bytes", "now_bytes"}`` allocated by torch on ``device`` (None on CPU);
    ``reset`` starts a new peak."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    out = {"peak_bytes": int(torch.cuda.max_memory_allocated(dev)), "now_bytes": int(torch.cuda.memory_allocated(dev))}
    if reset:
        torch.cuda.reset_peak_memory_stats(dev)
    return out


def build_video_model(model: str, checkpoint, device: str, image_size: int, vos_optimized: bool = False, seed: int = 0):
    """``(SAM2VideoPredictor, ModelInfo)`` from :func:`build_sam2_model` (same weights for
    the same ``seed`` / checkpoint, so the raw and the workbench side can each get their own
    instance)."""
    return build_sam2_model(model, checkpoint, device, image_size, mode="video", seed=seed, vos_optimized=vos_optimized)


def build_image_model(model: str, checkpoint, device: str, image_size: int, seed: int = 0):
    """``(SAM2Base, ModelInfo)`` for image prediction."""
    return build_sam2_model(model, checkpoint, device, image_size, mode="image", seed=seed)


@dataclass
class VideoPrompt:
    """One prompt of the benchmark: clicks (``points`` (N, 2) x, y pixels, ``labels`` 1/0) or
    a ``box`` (XYXY pixels) for ``obj_id`` on ``frame_idx``."""

    frame_idx: int
    obj_id: int
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None


@dataclass
class RawVideoLoop:
    """The notebook loop: ``init_state`` on a JPEG folder, prompts, ``propagate_in_video``,
    masks ``(logits > 0).cpu().numpy()`` per object and frame (not accumulated).

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        Not wrapped by any workbench backend (no hooks).
    video_dir : str
        Folder of ``%05d.jpg`` frames.
    precision : {"auto", "fp32", "bf16"}
        bf16 autocast (and TF32) on CUDA as the official benchmark; fp32 on CPU.
    keep_masks : int
        Masks of the first ``keep_masks`` frames are kept (bit-packed) in :attr:`masks`.
    """

    predictor: SAM2VideoPredictor
    video_dir: str
    precision: str = "auto"
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    keep_masks: int = 0
    masks: dict = field(default_factory=dict)

    def __post_init__(self):
        self.device = self.predictor.device
        self.precision = resolve_precision(self.precision, self.device)
        if self.precision == "bf16":
            enable_tf32(self.device)
        with torch.inference_mode(), autocast_context(self.device, self.precision):
            self.state = self.predictor.init_state(
                self.video_dir,
                offload_video_to_cpu=self.offload_video_to_cpu,
                offload_state_to_cpu=self.offload_state_to_cpu,
            )

    def prompt(self, prompts: list[VideoPrompt]) -> None:
        """``reset_state`` then every prompt (``add_new_points_or_box``)."""
        p = self.predictor
        with torch.inference_mode(), autocast_context(self.device, self.precision):
            p.reset_state(self.state)
            for q in prompts:
                p.add_new_points_or_box(self.state, q.frame_idx, q.obj_id, points=q.points, labels=q.labels, box=q.box)

    def propagate(self, max_frame_num_to_track: int | None = None) -> tuple[int, float]:
        """Track forward from the first prompted frame; returns ``(frames, seconds)``."""
        n, t0 = 0, time.perf_counter()
        with torch.inference_mode(), autocast_context(self.device, self.precision):
            for f, ids, logits in self.predictor.propagate_in_video(
                self.state, max_frame_num_to_track=max_frame_num_to_track
            ):
                # the notebook's per-frame work; the masks are not accumulated, so memory runs
                # measure the predictor alone (the workbench side keeps none either)
                masks = {oid: (logits[i] > 0.0).cpu().numpy() for i, oid in enumerate(ids)}
                if f < self.keep_masks:
                    self.masks[int(f)] = {int(k): np.packbits(v) for k, v in masks.items()}
                n += 1
        synchronize(self.device)
        return n, time.perf_counter() - t0


class RawImagePredictor:
    """``SAM2ImagePredictor`` as its notebook uses it (``set_image`` once, then ``predict``).

    The only change is the one any non-1024 input size needs: the predictor's hard-coded
    backbone feature sizes are recomputed from ``model.image_size``.
    """

    def __init__(self, model, precision: str = "auto"):
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        self.predictor = SAM2ImagePredictor(model)
        self.predictor._bb_feat_sizes = backbone_feature_sizes(int(model.image_size))

    def set_image(self, image: np.ndarray) -> None:
        with torch.inference_mode(), autocast_context(self.device, self.precision):
            self.predictor.set_image(image)

    def predict(self, point_coords: np.ndarray, point_labels: np.ndarray, multimask_output: bool = True):
        """``(masks (C, H, W), iou (C,), low_res_logits (C, h, w))`` numpy, as the predictor returns."""
        with torch.inference_mode(), autocast_context(self.device, self.precision):
            out = self.predictor.predict(
                point_coords=point_coords, point_labels=point_labels, multimask_output=multimask_output
            )
        synchronize(self.device)
        return out


def image_pair(model: str, checkpoint, device: str, image_size: int, precision: str, image: np.ndarray):
    """``(RawImagePredictor, SAM2ImageBackend)`` sharing one model, the raw one with
    ``image`` already embedded."""
    from .image import SAM2ImageBackend

    net, info = build_image_model(model, checkpoint, device, image_size)
    raw = RawImagePredictor(net, precision)
    raw.set_image(image)
    return raw, SAM2ImageBackend(net, info, precision=precision)


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS counter (``VmHWM``) of this process (Linux >= 4.0:
    ``echo 5 > /proc/self/clear_refs``), so building the model does not count as the peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss(since_reset: bool) -> int:
    """Peak RSS in bytes: ``VmHWM`` after :func:`_reset_peak_rss`, else ``ru_maxrss``."""
    if since_reset:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_run(spec: dict, point_xy, box_xyxy) -> dict:
    """Track every frame of ``spec["frames_dir"]`` with two objects (a click at ``point_xy``,
    a box ``box_xyxy``, both on frame 0) and report memory. Meant for a fresh process, where
    ``ru_maxrss`` is this configuration's peak.

    ``spec``: ``impl`` ("raw": :class:`RawVideoLoop`; "workbench": the backend with
    ``memory="bounded"`` and lazy frames), ``n``, ``frames_dir``, ``model``, ``checkpoint``,
    ``device``, ``image_size``, ``precision``, ``threads``, ``track`` (frames tracked from
    frame 0; None: all), ``keep_masks`` (frames whose masks
    are saved bit-packed to ``masks_out``, an ``.npz`` keyed ``"<frame>_<obj>"``).

    Returns
    -------
    dict
        ``peak_rss_bytes`` (peak after the model was built when the kernel allows resetting
        the counter, ``peak_since_model``; else the process peak), ``model_rss_bytes`` (RSS
        after building the model), ``video_rss_bytes`` (the difference), ``gpu`` (:func:`gpu_memory`), ``state`` (bytes held by the tracking
        state at the end, :func:`~workbench.backends.sam2.memory.state_nbytes`), ``seconds``.
    """
    from .memory import state_nbytes
    from .video import SAM2VideoBackend

    set_threads(spec.get("threads"))
    net, info = build_video_model(spec["model"], spec["checkpoint"], spec["device"], spec["image_size"])
    base, reset, t0 = _rss_now(), _reset_peak_rss(), time.perf_counter()
    gpu_memory(spec["device"], reset=True)
    keep, masks = int(spec["keep_masks"]), {}
    point = np.array([point_xy], np.float32)
    track = spec.get("track")
    most = None if not track else int(track) - 1
    if spec["impl"] == "raw":
        loop = RawVideoLoop(net, spec["frames_dir"], spec["precision"], keep_masks=keep)
        loop.prompt(
            [VideoPrompt(0, 1, point, np.array([1], np.int32)), VideoPrompt(0, 2, box=np.array(box_xyxy, np.float32))]
        )
        frames, _ = loop.propagate(most)
        masks, state = loop.masks, state_nbytes(loop.state)
    else:
        b = SAM2VideoBackend(net, info, precision=spec["precision"], memory="bounded", lazy_frames=True)
        b.init_state(spec["frames_dir"])
        b.add_points(0, 1, point, np.array([1]))
        b.add_box(0, 2, np.array(box_xyxy, np.float32))
        frames = 0
        for fm in b.propagate(max_frame_num_to_track=most):
            frames += 1
            if fm.frame_idx < keep:
                masks[fm.frame_idx] = {o: np.packbits(fm.masks[i]) for i, o in enumerate(fm.obj_ids)}
        state = b.memory_stats()
    np.savez(spec["masks_out"], **{f"{f}_{o}": v for f, d in masks.items() for o, v in d.items()})
    peak = _peak_rss(reset)
    return {
        "impl": spec["impl"],
        "n": spec["n"],
        "frames_tracked": frames,
        "seconds": time.perf_counter() - t0,
        "peak_rss_bytes": peak,
        "peak_since_model": reset,
        "model_rss_bytes": base,
        "video_rss_bytes": max(peak - base, 0),
        "gpu": gpu_memory(spec["device"]),
        "state": state,
    }


def policy_memory_run(spec: dict, point_xy) -> dict:
    """Track every frame of ``spec["frames_dir"]`` with one object (a click at ``point_xy`` on
    frame 0) through the bounded-memory backend with a tracking policy, and report memory after
    ``spec["checkpoints"]`` tracked frames and at the end. Meant for a fresh process, where the
    kernel's high-water mark is this configuration's peak.

    ``spec``: ``frames_dir``, ``n``, ``model``, ``checkpoint``, ``device``, ``image_size``,
    ``precision``, ``threads``, ``policy`` (a name of
    :data:`~workbench.backends.sam2.policies.POLICIES`), ``policy_params`` (dict or None),
    ``checkpoints`` (tracked-frame counts, e.g. ``[200]``), ``trace_every`` (current RSS sampled
    every that many frames; 0: never). The backend is ``SAM2VideoBackend(memory="bounded",
    lazy_frames=True)``, the same as the ``workbench`` side of :func:`memory_run`.

    Returns
    -------
    dict
        ``policy``, ``policy_params``, ``n``, ``frames_tracked``, ``seconds``,
        ``model_rss_bytes`` (RSS after building the model), ``peak_since_model`` (whether the
        peak counter could be reset after that), ``at``: one dict per checkpoint and one for the
        end (``frames`` tracked so far, ``peak_rss_bytes`` = the high-water mark so far,
        ``video_rss_bytes`` = that minus ``model_rss_bytes``, ``rss_bytes`` now, ``gpu``
        (:func:`gpu_memory`, peak so far), ``state`` (:meth:`SAM2VideoBackend.memory_stats`:
        tensors held in memory, spilled bytes), ``policy_state_bytes`` (pickled size of the
        policy's plain-data state)), ``trace``: ``[frames, rss_bytes]`` samples.
    """
    import pickle

    from .policies import installed_policy
    from .video import SAM2VideoBackend

    set_threads(spec.get("threads"))
    net, info = build_video_model(spec["model"], spec["checkpoint"], spec["device"], spec["image_size"])
    b = SAM2VideoBackend(net, info, precision=spec["precision"], memory="bounded", lazy_frames=True)
    b.set_policy(spec["policy"], spec.get("policy_params"))
    base, reset, t0 = _rss_now(), _reset_peak_rss(), time.perf_counter()
    gpu_memory(spec["device"], reset=True)
    checkpoints = {int(c) for c in spec.get("checkpoints", ())}
    every = int(spec.get("trace_every") or 0)
    at: list[dict] = []
    trace: list[list[int]] = []

    def snapshot(frames: int) -> dict:
        peak = _peak_rss(reset)
        policy = installed_policy(b.predictor)
        return {
            "frames": frames,
            "peak_rss_bytes": peak,
            "video_rss_bytes": max(peak - base, 0),
            "rss_bytes": _rss_now(),
            "gpu": gpu_memory(spec["device"]),
            "state": b.memory_stats(),
            "policy_state_bytes": 0 if policy is None else len(pickle.dumps(policy.policy_state())),
        }

    b.init_state(spec["frames_dir"])
    b.add_points(0, 1, np.array([point_xy], np.float32), np.array([1]))
    frames = 0
    for _ in b.propagate():
        frames += 1
        if frames in checkpoints:
            at.append(snapshot(frames))
        if every and frames % every == 0:
            trace.append([frames, _rss_now()])
    at.append(snapshot(frames))
    return {
        "policy": b.policy_name,
        "policy_params": dict(b.info.extra.get("policy_params") or {}),
        "n": spec["n"],
        "frames_tracked": frames,
        "seconds": time.perf_counter() - t0,
        "model_rss_bytes": base,
        "peak_since_model": reset,
        "at": at,
        "trace": trace,
    }


class DecoderCalls:
    """Counts calls of a SAM 2 predictor's mask decoder (``sam_mask_decoder`` forward) while
    the ``with`` block runs: how many decoder runs a tracking policy needs per frame (sam2 and
    SAMURAI one per object and frame; SAM2Long up to ``num_pathway``, pathways with the same
    memory share one run).

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        The built predictor (``SAM2VideoBackend.predictor``).
    """

    def __init__(self, predictor):
        self.module = predictor.sam_mask_decoder
        self.calls = 0
        self._handle = None

    def _hook(self, module, args, output) -> None:
        self.calls += 1

    def __enter__(self) -> DecoderCalls:
        self.calls = 0
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


__all__ = [
    "DecoderCalls",
    "RawImagePredictor",
    "RawVideoLoop",
    "VideoPrompt",
    "build_image_model",
    "build_video_model",
    "gpu_memory",
    "image_pair",
    "memory_run",
    "policy_memory_run",
    "runtime_info",
    "set_threads",
    "synchronize",
]
