"""SAM 3 through ``transformers``: text concept prompts (:class:`~workbench.backends.base.ConceptPrompts`)
on top of the SAM 3 tracker's points / boxes / masks.

``segment_concept`` runs ``Sam3Model`` (detector: text → every matching instance's mask, box
and score, ``Sam3Processor.post_process_instance_segmentation``); ``track_concept`` runs
``Sam3VideoModel`` (detector + tracker: instances found on each frame keep their identities).
Both are loaded on first use from the same model folder as the tracker (``facebook/sam3`` holds
all three), with the folder's tokenizer (``CLIPTokenizer``; files ``tokenizer.json`` …), or built
untrained from a small config with a small byte-level BPE tokenizer for tests.
Source: ``transformers/models/sam3/*``, ``sam3_video/*`` (5.25.0).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ...errors import CheckpointFormatError, ConfigError, PromptError
from ...io.frames import FrameSource
from ...types import ConceptPrediction, FrameMasks, ModelInfo
from ..validate import check_image
from .image import TransformersImageBackend, float_image
from .loading import _quiet_transformers, hf_class, model_image_size, tiny_config
from .video import TransformersVideoBackend

TEST_VOCAB_MERGES = (("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>"), ("s", "w"), ("sw", "a"))
"""Merges of the test tokenizer (:func:`small_clip_tokenizer`): a few words get their own tokens."""


def small_clip_tokenizer():
    """A small CLIP-style byte-level BPE tokenizer (514 byte tokens + a few merges + the CLIP
    special tokens) for untrained SAM 3 models: no tokenizer files can be downloaded here."""
    from tokenizers.pre_tokenizers import ByteLevel

    chars = sorted(ByteLevel.alphabet())
    tokens = [*chars, *(c + "</w>" for c in chars), *("".join(m) for m in TEST_VOCAB_MERGES)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    return hf_class("CLIPTokenizer")(vocab=vocab, merges=list(TEST_VOCAB_MERGES))


def tiny_concept_config(image_size: int, vocab_size: int):
    """A small ``Sam3VideoConfig`` (detector ``Sam3Config`` + tracker) for untrained tests: the
    ViT of :func:`~.loading.tiny_config`, a 2-layer CLIP text encoder, one-layer DETR, detection
    thresholds of 0.2, no hot-start delay and at most 4 objects."""
    n = image_size // 14
    tracker = tiny_config("sam3_tracker", image_size, "video")
    detector = hf_class("Sam3Config")(
        vision_config=tracker.vision_config.to_dict(),
        text_config=dict(
            model_type="clip_text_model",
            vocab_size=vocab_size,
            hidden_size=64,
            intermediate_size=128,
            projection_dim=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
        ),
        geometry_encoder_config=dict(num_layers=1, intermediate_size=256),
        detr_encoder_config=dict(num_layers=1, intermediate_size=256),
        detr_decoder_config=dict(num_layers=1, intermediate_size=256, num_queries=20),
    )
    # random weights score every query near 0.27: low thresholds let the test model find and
    # track instances, so the identity bookkeeping runs on real frames
    return hf_class("Sam3VideoConfig")(
        detector_config=detector,
        tracker_config=tracker,
        low_res_mask_size=4 * n,
        score_threshold_detection=0.2,
        new_det_thresh=0.2,
        hotstart_delay=0,
        max_num_objects=4,
    )


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f"A concept prompt is a non-empty noun phrase, e.g. 'dog' or 'red car'; got {text!r}.")
    return text.strip()


def _check_threshold(threshold: float) -> float:
    if not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(f"threshold must lie in [0, 1] (a detection score); got {threshold!r}.")
    return float(threshold)


class _ConceptModels:
    """``Sam3Model`` and ``Sam3VideoModel`` with their processors, loaded on first use."""

    def __init__(self, folder: Path | None, device: torch.device, image_size: int, seed: int):
        self.folder, self.device, self.image_size, self.seed = folder, device, image_size, seed
        self._video = None
        self._image = None
        self._tokenizer = None

    def tokenizer(self):
        if self._tokenizer is None:
            if self.folder is None:
                self._tokenizer = small_clip_tokenizer()
            else:
                try:
                    with _quiet_transformers():
                        self._tokenizer = hf_class("CLIPTokenizer").from_pretrained(self.folder, local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise CheckpointFormatError(
                        f"{self.folder} has no readable tokenizer (tokenizer.json or vocab.json + merges.txt), "
                        f"which SAM 3 text prompts need: {exc}. Download the whole facebook/sam3 folder."
                    ) from exc
        return self._tokenizer

    def video_model(self):
        if self._video is None:
            cls = hf_class("Sam3VideoModel")
            if self.folder is None:
                config = tiny_concept_config(self.image_size, len(self.tokenizer()))
                with torch.random.fork_rng(devices=[]), _quiet_transformers():
                    torch.manual_seed(self.seed)
                    model = cls(config)
            else:
                with _quiet_transformers():
                    model = cls.from_pretrained(self.folder, local_files_only=True, use_safetensors=True)
            self._video = model.to(self.device).eval()
        return self._video

    def image_model(self):
        """The detector: ``Sam3VideoModel.detector_model`` (a ``Sam3Model``), so image and
        video prompts use the same weights and only one copy is held."""
        return self.video_model().detector_model

    def image_processor(self):
        size = {"height": self.image_size, "width": self.image_size}
        return hf_class("Sam3Processor")(
            image_processor=hf_class("Sam3ImageProcessor")(size=size), tokenizer=self.tokenizer()
        )

    def video_processor(self):
        size = {"height": self.image_size, "width": self.image_size}
        return hf_class("Sam3VideoProcessor")(
            image_processor=hf_class("Sam3ImageProcessor")(size=size),
            video_processor=hf_class("Sam2VideoVideoProcessor")(size=size),
            tokenizer=self.tokenizer(),
        )


class _ConceptMixin:
    """``segment_concept`` / ``track_concept`` for the SAM 3 backends."""

    _concepts: _ConceptModels
    info: ModelInfo

    def segment_concept(self, image: np.ndarray, text: str, threshold: float = 0.5) -> ConceptPrediction:
        """Every instance of the concept ``text`` in ``image``.

        Parameters
        ----------
        image : (H, W, 3) uint8 RGB
        text : str
            A noun phrase (``"dog"``, ``"red car"``).
        threshold : float
            Smallest detection score kept, in [0, 1].

        Returns
        -------
        ConceptPrediction
            ``masks`` (K, H, W) bool, ``boxes`` (K, 4) float32 XYXY pixels, ``scores`` (K,)
            float32, highest score first.

        Raises
        ------
        DataError, PromptError, ConfigError, CheckpointError
        """
        image = check_image(image)
        text = _check_text(text)
        threshold = _check_threshold(threshold)
        model = self._concepts.image_model()
        processor = self._concepts.image_processor()
        inputs = processor(images=float_image(image), text=text, do_rescale=False, return_tensors="pt")
        with torch.inference_mode():
            out = model(
                pixel_values=inputs["pixel_values"].to(self._concepts.device),
                input_ids=inputs["input_ids"].to(self._concepts.device),
                attention_mask=inputs["attention_mask"].to(self._concepts.device),
            )
            res = processor.post_process_instance_segmentation(
                out, threshold=threshold, mask_threshold=0.5, target_sizes=[list(image.shape[:2])]
            )[0]
        order = torch.argsort(res["scores"].float().cpu(), descending=True)
        h, w = image.shape[:2]
        return ConceptPrediction(
            text=text,
            masks=res["masks"].cpu()[order].bool().numpy().reshape(-1, h, w),
            boxes=res["boxes"].float().cpu()[order].numpy().astype(np.float32).reshape(-1, 4),
            scores=res["scores"].float().cpu()[order].numpy().astype(np.float32),
            untrained=self.info.untrained,
        )

    def track_concept(
        self, video: str | Path | Sequence[np.ndarray], text: str, max_frame_num_to_track: int | None = None
    ) -> Iterator[FrameMasks]:
        """Detect and track every instance of ``text`` through ``video`` from frame 0.

        Yields
        ------
        FrameMasks
            Per frame: ``obj_ids`` (identities kept across frames), ``masks`` (O, H, W) bool,
            ``object_scores`` (O,) detection scores.

        Raises
        ------
        DatasetNotFoundError, DataError, PromptError, CheckpointError
        """
        text = _check_text(text)
        if max_frame_num_to_track is not None and int(max_frame_num_to_track) < 0:
            raise PromptError(f"max_frame_num_to_track must be >= 0; got {max_frame_num_to_track}.")
        source = video if isinstance(video, FrameSource) else FrameSource(video, cache_size=2)
        frames = [check_image(source[i]) for i in range(len(source))]
        model = self._concepts.video_model()
        processor = self._concepts.video_processor()
        device = self._concepts.device
        session = processor.init_video_session(
            video=[float_image(f) for f in frames], inference_device=device, dtype=torch.float32
        )
        session.video_height, session.video_width = frames[0].shape[:2]
        processor.add_text_prompt(session, text)
        return self._track(model, processor, session, max_frame_num_to_track)

    @staticmethod
    def _track(model, processor, session, max_frames) -> Iterator[FrameMasks]:
        it = model.propagate_in_video_iterator(session, start_frame_idx=0, max_frame_num_to_track=max_frames)
        while True:
            with torch.inference_mode(), _quiet_transformers():
                try:
                    out = next(it)
                except StopIteration:
                    return
                res = processor.postprocess_outputs(session, out)
            ids = [int(i) for i in res["object_ids"].cpu().tolist()]
            masks = res["masks"].cpu().bool().numpy().reshape(len(ids), session.video_height, session.video_width)
            yield FrameMasks(
                frame_idx=int(out.frame_idx),
                obj_ids=ids,
                masks=masks,
                object_scores=res["scores"].float().cpu().numpy().astype(np.float32),
            )


class Sam3ImageBackend(_ConceptMixin, TransformersImageBackend):
    """SAM 3 on images: points / boxes / masks through ``Sam3TrackerModel`` (as every image
    backend) and text concept prompts (:meth:`segment_concept`)."""

    def __init__(self, model, info, folder: Path | None, seed: int = 0):
        super().__init__(model, info)
        self._concepts = _ConceptModels(folder, self.device, model_image_size(model), seed)


class Sam3VideoBackend(_ConceptMixin, TransformersVideoBackend):
    """SAM 3 on videos: points / boxes / masks through ``Sam3TrackerVideoModel`` (as every video
    backend) and text concept tracking (:meth:`track_concept`)."""

    def __init__(self, model, info, folder: Path | None, seed: int = 0):
        super().__init__(model, info)
        self._concepts = _ConceptModels(folder, self.device, model_image_size(model), seed)


__all__ = ["Sam3ImageBackend", "Sam3VideoBackend", "small_clip_tokenizer", "tiny_concept_config"]
