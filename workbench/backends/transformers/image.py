"""Image backend of the ``transformers`` family: ``Sam2Model`` (and ``EdgeTamModel``,
``Sam3TrackerModel``) with its processor behind :class:`~workbench.backends.base.ImageBackend`.

Same prompt names, shapes and checks as every backend (:mod:`workbench.backends.validate`).
Images are given to the processor as float RGB in [0, 1] with ``do_rescale=False``: its
resize then works on float values, exactly as the official ``SAM2Transforms`` does (a uint8
image would be resized in uint8 by the processor, one grey level away from the official
input). Masks are the low-resolution logits upsampled to the image size by the processor's
``post_process_masks`` and thresholded at 0, as ``SAM2ImagePredictor``.
Source: ``transformers/models/sam2/{modeling,processing,image_processing}_sam2.py`` (5.25.0).
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import BackendError
from ...types import ImagePrediction, ModelInfo
from ..validate import check_image, check_prompt
from .loading import ARCHITECTURES, arch_key, hf_class, model_image_size


def make_processor(architecture: str, image_size: int, video: bool = False):
    """The architecture's processor, resizing to ``image_size`` (points and boxes are scaled to
    it): ``Sam2Processor`` (SAM 2, EdgeTAM: ImageNet mean / std) or ``Sam3TrackerProcessor``
    (``Sam3ImageProcessor``: mean / std 0.5); with ``video`` their video processors."""
    arch = ARCHITECTURES[arch_key(architecture)]
    size = {"height": image_size, "width": image_size}
    image_cls = "Sam3ImageProcessor" if architecture.startswith("sam3") else "Sam2ImageProcessor"
    image_processor = hf_class(image_cls)(size=size)
    if not video:
        return hf_class(arch.image_processor)(image_processor=image_processor, target_size=image_size)
    video_processor = hf_class("Sam2VideoVideoProcessor")(size=size)
    return hf_class(arch.video_processor)(
        image_processor=image_processor, video_processor=video_processor, target_size=image_size
    )


def float_image(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 → float32 in [0, 1] (the input the processor resizes like the official transform)."""
    return image.astype(np.float32) / np.float32(255.0)


class TransformersImageBackend:
    """Promptable image segmentation with a ``transformers`` SAM-family image model.

    Parameters
    ----------
    model : Sam2Model, EdgeTamModel or Sam3TrackerModel
        From :func:`workbench.backends.transformers.loading.build_transformers_model` with
        ``mode="image"``.
    info : ModelInfo
        Its description (``info.extra["architecture"]`` picks the processor).
    """

    def __init__(self, model, info: ModelInfo):
        self.model = model
        self.info = info
        self.device = next(model.parameters()).device
        self.image_size = model_image_size(model)
        self.processor = make_processor(str(info.extra.get("architecture", "sam2")), self.image_size)
        self._embeddings: list | None = None
        self._hw: tuple[int, int] | None = None

    @property
    def low_res_size(self) -> int:
        """Side of ``low_res_logits`` and of a valid ``mask_input``: the prompt encoder's mask
        input size (``image_size / 4`` for SAM 2 and EdgeTAM, ``4 * image_size / 14`` for SAM 3)."""
        return int(self.model.prompt_encoder.mask_input_size[0])

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(H, W)`` of the current image, None before :meth:`set_image`."""
        return self._hw

    def set_image(self, image: np.ndarray) -> None:
        """Embed ``image`` (``(H, W, 3)`` uint8 RGB) once; later :meth:`predict` calls reuse it.

        Raises
        ------
        DataError
            Not an ``(H, W, 3)`` uint8 array.
        """
        image = check_image(image)
        pixels = self.processor.image_processor(images=float_image(image), do_rescale=False, return_tensors="pt")
        with torch.inference_mode():
            self._embeddings = self.model.get_image_embeddings(pixels["pixel_values"].to(self.device))
        self._hw = (int(image.shape[0]), int(image.shape[1]))

    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self._embeddings = None
        self._hw = None

    def predict(
        self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output: bool = True
    ) -> ImagePrediction:
        """Segment the current image from prompts (names, shapes and errors of
        :meth:`workbench.backends.base.ImageBackend.predict`).

        Returns
        -------
        ImagePrediction
            ``masks`` (C, H, W) bool, ``iou_predictions`` (C,) float32, ``low_res_logits``
            (C, image_size/4, image_size/4) float32; C = 3 or 1.

        Raises
        ------
        BackendError
            :meth:`set_image` was not called first.
        PromptError
            No prompt, or a malformed one.
        """
        p = check_prompt(self._hw, self.low_res_size, point_coords, point_labels, box, mask_input)
        if self._hw is None or self._embeddings is None:  # check_prompt raised already
            raise BackendError("No image set: call set_image(image) before predict().")
        kw: dict = {}
        if p.point_coords is not None and p.point_labels is not None:
            kw["input_points"] = [[p.point_coords.tolist()]]
            kw["input_labels"] = [[p.point_labels.tolist()]]
        if p.box is not None:
            kw["input_boxes"] = [[p.box.tolist()]]
        sizes = [list(self._hw)]
        inputs = self.processor(original_sizes=sizes, return_tensors="pt", **kw) if kw else {}
        extra = {
            k: v.to(self.device) for k, v in inputs.items() if k in ("input_points", "input_labels", "input_boxes")
        }
        if p.mask_input is not None:
            extra["input_masks"] = torch.from_numpy(p.mask_input[None]).to(self.device)
        with torch.inference_mode():
            out = self.model(image_embeddings=self._embeddings, multimask_output=bool(multimask_output), **extra)
            low_res = out.pred_masks.float().cpu()  # (1, 1, C, s, s)
            full = self.processor.post_process_masks(low_res, [self._hw], binarize=False)[0][0]
        return ImagePrediction(
            masks=(full > 0.0).numpy(),
            iou_predictions=out.iou_scores[0, 0].float().cpu().numpy().astype(np.float32),
            low_res_logits=low_res[0, 0].numpy().astype(np.float32),
            untrained=self.info.untrained,
        )


__all__ = ["TransformersImageBackend", "float_image", "make_processor"]
