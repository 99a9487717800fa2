"""The detector settings of a detector-prompted run, as one frozen dataclass (torch-free).

:class:`DetectorSpec` says which detector makes the boxes (``kind``: a torchvision detection
model, an Ultralytics YOLO model, or the ground-truth detector of controlled studies, with its
noise) and how the boxes prompt the video model (``mode``: per-frame boxes as YOLO-SAM2, or
detect-then-track as Det-SAM2). It is a field of
:class:`workbench.protocols.specs.VOSRunSpec` (``prompt="detector"``) and is stored in the run
card. :func:`workbench.backends.detectors.make_detector` builds the detector it names.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ...errors import ConfigError, UnknownNameError

__all__ = [
    "DEFAULT_TORCHVISION_MODEL",
    "DEFAULT_YOLO_CONFIG",
    "DETECTOR_KINDS",
    "DETECTOR_MODES",
    "DetectorSpec",
]

DETECTOR_KINDS = ("gt", "torchvision", "ultralytics")
"""``gt``: boxes from the annotations (with configurable noise); ``torchvision``: a model of
``torchvision.models.detection``; ``ultralytics``: an Ultralytics YOLO model (optional extra)."""
DETECTOR_MODES = ("detect_track", "per_frame")
"""``per_frame``: every frame's boxes prompt the model on that frame alone (YOLO-SAM2);
``detect_track``: detect every ``detect_interval`` frames, new objects prompted with their box,
tracked by the video model (Det-SAM2). See :mod:`workbench.protocols.detect`."""
DEFAULT_TORCHVISION_MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
"""The smallest torchvision Faster R-CNN (COCO, 91 classes)."""
DEFAULT_YOLO_CONFIG = "yolov8n.yaml"
"""Ultralytics model config used when no weights file is given (an UNTRAINED YOLOv8n, as
YOLO-SAM2 and Det-SAM2 build on YOLOv8)."""


def _number(name: str, value, lo: float, hi: float | None, integer: bool = False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if integer:
        ok = ok and isinstance(value, numbers.Integral)
    if not ok or value < lo or (hi is not None and value > hi):
        span = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"DetectorSpec.{name} must be {kind} in {span}; got {value!r}.")
    return int(value) if integer else float(value)


@dataclass(frozen=True, kw_only=True)
class DetectorSpec:
    """Which detector prompts the video model, and how.

    Attributes
    ----------
    kind : {"gt", "torchvision", "ultralytics"}
        See :data:`DETECTOR_KINDS`. Default ``"gt"``.
    model : str or None
        torchvision: a model name of ``torchvision.models.detection`` (default
        :data:`DEFAULT_TORCHVISION_MODEL`); ultralytics: a model config such as
        ``"yolov8n.yaml"`` used when ``weights`` is None (default :data:`DEFAULT_YOLO_CONFIG`);
        must be None for ``gt``.
    weights : str or None
        Weights file. torchvision: a state dict (bare, or under ``"model"`` as torchvision's
        reference training scripts save it), loaded with ``torch.load(weights_only=True)`` and
        a strict key/shape match; ultralytics: a YOLO ``.pt`` file (loaded by Ultralytics,
        which unpickles it: use only files you trust). None: randomly initialised, UNTRAINED
        weights (tests and speed only; the run is labelled UNTRAINED). Must be None for ``gt``.
    num_classes : int or None
        torchvision: classes of the detection head (background included) when the weights
        were trained on another label set than COCO's 91; None: the model's default.
    device : str
        Torch device of the model detectors (``"auto"``: CUDA when available, else CPU).
    score_threshold : float
        Detections scoring below it are dropped (0..1; default 0.5). Det-SAM2's pipeline uses
        0.85 (``detect_confidence``) for its fine-tuned YOLOv8; the ground-truth detector scores
        every box 1.
    classes : tuple of int or None
        Keep only these detector labels (e.g. COCO ids); None: all.
    jitter : float
        ``gt`` only: each box coordinate moves by Gaussian noise with standard deviation
        ``jitter`` times the box's width (x) or height (y). Default 0.
    miss_rate : float
        ``gt`` only: probability (0..1) that an object's box is dropped on a frame. Default 0.
    false_positives : float
        ``gt`` only: mean number (Poisson) of false boxes per frame, placed uniformly with
        sides uniform in [5 %, 30 %] of the frame's. Default 0.
    seed : int
        ``gt`` noise seed (with the sequence name and frame index: the same boxes whatever
        the mode, order or worker); torchvision / ultralytics: seed of the random weights
        when ``weights`` is None. Default 0.
    mode : {"detect_track", "per_frame"}
        See :data:`DETECTOR_MODES`. Default ``"detect_track"``.
    detect_interval : int
        ``detect_track``: detect on every ``detect_interval``-th frame (0, k, 2k, ...; *k* in
        the issue; Det-SAM2's ``detect_interval``, 30 in its pipeline). Default 10.
    iou_threshold : float
        ``detect_track``: a detection whose box IoU with every tracked object's mask box on
        that frame is below this is a new object (0..1]. Default 0.3.

    Raises
    ------
    UnknownNameError
        Unknown ``kind`` or ``mode``.
    ConfigError
        A value out of range, or a model / weights / noise setting that does not apply to
        ``kind``.
    """

    kind: str = "gt"
    model: str | None = None
    weights: str | None = None
    num_classes: int | None = None
    device: str = "auto"
    score_threshold: float = 0.5
    classes: tuple[int, ...] | None = None
    jitter: float = 0.0
    miss_rate: float = 0.0
    false_positives: float = 0.0
    seed: int = 0
    mode: str = "detect_track"
    detect_interval: int = 10
    iou_threshold: float = 0.3

    def __post_init__(self):
        if self.kind not in DETECTOR_KINDS:
            raise UnknownNameError("detector kind", self.kind, DETECTOR_KINDS)
        if self.mode not in DETECTOR_MODES:
            raise UnknownNameError("detector prompting mode", self.mode, DETECTOR_MODES)
        model, weights = self.model, self.weights
        if self.kind == "gt":
            if model is not None or weights is not None or self.num_classes is not None:
                raise ConfigError(
                    "The ground-truth detector (kind='gt') takes no model, weights or num_classes; "
                    "use kind='torchvision' or 'ultralytics' for a model."
                )
        else:
            if self.jitter or self.miss_rate or self.false_positives:
                raise ConfigError(
                    "jitter, miss_rate and false_positives are the ground-truth detector's noise "
                    f"(kind='gt'); a {self.kind} detector makes its own errors. Leave them 0."
                )
            if model is None:
                model = DEFAULT_TORCHVISION_MODEL if self.kind == "torchvision" else DEFAULT_YOLO_CONFIG
            if weights is not None:
                weights = str(Path(weights).expanduser())
        if self.num_classes is not None and self.kind != "torchvision":
            raise ConfigError("num_classes applies to torchvision detectors only.")
        classes = self.classes
        if classes is not None:
            try:
                classes = tuple(int(c) for c in classes)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"DetectorSpec.classes must be integers (label ids); got {self.classes!r}.") from exc
        values = dict(
            model=model,
            weights=weights,
            classes=classes,
            num_classes=None
            if self.num_classes is None
            else _number("num_classes", self.num_classes, 2, None, integer=True),
            score_threshold=_number("score_threshold", self.score_threshold, 0.0, 1.0),
            jitter=_number("jitter", self.jitter, 0.0, None),
            miss_rate=_number("miss_rate", self.miss_rate, 0.0, 1.0),
            false_positives=_number("false_positives", self.false_positives, 0.0, None),
            seed=_number("seed", self.seed, 0, None, integer=True),
            detect_interval=_number("detect_interval", self.detect_interval, 1, None, integer=True),
            iou_threshold=_number("iou_threshold", self.iou_threshold, 0.0, 1.0),
        )
        if values["iou_threshold"] == 0.0:
            raise ConfigError("DetectorSpec.iou_threshold must be in (0, 1]: with 0 no detection is ever new.")
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError(
                f"DetectorSpec.device must be a device string ('auto', 'cpu', 'cuda'); got {self.device!r}."
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_value(cls, value: DetectorSpec | Mapping[str, Any] | None) -> DetectorSpec | None:
        """A spec from a spec, a dict of its fields (e.g. read back from a run card) or None.

        Raises
        ------
        UnknownNameError
            A key that is not a field.
        ConfigError
            Anything else than a spec, a dict or None; any error of the checks.
        """
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            names = [f.name for f in fields(cls)]
            for key in value:
                if key not in names:
                    raise UnknownNameError("DetectorSpec field", key, names)
            data = dict(value)
            if isinstance(data.get("classes"), list):
                data["classes"] = tuple(data["classes"])
            return cls(**data)
        raise ConfigError(
            f"detector must be a DetectorSpec (or a dict of its fields); got {type(value).__name__}. "
            "Example: DetectorSpec(kind='gt', jitter=0.1, mode='detect_track')."
        )

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (``classes`` a list)."""
        out = asdict(self)
        if out["classes"] is not None:
            out["classes"] = list(out["classes"])
        return out

    def card(self) -> dict:
        """The run card's ``detector``: :meth:`to_dict` plus ``weights_sha256`` (hex digest of
        the weights file; ``"untrained"`` without one, ``"none"`` for ``gt``), ``untrained`` and
        ``noise_label``.

        Raises
        ------
        CheckpointNotFoundError
            ``weights`` names no file.
        """
        from ..registry import sha256_file

        if self.kind == "gt":
            digest = "none"
        elif self.weights is None:
            digest = "untrained"
        else:
            digest = sha256_file(self.weights)
        return {
            **self.to_dict(),
            "weights_sha256": digest,
            "untrained": self.untrained,
            "noise_label": self.noise_label,
        }

    @property
    def untrained(self) -> bool:
        """True for a model detector without a weights file (random weights)."""
        return self.kind != "gt" and self.weights is None

    @property
    def noise(self) -> tuple[float, float, float]:
        """``(jitter, miss_rate, false_positives)`` of the ground-truth detector."""
        return (self.jitter, self.miss_rate, self.false_positives)

    @property
    def noise_label(self) -> str:
        """Short text of the ground-truth detector's noise (``"no noise"``, ``"jitter 0.1 · miss
        0.1 · fp 0.1"``); the model name for model detectors."""
        if self.kind != "gt":
            return f"{self.kind}/{self.model}" + (" (UNTRAINED)" if self.untrained else "")
        if not any(self.noise):
            return "no noise"
        return f"jitter {self.jitter:g} · miss {self.miss_rate:g} · fp {self.false_positives:g}"

    @property
    def tag(self) -> str:
        """Run-id part naming the settings: ``<mode>[<k>]-<kind>[-j<jitter>-m<miss>-fp<fp>]``."""
        mode = "track" + str(self.detect_interval) if self.mode == "detect_track" else "perframe"
        if self.kind != "gt":
            name = "".join(c if c.isalnum() or c in "._+-" else "_" for c in str(self.model))
            return f"{mode}-{self.kind}-{name}"
        return f"{mode}-gt-j{self.jitter:g}-m{self.miss_rate:g}-fp{self.false_positives:g}"
