"""3-D volume segmentation by slice propagation: a volume played as a video.

The slices of a volume are turned into frames (:func:`workbench.io.medical.volume_to_frames`)
and loaded into a video backend; ONE slice is prompted from its ground truth (mask, XYXY box,
or 1/3/5 clicks from the RITM simulated user), and the object is propagated forward from that
slice to the last one AND backward (``reverse=True``) to the first, the way SAM 2 is applied to
3-D medical images (survey §5; MedSAM2, Zhu et al. 2024 and Ma et al. 2025, prompt one slice
and propagate both ways). The default prompt slice is the one with the largest ground-truth
area.

Scores
------
* **3-D Dice** and **volumetric IoU**: :func:`workbench.metrics.image.dice` / ``iou`` on the
  ``(Z, H, W)`` arrays, i.e. counted over all voxels of the volume (not a mean of slices).
* **per-slice Dice**: Dice of every slice; a slice where prediction and ground truth are both
  empty scores 1 (the metric's convention), one with an empty ground truth but a prediction
  scores 0.
* volumes in mm³ of prediction and ground truth (voxel count x voxel size).

Timings: ``seconds`` is the wall time of the whole run (frame loading, prompting,
propagation), ``propagate_seconds`` that of the two propagation passes only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import VideoBackend
from ..errors import DataError, PromptError, UnknownNameError
from ..io.medical import VolumeItem, volume_to_frames
from ..metrics.image import dice, iou
from ..types import Click, clicks_to_prompt
from .clicks import ClickSimulator

VOLUME_PROMPTS = ("mask", "box", "clicks1", "clicks3", "clicks5")
"""Prompt types for the prompt slice: GT mask, GT box, or k simulated clicks."""
PROMPT_SLICES = ("largest", "middle")
"""Named prompt-slice choices: largest GT area, or the middle of the slices holding the object."""


@dataclass
class VolumeRun:
    """Result of one volume.

    Attributes
    ----------
    id, prompt : str
    prompt_slice : int
        0-based slice index that was prompted.
    dice_3d, iou_3d : float
        Dice and IoU over all voxels.
    per_slice_dice : list of float
        One Dice per slice (both empty = 1).
    pred : np.ndarray
        ``(Z, H, W)`` bool predicted mask.
    seconds : float
        Wall time of the whole run.
    propagate_seconds : float
        Wall time of the forward and backward propagation.
    spacing : tuple of float
        ``(dz, dy, dx)`` voxel size in mm.
    forward_slices, backward_slices : list of int
        Slices the backend returned masks for in each direction (both include the prompt slice).
    gt_volume_mm3, pred_volume_mm3 : float
    prompt_clicks : list of Click
        Row/column clicks given, for click prompts.
    untrained : bool
        The backend ran with random weights: the scores mean nothing.
    """

    id: str
    prompt: str
    prompt_slice: int
    dice_3d: float
    iou_3d: float
    per_slice_dice: list[float]
    pred: np.ndarray
    seconds: float
    propagate_seconds: float = 0.0
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    forward_slices: list[int] = field(default_factory=list)
    backward_slices: list[int] = field(default_factory=list)
    gt_volume_mm3: float = 0.0
    pred_volume_mm3: float = 0.0
    prompt_clicks: list[Click] = field(default_factory=list)
    untrained: bool = False

    @property
    def num_slices(self) -> int:
        return int(self.pred.shape[0])

    @property
    def prompt_slice_dice(self) -> float:
        """Dice on the prompted slice."""
        return self.per_slice_dice[self.prompt_slice]

    @property
    def slices_per_second(self) -> float:
        """Slices propagated per second (both passes; the prompt slice counted in each)."""
        n = len(self.forward_slices) + len(self.backward_slices)
        return n / self.propagate_seconds if self.propagate_seconds > 0 else float("nan")

    def as_row(self) -> dict:
        """Scalar fields for a results table (no arrays)."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "prompt_slice": self.prompt_slice,
            "num_slices": self.num_slices,
            "dice_3d": self.dice_3d,
            "iou_3d": self.iou_3d,
            "prompt_slice_dice": self.prompt_slice_dice,
            "gt_volume_mm3": self.gt_volume_mm3,
            "pred_volume_mm3": self.pred_volume_mm3,
            "seconds": self.seconds,
            "propagate_seconds": self.propagate_seconds,
            "untrained": self.untrained,
        }


