"""Ultralytics YOLO models as :class:`~workbench.types.Detector` s (optional extra).

YOLO-SAM2 (Mansoori et al., arXiv 2409.09484) and Det-SAM2 (Wang, Zhou & Liu, arXiv
2411.18977) both prompt SAM 2 with YOLOv8 boxes. ``ultralytics`` is not part of the core
install: it depends on ``opencv-python``, which installs the same ``cv2`` module as the pinned
``opencv-python-headless`` (the two overwrite each other's files), and it is AGPL-3.0 licensed.
Install it with ``pip install 'sam2-workbench[yolo]'`` in an environment where that is
acceptable; it is imported only when a YOLO detector is built.

Weights: a YOLO ``.pt`` file, loaded by Ultralytics itself (its files are pickled models, so
only load files you trust); without a file, a model config such as ``"yolov8n.yaml"`` builds a
randomly initialised, UNTRAINED model (no download).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import BackendError, CheckpointNotFoundError
from ...types import Detections, ModelInfo
from ..registry import sha256_file
from ..validate import check_image

__all__ = ["INSTALL_HINT", "UltralyticsDetector", "import_yolo"]

INSTALL_HINT = (
    "Ultralytics YOLO is an optional extra that is not installed here. Install it with "
    "`pip install 'sam2-workbench[yolo]'` (it pulls opencv-python, which conflicts with the pinned "
    "opencv-python-headless: use a separate environment, or reinstall opencv-python-headless "
    "afterwards), or use DetectorSpec(kind='torchvision') / kind='gt'."
)


def import_yolo():
    """``ultralytics.YOLO``.

    Raises
    ------
    BackendError
        ``ultralytics`` is not installed (the message says how to install it).
    """
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise BackendError(f"{INSTALL_HINT} ({exc})") from exc
    return YOLO


class UltralyticsDetector:
    """An Ultralytics YOLO model behind the :class:`~workbench.types.Detector` protocol.

    Parameters
    ----------
    model : str
        Model config used when ``weights`` is None, e.g. ``"yolov8n.yaml"`` (UNTRAINED).
    weights : str or Path, optional
        A YOLO ``.pt`` file; None builds ``model`` with random weights.
    device : str
        ``"auto"`` (Ultralytics' choice), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    score_threshold : float
        ``conf`` of Ultralytics' predictor: boxes below it are dropped.
    classes : sequence of int, optional
        Keep only these class indices.
    seed : int
        Torch seed of the random initialisation (``weights`` None).

    Raises
    ------
    BackendError
        ``ultralytics`` is not installed.
    CheckpointNotFoundError
        ``weights`` names no file.
    """

    def __init__(
        self,
        model: str = "yolov8n.yaml",
        weights: str | Path | None = None,
        device: str = "auto",
        score_threshold: float = 0.5,
        classes=None,
        seed: int = 0,
    ):
        yolo = import_yolo()
        import torch

        path = None
        if weights is not None:
            path = Path(weights).expanduser().resolve()
            if not path.is_file():
                raise CheckpointNotFoundError(f"YOLO weights file not found: {path}.")
            self.yolo = yolo(str(path), task="detect")
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self.yolo = yolo(str(model), task="detect")
        self.device = None if device == "auto" else str(device)
        self.score_threshold = float(score_threshold)
        self.classes = None if classes is None else [int(c) for c in classes]
        digest = "untrained" if path is None else sha256_file(path)
        self.info = ModelInfo(
            backend="ultralytics",
            model=path.name if path is not None else str(model),
            checkpoint=None if path is None else str(path),
            checkpoint_sha256=digest,
            device=str(device),
            untrained=path is None,
            extra={"score_threshold": self.score_threshold, "classes": self.classes},
        )

    def detect(self, frame: np.ndarray, frame_idx: int | None = None) -> Detections:
        """Detect objects on ``frame`` ((H, W, 3) uint8 RGB; handed to Ultralytics as BGR, its
        convention for arrays); ``frame_idx`` is ignored.

        Raises
        ------
        DataError
            Not an (H, W, 3) uint8 array.
        """
        image = check_image(frame)
        kw = {} if self.device is None else {"device": self.device}
        result = self.yolo.predict(
            np.ascontiguousarray(image[..., ::-1]), conf=self.score_threshold, classes=self.classes, verbose=False, **kw
        )[0]
        boxes = result.boxes
        det = Detections(
            boxes.xyxy.float().cpu().numpy(), boxes.conf.float().cpu().numpy(), boxes.cls.cpu().numpy().astype(np.int64)
        )
        return det.filter(self.score_threshold, self.classes).clipped(image.shape[0], image.shape[1])
