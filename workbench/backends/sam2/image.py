"""SAM 2 image backend: the official ``SAM2ImagePredictor`` behind :class:`ImageBackend`.

Also the prompt validators shared with the video backend: prompts follow SAM's conventions
(``point_coords`` (N, 2) x, y pixels; ``point_labels`` 1/0; ``box`` XYXY pixels).
Source: ``sam2/sam2_image_predictor.py`` and ``sam2/automatic_mask_generator.py`` (sam2 1.1.0).
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch

from ..errors import BackendError, ConfigError, DataError, PromptError, UnknownNameError
from ..types import ImagePrediction, ModelInfo
from .sam2_loading import autocast_context, backbone_feature_sizes, enable_tf32, resolve_precision, with_extra


# -- prompt validation (shared with sam2_video) ------------------------------------------------
def check_points(point_coords, point_labels, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate SAM point prompts against an image of ``height`` x ``width`` pixels.

    Returns ``(N, 2)`` float32 x, y and ``(N,)`` int32 labels. Points may lie anywhere in the
    closed rectangle ``0 <= x <= width``, ``0 <= y <= height`` (continuous pixel coordinates).

    Raises
    ------
    PromptError
        Wrong shapes, labels other than 0/1, non-finite values, or clicks outside the image.
    """
    if (point_coords is None) != (point_labels is None):
        raise PromptError("point_coords and point_labels must be given together (labels: 1 positive, 0 negative).")
    try:
        coords = np.asarray(point_coords, dtype=np.float32)
        labels = np.asarray(point_labels)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"point_coords must be numbers: {exc}") from exc
    if coords.ndim == 1 and coords.shape[0] == 2:
        coords = coords[None]
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.shape[0] == 0:
        raise PromptError(f"point_coords must be (N, 2) x, y pixels with N >= 1; got shape {coords.shape}.")
    labels = labels.reshape(-1) if labels.ndim <= 1 else labels
    if labels.ndim != 1 or labels.shape[0] != coords.shape[0]:
        raise PromptError(f"point_labels must be ({coords.shape[0]},) to match point_coords; got shape {labels.shape}.")
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise PromptError(f"point_labels must be 1 (positive) or 0 (negative); got {np.unique(labels).tolist()}. "
                          "Give boxes through `box`, not as labels 2/3.")
    if not np.isfinite(coords).all():
        raise PromptError("point_coords contain NaN or infinity.")
    outside = (coords[:, 0] < 0) | (coords[:, 0] > width) | (coords[:, 1] < 0) | (coords[:, 1] > height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        x, y = coords[i]
        hint = ""
        if 0 <= y <= width and 0 <= x <= height:
            hint = (" The point would fit as (row, col): point_coords are (x, y) — use Click.point or "
                    "clicks_to_prompt.")
        raise PromptError(f"Click {i} at (x={x:g}, y={y:g}) lies outside the {width}x{height} (WxH) image; "
                          f"x must be in [0, {width}] and y in [0, {height}].{hint}")
    return coords, labels.astype(np.int32)


def check_box(box, height: int, width: int) -> np.ndarray:
    """Validate an XYXY pixel box; returns ``(4,)`` float32.

    Raises
    ------
    PromptError
        Not 4 numbers, x0 > x1 or y0 > y1, or corners outside the image (clip with ``np.clip``).
    """
    try:
        b = np.asarray(box, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"box must be 4 numbers x0, y0, x1, y1: {exc}") from exc
    if b.shape not in ((4,), (1, 4)):
        raise PromptError(f"box must be (4,) XYXY pixels (one box per prompt); got shape {b.shape}.")
    b = b.reshape(4)
    if not np.isfinite(b).all():
        raise PromptError("box contains NaN or infinity.")
    x0, y0, x1, y1 = b.tolist()
    if x0 > x1 or y0 > y1:
        raise PromptError(f"box {b.tolist()} is not XYXY with x0 <= x1 and y0 <= y1; "
                          "convert XYWH boxes with [x, y, x + w, y + h].")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise PromptError(f"box {b.tolist()} extends outside the {width}x{height} (WxH) image; clip it to "
                          f"[0, {width}] x [0, {height}].")
    return b


def check_image(image) -> np.ndarray:
    """Require an ``(H, W, 3)`` uint8 RGB array (DataError otherwise)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DataError(f"image must be an (H, W, 3) uint8 RGB array; got {desc}. Read files with "
                        "workbench.io.read_image, which converts gray / RGBA / 16-bit images.")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise DataError(f"image is empty: shape {image.shape}.")
    return image


# -- the backend ----------------------------------------------------------------------------------
AMG_DEFAULTS = {
    "points_per_side": 32, "points_per_batch": 64, "pred_iou_thresh": 0.8, "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0, "box_nms_thresh": 0.7, "crop_n_layers": 0, "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500, "crop_n_points_downscale_factor": 1, "min_mask_region_area": 0,
    "use_m2m": False, "multimask_output": True,
}
"""Parameters of :meth:`SAM2ImageBackend.generate_masks` and their defaults (those of
``SAM2AutomaticMaskGenerator``)."""


def check_mask_input(mask_input, image_size: int) -> np.ndarray:
    """Validate SAM low-resolution logits: ``(1, s, s)`` (or ``(s, s)``) finite float32 with
    ``s = image_size / 4``. Raises ``PromptError``."""
    side = image_size // 4
    m = np.asarray(mask_input, dtype=np.float32)
    if m.shape == (side, side):
        m = m[None]
    if m.shape != (1, side, side):
        raise PromptError(f"mask_input must be (1, {side}, {side}) low-resolution logits (image_size/4 for "
                          f"image_size={image_size}), e.g. prediction.low_res_logits[i:i+1]; "
                          f"got shape {m.shape}.")
    if not np.isfinite(m).all():
        raise PromptError("mask_input contains NaN or infinity.")
    return m


def check_prompt(hw: tuple[int, int] | None, image_size: int, point_coords=None, point_labels=None, box=None,
                 mask_input=None):
    """Validate one SAM-style prompt against the current image size ``hw`` (rows, cols).

    Returns ``(point_coords, point_labels, box, mask_input)`` normalised (None where absent).

    Raises
    ------
    BackendError
        No image set (``hw`` is None).
    PromptError
        No prompt at all, or a malformed one (:func:`check_points`, :func:`check_box`,
        :func:`check_mask_input`).
    """
    if hw is None:
        raise BackendError("No image set: call set_image(image) before predict().")
    h, w = hw
    if point_coords is None and point_labels is None and box is None and mask_input is None:
        raise PromptError("No prompt given: pass point_coords + point_labels, a box, and/or mask_input.")
    if point_coords is not None or point_labels is not None:
        point_coords, point_labels = check_points(point_coords, point_labels, h, w)
    if box is not None:
        box = check_box(box, h, w)
    if mask_input is not None:
        mask_input = check_mask_input(mask_input, image_size)
    return point_coords, point_labels, box, mask_input


class SAM2ImageBackend:
    """Promptable image segmentation with the official ``SAM2ImagePredictor``.

    Parameters
    ----------
    model : SAM2Base
        From :func:`workbench.backends.sam2_loading.build_sam2_model` with ``mode="image"``.
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

    def __init__(self, model, info: ModelInfo, *, precision: str = "auto", mask_threshold: float = 0.0,
                 max_hole_area: float = 0.0, max_sprinkle_area: float = 0.0):
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.model = model
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        if self.precision == "bf16":
            enable_tf32(self.device)
        self.info = with_extra(info, precision=self.precision)
        self.image_size = int(model.image_size)
        self.predictor = SAM2ImagePredictor(model, mask_threshold=mask_threshold, max_hole_area=max_hole_area,
                                            max_sprinkle_area=max_sprinkle_area)
        self.predictor._bb_feat_sizes = backbone_feature_sizes(self.image_size)
        self._hw: tuple[int, int] | None = None

    def _autocast(self):
        return autocast_context(self.device, self.precision)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(H, W)`` of the current image, None before :meth:`set_image`."""
        return self._hw

    def set_image(self, image: np.ndarray) -> None:
        """Embed ``image`` (``(H, W, 3)`` uint8 RGB); later :meth:`predict` calls reuse it.

        Raises
        ------
        DataError
            Not an ``(H, W, 3)`` uint8 array.
        """
        image = check_image(image)
        with torch.inference_mode(), self._autocast():
            self.predictor.set_image(image)
        self._hw = (int(image.shape[0]), int(image.shape[1]))

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self.predictor.reset_predictor()
        self._hw = None

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None,
                multimask_output: bool = True) -> ImagePrediction:
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
            No prompt, or a malformed one (see :func:`check_points`, :func:`check_box`).
        """
        point_coords, point_labels, box, mask_input = check_prompt(
            self._hw, self.image_size, point_coords, point_labels, box, mask_input)
        with torch.inference_mode(), self._autocast():
            masks, iou, low_res = self.predictor.predict(
                point_coords=point_coords, point_labels=point_labels, box=box, mask_input=mask_input,
                multimask_output=bool(multimask_output),
            )
        return ImagePrediction(masks=masks > 0.5, iou_predictions=iou.astype(np.float32),
                               low_res_logits=low_res.astype(np.float32), untrained=self.info.untrained)

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
        for key in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh",
                    "crop_overlap_ratio"):
            if not 0.0 <= float(params[key]) <= 1.0:
                raise ConfigError(f"{key} must lie in [0, 1]; got {params[key]!r}.")
        if params["min_mask_region_area"] < 0:
            raise ConfigError(f"min_mask_region_area must be >= 0 pixels; got {params['min_mask_region_area']!r}.")
        accepted = inspect.signature(SAM2AutomaticMaskGenerator.__init__).parameters
        amg = SAM2AutomaticMaskGenerator(self.model, output_mode="binary_mask",
                                         **{k: v for k, v in params.items() if k in accepted})
        amg.predictor._bb_feat_sizes = backbone_feature_sizes(self.image_size)
        with torch.inference_mode(), self._autocast(), warnings.catch_warnings():
            # Without sam2's CUDA extension the hole filling step is skipped with a warning;
            # OpenCV post-processing (min_mask_region_area) still runs.
            warnings.filterwarnings("ignore", message="(?s).*Skipping the post-processing step")
            records = amg.generate(image)
        return sorted(records, key=lambda r: -int(r["area"]))


__all__ = ["AMG_DEFAULTS", "SAM2ImageBackend", "check_box", "check_image", "check_points"]
