"""Object detectors that prompt the video models (detector-prompted tracking).

A detector turns a frame into boxes (:class:`~workbench.types.Detector`: ``frame (H, W, 3)
uint8 -> Detections``: boxes ``(N, 4)`` XYXY float32 pixels, scores ``(N,)``, labels ``(N,)``).

================================  =====================  ========================================
detector                          ``DetectorSpec.kind``  module
================================  =====================  ========================================
ground truth + controlled noise   ``"gt"``               :mod:`.ground_truth` (numpy only)
torchvision detection models      ``"torchvision"``      :mod:`.torchvision_models`
Ultralytics YOLO (optional extra) ``"ultralytics"``      :mod:`.ultralytics_yolo`
================================  =====================  ========================================

:func:`make_detector` builds the detector a :class:`DetectorSpec` names; the model families are
imported only then (this package and :mod:`.spec` import no torch). How the boxes prompt a
video model is :mod:`workbench.protocols.detect`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...errors import ConfigError
from ...types import Detections, Detector
from .ground_truth import GroundTruthDetector
from .spec import DEFAULT_TORCHVISION_MODEL, DEFAULT_YOLO_CONFIG, DETECTOR_KINDS, DETECTOR_MODES, DetectorSpec

__all__ = [
    "DEFAULT_TORCHVISION_MODEL",
    "DEFAULT_YOLO_CONFIG",
    "DETECTOR_KINDS",
    "DETECTOR_MODES",
    "Detections",
    "Detector",
    "DetectorSpec",
    "GroundTruthDetector",
    "make_detector",
]


@lru_cache(maxsize=2)
def _model_detector(spec: DetectorSpec) -> Detector:
    """Model detectors are built once per process and settings (workers reuse them)."""
    if spec.kind == "torchvision":
        from .torchvision_models import TorchvisionDetector

        return TorchvisionDetector(
            spec.model or DEFAULT_TORCHVISION_MODEL,
            weights=spec.weights,
            num_classes=spec.num_classes,
            device=spec.device,
            score_threshold=spec.score_threshold,
            classes=spec.classes,
            seed=spec.seed,
        )
    from .ultralytics_yolo import UltralyticsDetector

    return UltralyticsDetector(
        spec.model or DEFAULT_YOLO_CONFIG,
        weights=spec.weights,
        device=spec.device,
        score_threshold=spec.score_threshold,
        classes=spec.classes,
        seed=spec.seed,
    )


def make_detector(spec: DetectorSpec | None = None, annotations: np.ndarray | None = None, key: str = "") -> Detector:
    """Build the detector ``spec`` names.

    Parameters
    ----------
    spec : DetectorSpec, optional
        Default ``DetectorSpec()`` (the ground-truth detector without noise).
    annotations : (T, H, W) integer array, optional
        Object ids per frame; required by the ground-truth detector (``kind="gt"``).
    key : str
        Name mixed into the ground-truth detector's noise seed (the sequence name).

    Returns
    -------
    Detector
        A :class:`GroundTruthDetector`, :class:`~.torchvision_models.TorchvisionDetector` or
        :class:`~.ultralytics_yolo.UltralyticsDetector`. Model detectors are cached per spec
        (the same object for equal specs within a process).

    Raises
    ------
    ConfigError
        ``kind="gt"`` without annotations.
    BackendError
        ``kind="ultralytics"`` without the ``ultralytics`` package; bad device.
    UnknownNameError, CheckpointError
        Unknown model name; missing, unsafe or mismatching weights.
    """
    spec = DetectorSpec() if spec is None else spec
    if spec.kind == "gt":
        if annotations is None:
            raise ConfigError(
                "The ground-truth detector (kind='gt') derives its boxes from annotations: pass "
                "annotations=(T, H, W) object ids (e.g. VideoItem.load_annotations())."
            )
        return GroundTruthDetector(annotations, spec.jitter, spec.miss_rate, spec.false_positives, spec.seed, key)
    return _model_detector(spec)
