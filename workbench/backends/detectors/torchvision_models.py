"""torchvision detection models as :class:`~workbench.types.Detector` s.

Any model of ``torchvision.models.detection`` (``torchvision.models.list_models(module=
torchvision.models.detection)``: Faster R-CNN, RetinaNet, FCOS, SSD, SSDlite, Mask / Keypoint
R-CNN, whose boxes are used). Weights come from a file only, never from a download: a state
dict (bare, or under ``"model"`` as torchvision's reference training scripts save their
checkpoints), read with ``torch.load(weights_only=True)`` and loaded with a strict key and shape
match (:func:`workbench.backends.loading.load_state_dict_strict`). Without a file the model is
built with random weights (``weights=None, weights_backbone=None``; seeded): UNTRAINED, for tests
and speed only.

Frames go in as torchvision's detection models take them: a float tensor in [0, 1], channels
first, RGB; the model resizes internally (``min_size`` of its transform) and returns boxes in the
frame's pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import CheckpointFormatError, UnknownNameError
from ...types import Detections, ModelInfo
from ..loading import checkpoint_digest, load_state_dict_strict, resolve_device, safe_torch_load
from ..validate import check_image

__all__ = ["TorchvisionDetector", "torchvision_detection_models"]


def torchvision_detection_models() -> list[str]:
    """Names of ``torchvision.models.detection`` models (``torchvision.models.list_models``)."""
    import torchvision.models.detection as detection
    from torchvision.models import list_models

    return list(list_models(module=detection))


def _state_dict(obj: object, path: Path) -> dict:
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]  # torchvision references/detection/train.py: {"model": ..., "optimizer": ...}
    if not isinstance(obj, dict):
        raise CheckpointFormatError(
            f"{path} holds a {type(obj).__name__}, not a state dict: save model.state_dict() with torch.save."
        )
    return obj


class TorchvisionDetector:
    """A ``torchvision.models.detection`` model behind the :class:`~workbench.types.Detector`
    protocol.

    Parameters
    ----------
    model : str
        Model name, one of :func:`torchvision_detection_models` (default the smallest Faster
        R-CNN, ``fasterrcnn_mobilenet_v3_large_320_fpn``).
    weights : str or Path, optional
        State-dict file (see the module docstring); None: random, UNTRAINED weights.
    num_classes : int, optional
        Classes of the head, background included, for weights trained on another label set;
        default the model's (91, COCO).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    score_threshold : float
        Detections below this score are dropped (also lowers the model's own score threshold
        when that is higher, so low thresholds are honoured).
    classes : sequence of int, optional
        Keep only these labels (COCO category ids for COCO weights).
    seed : int
        Seed of the random initialisation when ``weights`` is None.

    Attributes
    ----------
    net : torch.nn.Module
        The model, in eval mode on ``device``.
    info : ModelInfo
        ``backend="torchvision"``, the model name, weights file and SHA-256 (``"untrained"``
        without one), device, ``untrained``.

    Raises
    ------
    UnknownNameError
        Unknown model name.
    CheckpointNotFoundError, UnsafeCheckpointError, CheckpointFormatError, CheckpointMismatchError
        Missing, unsafe, corrupt or mismatching weights file.
    BackendError
        Bad device.
    """

    def __init__(
        self,
        model: str = "fasterrcnn_mobilenet_v3_large_320_fpn",
        weights: str | Path | None = None,
        num_classes: int | None = None,
        device: str = "auto",
        score_threshold: float = 0.5,
        classes=None,
        seed: int = 0,
    ):
        from torchvision.models import get_model

        names = torchvision_detection_models()
        if model not in names:
            raise UnknownNameError("torchvision detection model", model, names)
        dev = resolve_device(device)
        kw = {} if num_classes is None else {"num_classes": int(num_classes)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            net = get_model(model, weights=None, weights_backbone=None, **kw)
        path = None
        if weights is not None:
            path = Path(weights).expanduser().resolve()
            sd = _state_dict(safe_torch_load(path), path)
            load_state_dict_strict(
                net,
                sd,
                path,
                f"torchvision {model}" + (f" with {num_classes} classes" if num_classes else ""),
                "Pass the model name the weights were trained with (DetectorSpec.model).",
                lambda bad: "Set num_classes to the class count the weights were trained with (background included).",
            )
        self.score_threshold = float(score_threshold)
        self.classes = None if classes is None else tuple(int(c) for c in classes)
        for owner in (getattr(net, "roi_heads", None), net):  # the model's own score cut (0.05 for most)
            if owner is not None and isinstance(getattr(owner, "score_thresh", None), float):
                owner.score_thresh = min(owner.score_thresh, self.score_threshold)
                break
        self.net = net.eval().to(dev)
        self.device = dev
        self.info = ModelInfo(
            backend="torchvision",
            model=model,
            checkpoint=None if path is None else str(path),
            checkpoint_sha256="untrained" if path is None else checkpoint_digest(path),
            device=str(dev),
            untrained=path is None,
            extra={"score_threshold": self.score_threshold, "classes": self.classes, "num_classes": num_classes},
        )

    def detect(self, frame: np.ndarray, frame_idx: int | None = None) -> Detections:
        """Detect objects on ``frame`` ((H, W, 3) uint8 RGB); ``frame_idx`` is ignored.

        Returns
        -------
        Detections
            Boxes XYXY float32 pixels of ``frame``, scores float32, labels int64, highest
            score first, filtered by ``score_threshold`` and ``classes``.

        Raises
        ------
        DataError
            Not an (H, W, 3) uint8 array.
        """
        image = check_image(frame)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(self.device, torch.float32) / 255.0
        with torch.inference_mode():
            out = self.net([x])[0]
        det = Detections(
            out["boxes"].float().cpu().numpy(), out["scores"].float().cpu().numpy(), out["labels"].cpu().numpy()
        )
        return det.filter(self.score_threshold, self.classes).clipped(image.shape[0], image.shape[1])
