"""The two protocols every backend implements (image prompting and video tracking).

Only plain numpy values cross this boundary; torch stays inside the backends.
Prompt names and conventions follow SAM 2's predictors (see :mod:`workbench.types`).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..types import FrameMasks, ImagePrediction, ModelInfo


@runtime_checkable
class ImageBackend(Protocol):
    """Promptable image segmentation: set an image once, then prompt it many times.

    Mirrors ``sam2.sam2_image_predictor.SAM2ImagePredictor``.
    """

    info: ModelInfo

    def set_image(self, image: np.ndarray) -> None:
        """Embed ``image``: ``(H, W, 3)`` uint8 RGB. Later ``predict`` calls reuse it.

        Raises ``DataError`` for anything else (shape, dtype)."""

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> ImagePrediction:
        """Segment the current image from prompts.

        Parameters
        ----------
        point_coords : (N, 2) float array, x, y pixels of the original image, optional
        point_labels : (N,) int array, 1 positive / 0 negative, required with points
        box : (4,) float array, XYXY pixels, optional
        mask_input : (1, h, w) float32 low-resolution logits from a previous
            ``ImagePrediction.low_res_logits[i:i+1]``, optional
        multimask_output : bool
            Return 3 candidate masks (True) or 1.

        Raises
        ------
        PromptError
            Malformed prompt, or no prompt at all.
        BackendError
            ``set_image`` was not called first.
        """

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""


@runtime_checkable
class VideoBackend(Protocol):
    """Promptable video object tracking, mirroring ``SAM2VideoPredictor``.

    The backend keeps one ``inference_state`` (created by :meth:`init_state`). Prompts may be
    given for any ``obj_id`` (int) on any ``frame_idx``; :meth:`propagate` then yields masks
    for every object on every frame in the requested direction.
    """

    info: ModelInfo

    @property
    def num_frames(self) -> int:
        """Number of frames of the loaded video (0 before ``init_state``)."""

    @property
    def obj_ids(self) -> list[int]:
        """Object ids prompted so far, in insertion order."""

    def init_state(self, video: str | Path | Sequence[np.ndarray]) -> None:
        """Load a video: a folder of JPEG frames named by index, an ``.mp4`` file, or a
        sequence of ``(H, W, 3)`` uint8 RGB frames. Resets any previous state."""

    def add_points(
        self, frame_idx: int, obj_id: int, point_coords: np.ndarray, point_labels: np.ndarray,
        clear_old_points: bool = True,
    ) -> FrameMasks:
        """Add clicks (x, y pixels; 1/0 labels) for ``obj_id`` on ``frame_idx``; return the
        masks of all objects on that frame."""

    def add_box(self, frame_idx: int, obj_id: int, box: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an XYXY pixel box."""

    def add_mask(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an ``(H, W)`` bool mask."""

    def propagate(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[FrameMasks]:
        """Track every object from ``start_frame_idx`` (default: first prompted frame)
        forward, or backward when ``reverse``; yield one :class:`FrameMasks` per frame."""

    def remove_object(self, obj_id: int) -> None:
        """Remove ``obj_id`` and all its prompts and outputs."""

    def reset(self) -> None:
        """Clear all prompts and tracking results, keeping the loaded video."""

    def snapshot(self) -> object:
        """An opaque copy of the prompt and tracking state (for SAM 2: the per-object inputs
        and outputs of ``inference_state``) that :meth:`restore` puts back exactly; used for
        exact undo by :class:`workbench.sessions.VideoSession`. Raises ``BackendError`` before
        ``init_state``."""

    def restore(self, snapshot: object) -> None:
        """Return to the state of a :meth:`snapshot` (restorable any number of times).
        Raises ``BackendError`` when it was taken on another video."""
