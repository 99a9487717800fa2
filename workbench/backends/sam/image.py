"""SAM (v1) image backend: the official ``SamPredictor`` behind :class:`ImageBackend`.

Same prompts, validation (:mod:`workbench.backends.validate`) and outputs as the SAM 2 image
backend (:class:`workbench.backends.sam2.image.SAM2ImageBackend`), so image experiments (e.g.
the click protocol) can compare SAM with SAM 2. SAM 1 has no video predictor.

Source: Kirillov et al., "Segment Anything", ICCV 2023; reference implementation
``segment_anything/predictor.py`` and ``automatic_mask_generator.py`` (segment-anything 1.0).
Model building and checkpoint loading: :mod:`workbench.backends.sam.loading`; factories:
:mod:`workbench.backends.sam.factory`.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import ConfigError, UnknownNameError
from ...types import ImagePrediction, ModelInfo
from ..base import with_extra
from ..validate import check_image, check_prompt

AMG_DEFAULTS = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "min_mask_region_area": 0,
}
"""Parameters of :meth:`SAM1ImageBackend.generate_masks` and their defaults (those of
``segment_anything.SamAutomaticMaskGenerator``; note ``pred_iou_thresh`` 0.88, not SAM 2's 0.8)."""

_INT_PARAMS = {"points_per_side": 1, "points_per_batch": 1, "crop_n_points_downscale_factor": 1, "crop_n_layers": 0}
_UNIT_PARAMS = ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh", "crop_overlap_ratio")


class SAM1ImageBackend:
    """Promptable image segmentation with the official SAM (v1) ``SamPredictor``.

    Parameters
    ----------
    model : segment_anything.modeling.Sam
        From :func:`workbench.backends.sam.loading.build_sam1_model`.
    info : ModelInfo
        Its description; ``info.untrained`` is copied onto every prediction.
    mask_threshold : float
        Logit threshold for the full-size masks (``Sam.mask_threshold`` = 0.0 upstream).

    Notes
    -----
    Runs in fp32, as the reference implementation does. ``SamPredictor`` resizes the longest
    side to ``model.image_encoder.img_size``, so models built at other sizes (e.g. 256 for
    tests) work unchanged; the low-resolution logits are ``img_size / 4`` per side.
    """

    def __init__(self, model, info: ModelInfo, *, mask_threshold: float = 0.0):
        from segment_anything import SamPredictor

        try:
            self.mask_threshold = float(mask_threshold)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"mask_threshold must be a number (a logit, 0.0 by default); got {mask_threshold!r}."
            ) from exc
        self.model = model
        self.device = model.device
        self.image_size = int(model.image_encoder.img_size)
        self.info = with_extra(info, precision="fp32", mask_threshold=self.mask_threshold)
        self.predictor = SamPredictor(model)
        self._hw: tuple[int, int] | None = None

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
        with torch.inference_mode():
            self.predictor.set_image(image, image_format="RGB")
        self._hw = (int(image.shape[0]), int(image.shape[1]))

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self.predictor.reset_image()
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
            Logits from a previous ``ImagePrediction.low_res_logits[i:i+1]``; h = w = image_size / 4
            (256 at the official 1024).
        multimask_output : bool
            Three candidate masks (True) or one.

        Returns
        -------
        ImagePrediction
            ``masks`` (C, H, W) bool at the original size (logits > ``mask_threshold``),
            ``iou_predictions`` (C,) float32, ``low_res_logits`` (C, image_size/4, image_size/4)
            float32; C = 3 or 1.

        Raises
        ------
        BackendError
            :meth:`set_image` was not called first.
        PromptError
            No prompt, or a malformed one (:func:`workbench.backends.validate.check_prompt`, the
            checks of every backend).
        """
        p = check_prompt(self._hw, self.low_res_size, point_coords, point_labels, box, mask_input)
        with torch.inference_mode():
            logits, iou, low_res = self.predictor.predict(
                point_coords=None if p.point_coords is None else p.point_coords.astype(np.float32),
                point_labels=None if p.point_labels is None else p.point_labels.astype(np.int32),
                box=None if p.box is None else p.box.astype(np.float32),
                mask_input=p.mask_input,
                multimask_output=bool(multimask_output),
                return_logits=True,
            )
        return ImagePrediction(
            masks=logits > self.mask_threshold,
            iou_predictions=iou.astype(np.float32),
            low_res_logits=low_res.astype(np.float32),
            untrained=self.info.untrained,
        )

    def generate_masks(self, image: np.ndarray, **amg_params) -> list[dict]:
        """Segment everything in ``image`` with the official ``SamAutomaticMaskGenerator``.

        Parameters
        ----------
        image : (H, W, 3) uint8 RGB
        **amg_params
            Any of :data:`AMG_DEFAULTS`: ``points_per_side`` (grid of points_per_side² clicks),
            ``pred_iou_thresh``, ``stability_score_thresh`` (in [0, 1]), ``crop_n_layers``,
            ``min_mask_region_area`` (pixels; removes small islands and holes with OpenCV), …

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
        from segment_anything import SamAutomaticMaskGenerator

        image = check_image(image)
        unknown = set(amg_params) - set(AMG_DEFAULTS)
        if unknown:
            raise UnknownNameError("mask-generator parameter", sorted(unknown)[0], AMG_DEFAULTS)
        params = {**AMG_DEFAULTS, **amg_params}
        for key, low in _INT_PARAMS.items():
            if isinstance(params[key], bool) or not isinstance(params[key], (int, np.integer)) or params[key] < low:
                raise ConfigError(f"{key} must be an integer >= {low}; got {params[key]!r}.")
        for key in _UNIT_PARAMS:
            if not 0.0 <= float(params[key]) <= 1.0:
                raise ConfigError(f"{key} must lie in [0, 1]; got {params[key]!r}.")
        if params["min_mask_region_area"] < 0:
            raise ConfigError(f"min_mask_region_area must be >= 0 pixels; got {params['min_mask_region_area']!r}.")
        amg = SamAutomaticMaskGenerator(self.model, output_mode="binary_mask", **params)
        with torch.inference_mode():
            records = amg.generate(np.ascontiguousarray(image))
        return sorted(records, key=lambda r: -int(r["area"]))


__all__ = ["AMG_DEFAULTS", "SAM1ImageBackend"]
