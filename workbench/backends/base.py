"""The protocols backends implement, and the optional capabilities they declare.

Two roles: :class:`ImageBackend` (image prompting) and :class:`VideoBackend` (video tracking).
Optional capabilities are protocols too, tested with :func:`supports` (never by probing
attributes): :class:`MaskGenerator` ("segment everything", ``generate_masks``),
:class:`Snapshotable` (exact undo through ``snapshot`` / ``restore``; every video backend has
it), :class:`MaskLogits` (propagation that also returns mask logits, ``propagate_logits``),
:class:`PolicySwitchable` (tracking policies) and :class:`MemoryIntrospection` (which memories
fed a frame's prediction, ``memory_trace``). Which backend has which:

=============================  =============  =========  ==========  =======  =======  ======
backend                        MaskGenerator  Snapshot.  MaskLogits  Policy.  Memory.  role
=============================  =============  =========  ==========  =======  =======  ======
classical GrabCut (image)      yes            no         no          no       no       image
classical flow (video)         no             yes        no          no       no       video
SAM (v1) image                 yes            no         no          no       no       image
SAM 2 image                    yes            no         no          no       no       image
SAM 2 video                    no             yes        yes         yes      yes      video
transformers image             no             no         no          no       no       image
transformers video             no             yes        yes         no       no       video
=============================  =============  =========  ==========  =======  =======  ======

:class:`ConceptPrompts` (text prompts that find every instance of a concept) is declared by the
``transformers`` SAM 3 backends (``model="sam3"``) only.

Only plain numpy values cross this boundary; torch stays inside the backends.
Prompt names and conventions follow SAM 2's predictors (see :mod:`workbench.types`); every
backend validates them with :mod:`workbench.backends.validate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..types import ConceptPrediction, FrameMasks, ImagePrediction, MemoryTrace, ModelInfo


@runtime_checkable
class ImageBackend(Protocol):
    """Promptable image segmentation: set an image once, then prompt it many times.

    Mirrors ``sam2.sam2_image_predictor.SAM2ImagePredictor``.
    """

    info: ModelInfo

    @property
    def low_res_size(self) -> int:
        """Side in pixels of ``ImagePrediction.low_res_logits`` and of a valid ``mask_input``
        (``image_size / 4``: 256 for SAM / SAM 2 at 1024; 256 for classical)."""

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
class MaskGenerator(Protocol):
    """Capability: segment everything in an image without prompts ("automatic mask generation").

    Mirrors ``sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator.generate``.
    """

    def generate_masks(self, image: np.ndarray, **params) -> list[dict]:
        """Segment everything in ``image`` (``(H, W, 3)`` uint8 RGB).

        Returns
        -------
        list of dict
            One record per mask in ``SAM2AutomaticMaskGenerator``'s format: ``segmentation``
            ``(H, W)`` bool, ``area`` (pixels), ``bbox`` XYWH pixels, ``predicted_iou``,
            ``point_coords`` ``[[x, y]]``, ``stability_score``, ``crop_box`` XYWH. Sorted by
            ``area``, largest first.

        Raises
        ------
        DataError, UnknownNameError, ConfigError
            Bad image, unknown or out-of-range parameter."""


@runtime_checkable
class Snapshotable(Protocol):
    """Capability: copy and put back the whole prompt and tracking state (exact undo)."""

    def snapshot(self) -> object:
        """An opaque copy of the prompt and tracking state that :meth:`restore` puts back
        exactly. Raises ``BackendError`` before a video is loaded."""

    def restore(self, snapshot: object) -> None:
        """Return to the state of a :meth:`snapshot` (restorable any number of times).
        Raises ``BackendError`` when it was taken on another video."""


@runtime_checkable
class PolicySwitchable(Protocol):
    """Capability: track with one of several tracking policies (SAM 2: ``"sam2"``,
    ``"samurai"``, ...; see :mod:`workbench.backends.sam2.policies`)."""

    @property
    def tracking_policies(self) -> tuple[str, ...]:
        """Names :meth:`set_policy` accepts."""

    @property
    def policy_name(self) -> str:
        """The policy tracking uses now."""

    def set_policy(self, name: str, params: dict | None = None) -> None:
        """Track with policy ``name`` (``params`` by the names of its paper) from the next
        propagation on; results already computed stay until re-propagated. Raises
        ``UnknownNameError`` / ``ConfigError`` for bad names or parameters."""


@runtime_checkable
class MaskLogits(Protocol):
    """Capability: video propagation that also returns every object's mask logits.

    Needed where objects tracked separately are merged by their scores, as
    ``tools/vos_inference.py`` does for objects that appear later in a video."""

    def propagate_logits(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None, reverse: bool = False
    ) -> Iterator[FrameMasks]:
        """As ``VideoBackend.propagate``, with ``FrameMasks.logits`` set (``(O, H, W)`` float32
        mask logits at frame size; ``masks == logits > 0``)."""


@runtime_checkable
class MemoryIntrospection(Protocol):
    """Capability: say which memories fed the prediction of an object on a frame (SAM 2: the
    conditioning frames, non-conditioning memory frames and object pointers its memory attention
    read, and the tracking policy's scores), as recorded while the model ran."""

    def memory_trace(self, frame_idx: int, obj_id: int) -> MemoryTrace | None:
        """The :class:`~workbench.types.MemoryTrace` of ``obj_id`` on ``frame_idx``; None when the
        object has no prediction there (not tracked yet) or it was made without a record.
        Raises ``BackendError`` before a video is loaded."""


@runtime_checkable
class ConceptPrompts(Protocol):
    """Capability: text concept prompts (SAM 3): a noun phrase finds every matching instance.

    Mirrors ``transformers``' ``Sam3Model`` (image) and ``Sam3VideoModel`` (video)."""

    def segment_concept(self, image: np.ndarray, text: str, threshold: float = 0.5) -> ConceptPrediction:
        """Every instance of ``text`` in ``image`` (``(H, W, 3)`` uint8 RGB) with a score of at
        least ``threshold``: masks, XYXY boxes and scores. Raises ``PromptError`` for an empty
        phrase, ``DataError`` for a bad image, ``ConfigError`` for a threshold outside [0, 1]."""

    def track_concept(
        self, video: str | Path | Sequence[np.ndarray], text: str, max_frame_num_to_track: int | None = None
    ) -> Iterator[FrameMasks]:
        """Detect and track every instance of ``text`` through ``video`` from frame 0; one
        :class:`FrameMasks` per frame, instances keep their ``obj_ids`` across frames and
        ``object_scores`` holds their detection scores."""


CAPABILITIES = (MaskGenerator, Snapshotable, MaskLogits, PolicySwitchable, MemoryIntrospection, ConceptPrompts)
"""The optional capabilities a backend may have (protocols, see :func:`supports`)."""

_MEMBERS = {
    MaskGenerator: ("generate_masks",),
    Snapshotable: ("snapshot", "restore"),
    MaskLogits: ("propagate_logits",),
    PolicySwitchable: ("set_policy",),
    MemoryIntrospection: ("memory_trace",),
    ConceptPrompts: ("segment_concept", "track_concept"),
}


def supports(backend: object, capability: type) -> bool:
    """True when ``backend`` has ``capability`` (one of :data:`CAPABILITIES`): all the
    capability's methods are present and callable.

    Examples
    --------
    >>> from workbench.backends import MaskGenerator, make_image_backend, supports
    >>> supports(make_image_backend("classical"), MaskGenerator)
    True

    Raises
    ------
    TypeError
        ``capability`` is not one of :data:`CAPABILITIES` (a programming error).
    """
    if capability not in _MEMBERS:
        raise TypeError(
            f"supports() takes one of {[c.__name__ for c in CAPABILITIES]} as capability; got {capability!r}."
        )
    return isinstance(backend, capability) and all(callable(getattr(backend, m)) for m in _MEMBERS[capability])


def with_extra(info: ModelInfo, **extra) -> ModelInfo:
    """A copy of ``info`` with ``extra`` merged into ``info.extra``."""
    return dataclasses.replace(info, extra={**info.extra, **extra})


@runtime_checkable
class VideoBackend(Snapshotable, Protocol):
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
        self,
        frame_idx: int,
        obj_id: int,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        clear_old_points: bool = True,
    ) -> FrameMasks:
        """Add clicks (x, y pixels; 1/0 labels) for ``obj_id`` on ``frame_idx``; return the
        masks of all objects on that frame."""

    def add_box(self, frame_idx: int, obj_id: int, box: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an XYXY pixel box."""

    def add_mask(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an ``(H, W)`` bool mask."""

    def propagate(
        self,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
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
        exact undo by :class:`workbench.sessions.VideoSession` (the :class:`Snapshotable`
        capability). Raises ``BackendError`` before ``init_state``."""

    def restore(self, snapshot: object) -> None:
        """Return to the state of a :meth:`snapshot` (restorable any number of times).
        Raises ``BackendError`` when it was taken on another video."""


__all__ = [
    "CAPABILITIES",
    "ConceptPrompts",
    "ImageBackend",
    "MaskGenerator",
    "MaskLogits",
    "MemoryIntrospection",
    "PolicySwitchable",
    "Snapshotable",
    "VideoBackend",
    "supports",
    "with_extra",
]