def choose_prompt_slice(gt: np.ndarray, prompt_slice: str | int = "largest") -> int:
    """Pick the slice to prompt.

    Parameters
    ----------
    gt : (Z, H, W) bool
    prompt_slice : {"largest", "middle"} or int
        ``"largest"``: most labelled voxels (first such slice on ties); ``"middle"``: the
        middle one of the slices holding the object; an int: that slice.

    Raises
    ------
    DataError
        The ground truth is empty.
    UnknownNameError
        Unknown name.
    PromptError
        Integer out of range, or a slice without the object.
    """
    areas = gt.reshape(gt.shape[0], -1).sum(axis=1)
    present = np.flatnonzero(areas)
    if present.size == 0:
        raise DataError("The ground-truth volume is empty: there is no object to prompt.")
    if isinstance(prompt_slice, str):
        if prompt_slice == "largest":
            return int(np.argmax(areas))
        if prompt_slice == "middle":
            return int(present[(present.size - 1) // 2])
        raise UnknownNameError("prompt slice", prompt_slice, [*PROMPT_SLICES, "<slice index>"])
    if isinstance(prompt_slice, bool) or not isinstance(prompt_slice, (int, np.integer)):
        raise PromptError(f"prompt_slice must be one of {PROMPT_SLICES} or a slice index; got {prompt_slice!r}.")
    z = int(prompt_slice)
    if not 0 <= z < gt.shape[0]:
        raise PromptError(f"prompt_slice {z} is outside the volume's {gt.shape[0]} slices (0..{gt.shape[0] - 1}).")
    if areas[z] == 0:
        raise PromptError(f"Slice {z} holds no labelled voxel; prompt one of slices {present.tolist()}.")
    return z


def mask_box_xyxy(mask: np.ndarray) -> np.ndarray:
    """Tight box of a non-empty ``(H, W)`` mask as SAM's ``box``: ``(4,)`` float32 XYXY pixels
    (x = column, y = row, inclusive corners)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)


def _prompt_slice(backend: VideoBackend, z: int, obj_id: int, target: np.ndarray, prompt: str) -> list[Click]:
    if prompt == "mask":
        backend.add_mask(z, obj_id, target)
        return []
    if prompt == "box":
        backend.add_box(z, obj_id, mask_box_xyxy(target))
        return []
    sim = ClickSimulator(target)
    pred = np.zeros_like(target)
    for _ in range(int(prompt.removeprefix("clicks"))):
        sim.next_click(pred)
        coords, labels = clicks_to_prompt(sim.clicks)
        pred = backend.add_points(z, obj_id, coords, labels, clear_old_points=True).mask_of(obj_id)
    return sim.clicks


def run_volume_protocol(
    video_backend: VideoBackend,
    volume_item: VolumeItem,
    prompt: str = "mask",
    prompt_slice: str | int = "largest",
    obj_id: int = 1,
    window: tuple[float, float] | None = None,
    max_frame_num_to_track: int | None = None,
) -> VolumeRun:
    """Prompt one slice of a volume, propagate both ways, score in 3-D.

    Parameters
    ----------
    video_backend : VideoBackend
        Any backend of :func:`workbench.backends.make_video_backend`; its ``init_state`` gets
        the list of ``(H, W, 3)`` uint8 frames.
    volume_item : VolumeItem
        Volume and its binary ground truth (e.g. from :func:`workbench.io.medical.load_volumes`).
    prompt : str
        One of ``VOLUME_PROMPTS``, made from the ground truth of the prompt slice.
    prompt_slice : {"largest", "middle"} or int
        See :func:`choose_prompt_slice`.
    obj_id : int
        Object id used with the backend.
    window : (lo, hi), optional
        Intensity window for :func:`volume_to_frames` (default: 0.5-99.5 percentiles).
    max_frame_num_to_track : int, optional
        Most slices tracked on EACH side of the prompt slice (SAM 2's parameter, passed to both
        passes); slices beyond stay empty in ``pred`` and are scored as such. Default all.

    Returns
    -------
    VolumeRun

    Raises
    ------
    UnknownNameError
        Unknown ``prompt`` or ``prompt_slice`` name.
    PromptError
        Invalid slice index.
    DataError
        Empty ground truth, or the backend's frame count / mask size differs from the volume.
    """
    if prompt not in VOLUME_PROMPTS:
        raise UnknownNameError("volume prompt", prompt, VOLUME_PROMPTS)
    start = time.perf_counter()
    volume, gt, spacing = volume_item.load()
    z = choose_prompt_slice(gt, prompt_slice)
    video_backend.init_state(volume_to_frames(volume, window))
    if video_backend.num_frames != gt.shape[0]:
        raise DataError(f"{volume_item.id}: backend loaded {video_backend.num_frames} frames for {gt.shape[0]} slices.")
    clicks = _prompt_slice(video_backend, z, obj_id, gt[z], prompt)

    pred = np.zeros(gt.shape, dtype=bool)
    visited: dict[bool, list[int]] = {False: [], True: []}
    t0 = time.perf_counter()
    for reverse in (False, True):
        for fm in video_backend.propagate(
            start_frame_idx=z, max_frame_num_to_track=max_frame_num_to_track, reverse=reverse
        ):
            m = fm.mask_of(obj_id)
            if m.shape != gt.shape[1:]:
                raise DataError(
                    f"{volume_item.id}: backend returned masks of size {m.shape}, slices are {gt.shape[1:]}."
                )
            if not (reverse and fm.frame_idx == z):  # the prompt slice keeps its forward-pass mask
                pred[fm.frame_idx] = m
            visited[reverse].append(int(fm.frame_idx))
    propagate_seconds = time.perf_counter() - t0
    video_backend.reset()

    voxel_mm3 = float(np.prod(spacing))
    info = getattr(video_backend, "info", None)
    return VolumeRun(
        id=volume_item.id,
        prompt=prompt,
        prompt_slice=z,
        dice_3d=dice(pred, gt),
        iou_3d=iou(pred, gt),
        per_slice_dice=[dice(p, g) for p, g in zip(pred, gt)],
        pred=pred,
        seconds=time.perf_counter() - start,
        propagate_seconds=propagate_seconds,
        spacing=(spacing[0], spacing[1], spacing[2]),
        forward_slices=visited[False],
        backward_slices=visited[True],
        gt_volume_mm3=float(gt.sum()) * voxel_mm3,
        pred_volume_mm3=float(pred.sum()) * voxel_mm3,
        prompt_clicks=list(clicks),
        untrained=bool(getattr(info, "untrained", False)),
    )


__all__ = [
    "PROMPT_SLICES",
    "VOLUME_PROMPTS",
    "VolumeRun",
    "choose_prompt_slice",
    "mask_box_xyxy",
    "run_volume_protocol",
]
