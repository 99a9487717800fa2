"""SAM 2 image backend: the official ``SAM2ImagePredictor`` behind :class:`ImageBackend`.

Prompts follow SAM's conventions (``point_coords`` (N, 2) x, y pixels; ``point_labels`` 1/0;
``box`` XYXY pixels) and are checked by :mod:`workbench.backends.validate`, as in every backend.
Source: ``sam2/sam2_image_predictor.py`` and ``sam2/automatic_mask_generator.py`` (sam2 1.1.0).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch

from ...errors import ConfigError, UnknownNameError
from ...types import ImagePrediction, ModelInfo
from ..base import with_extra
from ..validate import check_image, check_prompt
from .loading import autocast_context, backbone_feature_sizes, enable_tf32, resolve_precision

AMG_DEFAULTS = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.8,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "min_mask_region_area": 0,
    "use_m2m": False,
    "multimask_output": True,
}
"""Parameters of :meth:`SAM2ImageBackend.generate_masks` and their defaults (those of
``SAM2AutomaticMaskGenerator``)."""


class SAM2ImageBackend:
    """Promptable image segmentation with the official ``SAM2ImagePredictor``.

    Parameters
    ----------
    model : SAM2Base
        From :func:`workbench.backends.sam2.loading.build_sam2_model` with ``mode="image"``.
    info : ModelInfo
        Its description; ``info.untrained`` is copied onto every prediction.
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast (and TF32) on CUDA, fp32 on CPU.
    mask_threshold, max_hole_area, max_sprinkle_area : float
        Passed to ``SAM2ImagePredictor`` (hole/sprinkle removal needs sam2's CUDA extension).

    Notes
    -----
    The reference predictor hard-codes the backbone feature sizes of a 1024-pixel input;
    they are recomputed here from ``model.image_size`` so smaller inputs (e.g. 256) work.
    """

    def __init__(
        self,
        model,
        info: ModelInfo,
        *,
        precision: str = "auto",
        mask_threshold: float = 0.0,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
    ):
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.model = model
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        if self.precision == "bf16":
            enable_tf32(self.device)
        self.info = with_extra(info, precision=self.precision)
        self.image_size = int(model.image_size)
        self.predictor = SAM2ImagePredictor(
            model, mask_threshold=mask_threshold, max_hole_area=max_hole_area, max_sprinkle_area=max_sprinkle_area
        )
        self.predictor._bb_feat_sizes = backbone_feature_sizes(self.image_size)
        self._hw: tuple[int, int] | None = None

    def _autocast(self):
        return autocast_context(self.device, self.precision)

    @property
    def low_res_size(self) -> int:
        """Side of ``low_res_logits`` and of a valid ``mask_input``: ``image_size / 4``."""
        return self.image_size // 4

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(H, W)`` of the current image, None before :meth:`set_image`."""
        return self._hw

    def set_image(self, image: np.ndarray) -> None:
        """Embed ``image`` (``(H, W, 3)`` uint8 RGB); later :meth:`predict` calls reuse it.

        Raises
        ------
        DataError
            Not an ``(H, W, 3)`` uint8 array (see :func:`workbench.backends.validate.check_image`).
        """
        image = check_image(image)
        with torch.inference_mode(), self._autocast():
            self.predictor.set_image(image)
        self._hw = (int(image.shape[0]), int(image.shape[1]))

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self.predictor.reset_predictor()
        self._hw = None

    def predict(
        self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output: bool = True
    ) -> ImagePrediction:
        """Segment the current image from prompts.

        Parameters
        ----------
        point_coords : (N, 2) float array, optional
            Clicks in x, y pixels of the original image.
        point_labels : (N,) int array, optional
            1 positive, 0 negative; required with ``point_coords``.
        box : (4,) float array, optional
            XYXY pixels.
        mask_input : (1, h, w) float32, optional
            Logits from a previous ``ImagePrediction.low_res_logits[i:i+1]``;
            h = w = image_size / 4.
        multimask_output : bool
            Three candidate masks (True) or one.

        Returns
        -------
        ImagePrediction
            ``masks`` (C, H, W) bool at the original size, ``iou_predictions`` (C,) float32,
            ``low_res_logits`` (C, image_size/4, image_size/4) float32, C = 3 or 1.

        Raises
        ------
        BackendError
            :meth:`set_image` was not called first.
        PromptError
            No prompt, or a malformed one (:func:`workbench.backends.validate.check_prompt`, the
            checks of every backend).
        """
        p = check_prompt(self._hw, self.low_res_size, point_coords, point_labels, box, mask_input)
        with torch.inference_mode(), self._autocast():
            masks, iou, low_res = self.predictor.predict(
                point_coords=None if p.point_coords is None else p.point_coords.astype(np.float32),
                point_labels=None if p.point_labels is None else p.point_labels.astype(np.int32),
                box=None if p.box is None else p.box.astype(np.float32),
                mask_input=p.mask_input,
                multimask_output=bool(multimask_output),
            )
        return ImagePrediction(
            masks=masks > 0.5,
            iou_predictions=iou.astype(np.float32),
            low_res_logits=low_res.astype(np.float32),
            untrained=self.info.untrained,
        )

    def generate_masks(self, image: np.ndarray, **amg_params) -> list[dict]:
        """Segment everything in ``image`` with the official ``SAM2AutomaticMaskGenerator``.

        Parameters
        ----------
        image : (H, W, 3) uint8 RGB
        **amg_params
            Any of :data:`AMG_DEFAULTS`: ``points_per_side`` (grid of points_per_side² clicks),
            ``pred_iou_thresh``, ``stability_score_thresh`` (in [0, 1]), ``crop_n_layers``,
            ``min_mask_region_area`` (pixels; removes small islands and holes, needs OpenCV),
            ``use_m2m`` (one refinement step using the previous mask logits), …

        Returns
        -------
        list of dict
            One record per mask as returned by the reference generator: ``segmentation`` (H, W)
            bool, ``area`` (pixels), ``bbox`` XYWH, ``predicted_iou``, ``point_coords`` ([[x, y]]),
            ``stability_score``, ``crop_box`` XYWH. Sorted by ``area``, largest first.

        Raises
        ------
        UnknownNameError, ConfigError, DataError
        """
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        image = check_image(image)
        unknown = set(amg_params) - set(AMG_DEFAULTS)
        if unknown:
            raise UnknownNameError("mask-generator parameter", sorted(unknown)[0], AMG_DEFAULTS)
        params = {**AMG_DEFAULTS, **amg_params}
        for key in ("points_per_side", "points_per_batch", "crop_n_points_downscale_factor"):
            if not isinstance(params[key], (int, np.integer)) or params[key] < 1:
                raise ConfigError(f"{key} must be an integer >= 1; got {params[key]!r}.")
        if not isinstance(params["crop_n_layers"], (int, np.integer)) or params["crop_n_layers"] < 0:
            raise ConfigError(f"crop_n_layers must be an integer >= 0; got {params['crop_n_layers']!r}.")
        for key in (
            "pred_iou_thresh",
            "stability_score_thresh",
            "box_nms_thresh",
            "crop_nms_thresh",
            "crop_overlap_ratio",
        ):
            if not 0.0 <= float(params[key]) <= 1.0:
                raise ConfigError(f"{key} must lie in [0, 1]; got {params[key]!r}.")
        if params["min_mask_region_area"] < 0:
            raise ConfigError(f"min_mask_region_area must be >= 0 pixels; got {params['min_mask_region_area']!r}.")
        accepted = inspect.signature(SAM2AutomaticMaskGenerator.__init__).parameters
        amg = SAM2AutomaticMaskGenerator(
            self.model, output_mode="binary_mask", **{k: v for k, v in params.items() if k in accepted}
        )
        amg.predictor._bb_feat_sizes = backbone_feature_sizes(self.image_size)
        with torch.inference_mode(), self._autocast(), warnings.catch_warnings():
            # Without sam2's CUDA extension the hole filling step is skipped with a warning;
            # OpenCV post-processing (min_mask_region_area) still runs.
            warnings.filterwarnings("ignore", message="(?s).*Skipping the post-processing step")
            records = amg.generate(image)
        return sorted(records, key=lambda r: -int(r["area"]))


__all__ = ["AMG_DEFAULTS", "SAM2ImageBackend"]
