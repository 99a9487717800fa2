"""SAMURAI: motion-aware mask selection and motion-aware memory selection for SAM 2 video.

Paper: Yang, Huang, Chiang, Yang, Hwang, "SAMURAI: Adapting Segment Anything Model for
Zero-Shot Visual Tracking with Motion-Aware Memory", arXiv:2411.11922 (section 3.2 "Motion
modeling", section 3.3 "Motion-aware memory selection").

Reference implementation read (not copied): yangchris11/samurai @
76ba195984892b0d1e3db5d9c9f90bb62175680a, its sam2 fork ``sam2/sam2/modeling/sam2_base.py``
(``SAM2Base.__init__`` parameters, ``_forward_sam_heads`` "samurai_mode" branch,
``_prepare_memory_conditioned_features`` "samurai_mode" branch), ``sam2/sam2/utils/kalman_filter.py``,
``sam2/sam2/sam2_video_predictor.py`` (``_run_single_frame_inference`` storing
``best_iou_score`` / ``kf_score``), ``sam2/sam2/configs/samurai/sam2.1_hiera_t.yaml`` and
``scripts/demo.py``. Golden outputs of that code: ``shared/golden/tracking_policies/samurai*``.

The rules (one object; every decoder call with several candidate masks)
------------------------------------------------------------------------
Mask selection, in :meth:`SamuraiPolicy.choose_mask` (``stable_frames`` counts frames whose
chosen mask had a predicted IoU above ``stable_ious_threshold``):

1. no filter yet, or ``stable_frames == 0``: keep the candidate with the highest predicted
   IoU; start the filter at its box (``initiate``); ``stable_frames += 1``.
2. ``stable_frames < stable_frames_threshold``: ``predict``; keep the highest predicted IoU;
   if that IoU ``> stable_ious_threshold``, ``update`` with its box and ``stable_frames += 1``,
   else ``stable_frames = 0``.
3. otherwise (a stable track): ``predict``; score every candidate by
   ``kf_score_weight * IoU(box, predicted box) + (1 - kf_score_weight) * predicted IoU`` and keep
   the best; if its predicted IoU ``< stable_ious_threshold``, ``stable_frames = 0``, else
   ``update`` with its box.

Boxes are those of the candidate's mask at the model's input resolution (``image_size``,
logits > 0, inclusive pixel indices; an empty mask gives ``[0, 0, 0, 0]``). Each frame stores
``best_iou_score`` (predicted IoU of the kept mask), ``object_score_logit`` and ``kf_score``
(the Kalman IoU of the kept mask in rule 3, else None).

Memory selection, in :meth:`SamuraiPolicy.select_memory` (which non-conditioning frames fill
the ``num_maskmem - 1`` memory slots when tracking frame ``t``): walk back from ``t - 1`` to
frame 2, keeping the frames whose stored scores pass all of ``best_iou_score >
memory_bank_iou_threshold``, ``object_score_logit > memory_bank_obj_score_threshold`` and
(``kf_score`` is None or ``kf_score > memory_bank_kf_score_threshold``), at most
``max_obj_ptrs_in_encoder - 1`` of them; then add ``t - 1`` if it is not there. The newest
``num_maskmem - 1`` of these fill the slots, the newest in the slot nearest in time. Frames 0
and 1 are never candidates (the reference's loop ``range(t - 1, 1, -1)``), except frame 1 as
``t - 1``. Conditioning frames and object pointers are chosen as in sam2.

Where this implementation goes beyond the reference (documented choices)
-----------------------------------------------------------------------------
* **Several objects**: the reference keeps one filter on the model and runs it on the first
  object of the batch only. sam2 1.1.0 runs each object through the decoder separately, so
  here every ``obj_id`` has its own filter, ``stable_frames`` and stored scores (with one
  object, as in the goldens, this is the reference exactly).
* **State lifetime**: the reference builds a new predictor (hence a new filter) per video;
  here the state is cleared by ``init_state`` and ``reset_state``, and an object's state by
  ``remove_object``. Within a video the filter runs in call order, whatever the frame or
  direction: propagating again (e.g. after a correction click) continues from the current
  filter, as the reference's filter on the model does. The state is plain data
  (:meth:`SamuraiPolicy.policy_state`); a session's undo must snapshot it beside
  ``inference_state``.
* **Frames missing from the memory bank**: the reference reads ``non_cond_frame_outputs[i]``
  for every ``i`` in its loop and raises ``KeyError`` when ``i`` is a conditioning frame or was
  never tracked (e.g. a prompt on a frame after 1); such frames are skipped here, as are
  frames without stored scores.
* **Reverse tracking**: the reference applies the forward rule whatever the direction (and
  then fails as above). Here the rule is mirrored in time: tracking backwards through a video
  chooses exactly what forward tracking chooses on the time-reversed video (frame ``i`` plays
  the role of ``num_frames - 1 - i``).
* **Mask prompts**: a frame whose output is the input mask stores ``best_iou_score`` 1.0 and
  ``kf_score`` 1.0 (the reference stores the integers 1, 1).
* **Attention kernel**: see :func:`reference_attention_backends`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ....errors import BackendError, ConfigError
from .base import params_from_kwargs, plain_copy
from .kalman import KalmanFilter
from .predictor import install_hooks


@dataclass(frozen=True)
class SamuraiParams:
    """SAMURAI's settings, with the reference's names and the values of its configs.

    Source of every default: ``sam2/sam2/configs/samurai/sam2.1_hiera_t.yaml`` (the same in the
    ``_s``, ``_b+`` and ``_l`` configs) of yangchris11/samurai @ 76ba195, read by
    ``SAM2Base.__init__`` in ``sam2/sam2/modeling/sam2_base.py``.

    Attributes
    ----------
    samurai_mode : bool
        ``True`` (config). ``False`` is the fork's plain mode: highest predicted IoU and sam2's
        memory frames, but still ``min_obj_score_logits`` and the reference's attention kernel.
    stable_frames_threshold : int
        15 (config and ``sam2_base.py``). Stable frames needed before the Kalman-weighted choice.
    stable_ious_threshold : float
        0.3 (config and ``sam2_base.py``). Predicted IoU a kept mask needs to count as stable.
    min_obj_score_logits : float
        -1 (config and ``sam2_base.py``). Object-score logit above which the decoder's object
        counts as present (sam2 1.1.0 uses 0): below it the masks become "no object" and the
        object pointer the learned no-object pointer.
    kf_score_weight : float
        0.25 (config; ``sam2_base.py``'s own default is 0.15). Weight of the Kalman IoU in the
        weighted score.
    memory_bank_iou_threshold : float
        0.5 (config and ``sam2_base.py``). ``best_iou_score`` a frame needs to enter memory.
    memory_bank_obj_score_threshold : float
        0.0 (config and ``sam2_base.py``). Object-score logit a frame needs to enter memory.
    memory_bank_kf_score_threshold : float
        0.0 (config and ``sam2_base.py``). Kalman IoU a frame needs to enter memory (frames
        chosen before the track was stable have none and pass).

    The memory sizes SAMURAI uses are the model's own (``num_maskmem`` 7,
    ``max_obj_ptrs_in_encoder`` 16 in every sam2.1 config) and are read from the predictor.
    """

    samurai_mode: bool = True
    stable_frames_threshold: int = 15
    stable_ious_threshold: float = 0.3
    min_obj_score_logits: float = -1.0
    kf_score_weight: float = 0.25
    memory_bank_iou_threshold: float = 0.5
    memory_bank_obj_score_threshold: float = 0.0
    memory_bank_kf_score_threshold: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"SAMURAI parameter {f.name}={value!r} must be a finite number.")
        if self.stable_frames_threshold < 0:
            raise ConfigError(
                f"SAMURAI parameter stable_frames_threshold must be >= 0; got {self.stable_frames_threshold}."
            )
        if not 0.0 <= self.kf_score_weight <= 1.0:
            raise ConfigError(f"SAMURAI parameter kf_score_weight must be in [0, 1]; got {self.kf_score_weight}.")

    @classmethod
    def from_kwargs(cls, **kwargs) -> SamuraiParams:
        """Checked construction (unknown names and wrong types raise :class:`ConfigError`)."""
        return params_from_kwargs(cls, kwargs, "samurai")


def reference_attention_backends() -> list:
    """The scaled-dot-product kernels the SAMURAI reference allows in SAM 2's transformer
    attention (mask decoder and memory attention; not the image encoder).

    The fork's ``sam2/modeling/sam/transformer.py`` runs ``F.scaled_dot_product_attention``
    inside ``torch.backends.cuda.sdp_kernel(enable_flash=USE_FLASH_ATTN,
    enable_math=(OLD_GPU and dropout_p > 0) or MATH_KERNEL_ON, enable_mem_efficient=OLD_GPU)``
    with the flags of ``sam2/utils/misc.py:get_sdpa_settings`` (decided from CUDA device 0
    whenever CUDA is available, whatever device the model runs on), and ``sdp_kernel`` also
    allows cuDNN attention. sam2 1.1.0 makes the same calls without that context. In
    inference ``dropout_p`` is 0, so:

    * no CUDA: efficient, math, cuDNN allowed; on CPU that is the **MATH** kernel (CPU has
      only flash and math). The goldens were computed this way.
    * CUDA capability >= 8: flash and cuDNN; capability 7: math and cuDNN; below 7:
      efficient, math and cuDNN (torch < 2.2 adds math). If the allowed kernels fail (e.g.
      flash on float32), the reference falls back to torch's default for every later call,
      and so does the policy (:class:`~.predictor.PinnedKernelAttention`).
    """
    from torch.nn.attention import SDPBackend

    if torch.cuda.is_available():
        major = torch.cuda.get_device_properties(0).major
        old_gpu, use_flash = major < 7, major >= 8
        version = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
        math_on = version < (2, 2) or not use_flash
    else:
        old_gpu, use_flash, math_on = True, False, True
    backends = []
    if use_flash:
        backends.append(SDPBackend.FLASH_ATTENTION)
    if old_gpu:
        backends.append(SDPBackend.EFFICIENT_ATTENTION)
    if math_on:
        backends.append(SDPBackend.MATH)
    backends.append(SDPBackend.CUDNN_ATTENTION)
    return backends


def mask_box_xyxy(mask_logits: torch.Tensor) -> list[int]:
    """``[x_min, y_min, x_max, y_max]`` (inclusive pixel indices, Python ints) of ``logits >
    0`` in a 2-D map, ``[0, 0, 0, 0]`` when it is empty (SAMURAI's box of a mask)."""
    fg = mask_logits > 0.0
    rows = torch.nonzero(fg.any(dim=1)).flatten()
    if rows.numel() == 0:
        return [0, 0, 0, 0]
    cols = torch.nonzero(fg.any(dim=0)).flatten()
    return [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]


@dataclass
class _Track:
    """One object's SAMURAI state."""

    kf_mean: np.ndarray | None = None
    kf_covariance: np.ndarray | None = None
    stable_frames: int = 0
    frames: dict[int, dict] = dataclasses.field(default_factory=dict)

    def motion(self) -> tuple:
        return (
            None if self.kf_mean is None else self.kf_mean.copy(),
            None if self.kf_covariance is None else self.kf_covariance.copy(),
            self.stable_frames,
        )


class SamuraiPolicy:
    """SAMURAI as a tracking policy for sam2 1.1.0's ``SAM2VideoPredictor`` (see the module
    docstring for the rules and :mod:`.predictor` for how it plugs in).

    Parameters
    ----------
    params : SamuraiParams, optional
        Default: the reference's config values.

    Notes
    -----
    State (:meth:`policy_state`), per ``obj_id``: the Kalman mean (8 floats) and covariance
    (8 x 8), ``stable_frames`` and, per frame index, the record of the frame's last decoder
    call: ``best_iou_score``, ``object_score_logit``, ``kf_score`` (what memory selection reads)
    and, for inspection, ``selection`` (``"argmax_pred_iou"``, ``"kalman_weighted"``,
    ``"single_mask"`` for one-mask decoder calls such as box prompts, ``"mask_input"``),
    ``chosen_index``, ``pred_ious``, ``stable_frames_after``, ``kf_mean_after``,
    ``memory_frames`` (``[t_pos, frame]`` of the memory slots used) and, on Kalman-weighted
    frames, ``kf_pred_xyah``, ``kf_pred_xyxy``, ``candidate_boxes_xyxy``, ``kf_ious``,
    ``weighted_ious``. A frame whose inference raises leaves the state as it was.
    """

    name = "samurai"

    def __init__(self, params: SamuraiParams | None = None):
        if params is None:
            params = SamuraiParams()
        if not isinstance(params, SamuraiParams):
            raise ConfigError(f"SamuraiPolicy needs SamuraiParams; got {type(params).__name__}.")
        self.params = params
        self.kf = KalmanFilter()
        self._tracks: dict[int, _Track] = {}
        self._frame: tuple[int, int, bool, int] | None = None  # (obj_id, frame_idx, reverse, num_frames)
        self._pending: dict = {}  # the record of the frame being run
        self._saved_motion: tuple | None = None

    def __repr__(self) -> str:
        return f"SamuraiPolicy({self.params!r})"

    # -- TrackingPolicy --------------------------------------------------------------------------
    def params_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params)

    def install(self, predictor):
        """Plug into ``predictor`` (see :func:`~.predictor.apply_policy`); returns it."""
        return install_hooks(predictor, self)

    def reset(self) -> None:
        self._tracks.clear()
        self._frame, self._pending, self._saved_motion = None, {}, None

    def forget_object(self, obj_id: int) -> None:
        self._tracks.pop(int(obj_id), None)

    def policy_state(self) -> dict[str, Any]:
        objects = {}
        for obj_id, tr in self._tracks.items():
            objects[obj_id] = {
                "kf_mean": None if tr.kf_mean is None else tr.kf_mean.tolist(),
                "kf_covariance": None if tr.kf_covariance is None else tr.kf_covariance.tolist(),
                "stable_frames": int(tr.stable_frames),
                "frames": plain_copy(tr.frames),
            }
        return {"policy": self.name, "objects": objects}

    def set_policy_state(self, state: Mapping[str, Any]) -> None:
        if (
            not isinstance(state, Mapping)
            or state.get("policy") != self.name
            or not isinstance(state.get("objects"), Mapping)
        ):
            raise ConfigError(
                "Not a SAMURAI policy state: expected {'policy': 'samurai', 'objects': {...}} "
                "as SamuraiPolicy.policy_state() returns."
            )
        tracks = {}
        try:
            for obj_id, obj in state["objects"].items():
                mean, cov = obj["kf_mean"], obj["kf_covariance"]
                tr = _Track(
                    kf_mean=None if mean is None else np.array(mean, dtype=np.float64).reshape(8),
                    kf_covariance=None if cov is None else np.array(cov, dtype=np.float64).reshape(8, 8),
                    stable_frames=int(obj["stable_frames"]),
                    frames={int(f): plain_copy(dict(rec)) for f, rec in obj["frames"].items()},
                )
                tracks[int(obj_id)] = tr
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"Malformed SAMURAI policy state: {exc!r}.") from exc
        self._tracks = tracks
        self._frame, self._pending, self._saved_motion = None, {}, None

    # -- PredictorHooks --------------------------------------------------------------------------
    def attention_backends(self) -> list:
        return reference_attention_backends()

    def object_score_threshold(self) -> float:
        return self.params.min_obj_score_logits

    def begin_frame(self, obj_id: int, frame_idx: int, reverse: bool, num_frames: int) -> None:
        self._frame = (int(obj_id), int(frame_idx), bool(reverse), int(num_frames))
        self._pending = {}
        self._saved_motion = self._track(obj_id).motion()

    def end_frame(self, completed: bool) -> None:
        frame, pending, saved = self._frame, self._pending, self._saved_motion
        self._frame, self._pending, self._saved_motion = None, {}, None
        if frame is None:
            return
        tr = self._track(frame[0])
        if not completed:
            if saved is not None:
                tr.kf_mean, tr.kf_covariance, tr.stable_frames = saved
            return
        if "best_iou_score" in pending:
            tr.frames[frame[1]] = pending

    def _context(self) -> tuple[int, int, bool, int]:
        if self._frame is None:
            raise BackendError(
                "SAMURAI policy: a decoder call outside a frame inference; the policy follows "
                "SAM2VideoPredictor's _run_single_frame_inference (use the predictor's video API)."
            )
        return self._frame

    def _track(self, obj_id: int) -> _Track:
        return self._tracks.setdefault(int(obj_id), _Track())

    def mask_as_output(self, object_score_logits) -> None:
        self._context()
        self._pending.update(
            selection="mask_input",
            chosen_index=0,
            pred_ious=[1.0],
            best_iou_score=1.0,
            kf_score=1.0,
            object_score_logit=float(object_score_logits.reshape(-1)[0].item()),
        )

    def choose_mask(
        self,
        ious: torch.Tensor,
        high_res_multimasks: torch.Tensor,
        object_score_logits: torch.Tensor,
        multimask_output: bool,
    ):
        """Pick the kept candidate (rules in the module docstring) and record the frame.

        Returns
        -------
        LongTensor (1,) or None
            The candidate index; None for one-mask decoder calls (nothing to choose) and with
            ``samurai_mode=False`` (sam2's highest predicted IoU).
        """
        obj_id, _, _, _ = self._context()
        if ious.shape[0] != 1:
            raise BackendError(
                f"SAMURAI policy: one object per decoder call expected (sam2 1.1.0's video "
                f"predictor); got a batch of {ious.shape[0]}."
            )
        rec = self._pending
        tr = self._track(obj_id)
        rec.update(
            pred_ious=[float(v) for v in ious[0].tolist()],
            object_score_logit=float(object_score_logits.reshape(-1)[0].item()),
        )
        if not multimask_output or not self.params.samurai_mode:
            idx = 0 if not multimask_output else int(torch.argmax(ious, dim=-1)[0])
            rec.update(
                selection="single_mask" if not multimask_output else "argmax_pred_iou",
                chosen_index=idx,
                best_iou_score=float(ious[0][idx].item()),
                kf_score=None,
                stable_frames_after=tr.stable_frames,
                kf_mean_after=_as_list(tr.kf_mean),
            )
            return None

        p, kf = self.params, self.kf
        device = ious.device
        batch_inds = torch.arange(ious.shape[0], device=device)
        kf_ious = None
        if (tr.kf_mean is None and tr.kf_covariance is None) or tr.stable_frames == 0:
            # rule 1: (re)start the filter at the most confident candidate
            best = torch.argmax(ious, dim=-1)
            box = mask_box_xyxy(high_res_multimasks[batch_inds, best][0])
            tr.kf_mean, tr.kf_covariance = kf.initiate(kf.xyxy_to_xyah(box))
            tr.stable_frames += 1
            selection = "argmax_pred_iou"
        elif tr.stable_frames < p.stable_frames_threshold:
            # rule 2: follow the most confident candidate while the track is not yet stable
            assert tr.kf_mean is not None and tr.kf_covariance is not None
            tr.kf_mean, tr.kf_covariance = kf.predict(tr.kf_mean, tr.kf_covariance)
            best = torch.argmax(ious, dim=-1)
            box = mask_box_xyxy(high_res_multimasks[batch_inds, best][0])
            if ious[0][best] > p.stable_ious_threshold:
                tr.kf_mean, tr.kf_covariance = kf.update(tr.kf_mean, tr.kf_covariance, kf.xyxy_to_xyah(box))
                tr.stable_frames += 1
            else:
                tr.stable_frames = 0
            selection = "argmax_pred_iou"
        else:
            # rule 3: weigh the predicted IoU with the IoU against the predicted box
            assert tr.kf_mean is not None and tr.kf_covariance is not None
            tr.kf_mean, tr.kf_covariance = kf.predict(tr.kf_mean, tr.kf_covariance)
            boxes = [mask_box_xyxy(high_res_multimasks[batch_inds, i][0]) for i in range(ious.shape[1])]
            # torch.tensor of the list as the reference builds it: its dtype follows the
            # element types (float64 scores; int 0 for empty boxes), see .kalman
            kf_ious = torch.tensor(kf.compute_iou(tr.kf_mean[:4], boxes), device=device)
            weighted = p.kf_score_weight * kf_ious + (1 - p.kf_score_weight) * ious
            best = torch.argmax(weighted, dim=-1)
            pred_xyah = tr.kf_mean[:4].tolist()
            rec.update(
                kf_pred_xyah=pred_xyah,
                kf_pred_xyxy=[float(v) for v in kf.xyah_to_xyxy(tr.kf_mean[:4])],
                candidate_boxes_xyxy=boxes,
                kf_ious=[float(v) for v in kf_ious.tolist()],
                weighted_ious=[float(v) for v in weighted.reshape(-1).tolist()],
            )
            if ious[0][best] < p.stable_ious_threshold:
                tr.stable_frames = 0
            else:
                tr.kf_mean, tr.kf_covariance = kf.update(
                    tr.kf_mean, tr.kf_covariance, kf.xyxy_to_xyah(boxes[int(best[0])])
                )
            selection = "kalman_weighted"
        idx = int(best[0])
        rec.update(
            selection=selection,
            chosen_index=idx,
            best_iou_score=float(ious[0][best].item()),
            kf_score=None if kf_ious is None else float(kf_ious[best].item()),
            stable_frames_after=tr.stable_frames,
            kf_mean_after=_as_list(tr.kf_mean),
        )
        return best

    def select_memory(
        self,
        frame_idx: int,
        non_cond_outputs: Mapping,
        unselected_cond_outputs: Mapping,
        track_in_reverse: bool,
        num_maskmem: int,
        max_obj_ptrs_in_encoder: int,
        num_frames: int | None,
    ):
        """The non-conditioning memory slots ``[(t_pos, output or None), ...]`` for
        ``frame_idx`` (rules in the module docstring); None with ``samurai_mode=False``."""
        obj_id, _, _, ctx_frames = self._context()
        if not self.params.samurai_mode:
            return None
        p = self.params
        records = self._track(obj_id).frames
        n = int(num_frames) if num_frames is not None else ctx_frames

        def frame_at(q: int) -> int:  # position in tracking order -> frame index (and back)
            return n - 1 - q if track_in_reverse else q

        pos = frame_at(int(frame_idx))
        valid: list[int] = []
        if pos > 1:
            for q in range(pos - 1, 1, -1):
                i = frame_at(q)
                rec = records.get(i)
                if i not in non_cond_outputs or rec is None:
                    continue  # the reference raises KeyError here (see the module docstring)
                kf_score = rec.get("kf_score")
                if (
                    rec["best_iou_score"] > p.memory_bank_iou_threshold
                    and rec["object_score_logit"] > p.memory_bank_obj_score_threshold
                    and (kf_score is None or kf_score > p.memory_bank_kf_score_threshold)
                ):
                    valid.insert(0, i)
                if len(valid) >= max_obj_ptrs_in_encoder - 1:
                    break
        last = frame_at(pos - 1)
        if last not in valid:
            valid.append(last)
        slots, used = [], []
        for t_pos in range(1, num_maskmem):
            k = t_pos - num_maskmem
            if k < -len(valid):
                continue
            f = valid[k]
            out = non_cond_outputs.get(f, None)
            if out is None:
                out = unselected_cond_outputs.get(f, None)
            slots.append((t_pos, out))
            if out is not None:
                used.append([t_pos, f])
        self._pending["memory_frames"] = used
        return slots

    # -- teaching view ----------------------------------------------------------------------------
    def frame_scores(self, obj_id: int, frame_idx: int, output: Mapping) -> dict[str, float]:
        """SAMURAI's scores of its last decision for ``obj_id`` on ``frame_idx`` (from the frame's
        record, see the class notes; ``output`` is not needed): ``chosen_mask`` (index of the
        kept candidate), ``best_iou_score`` (its predicted IoU), ``kalman_weighted`` (1.0 when
        rule 3 chose it), ``stable_frames`` (after the frame), ``kf_score`` (Kalman IoU of the
        kept mask, rule 3 and mask prompts only), ``kf_iou_<i>`` and ``weighted_score_<i>`` (per
        candidate, rule 3 only). Empty when the policy has no record of the frame."""
        track = self._tracks.get(int(obj_id))
        rec = None if track is None else track.frames.get(int(frame_idx))
        if rec is None:
            return {}
        scores = {
            "chosen_mask": float(rec["chosen_index"]),
            "best_iou_score": float(rec["best_iou_score"]),
            "kalman_weighted": 1.0 if rec.get("selection") == "kalman_weighted" else 0.0,
        }
        if rec.get("stable_frames_after") is not None:
            scores["stable_frames"] = float(rec["stable_frames_after"])
        if rec.get("kf_score") is not None:
            scores["kf_score"] = float(rec["kf_score"])
        for name, key in (("kf_iou", "kf_ious"), ("weighted_score", "weighted_ious")):
            for i, v in enumerate(rec.get(key) or []):
                scores[f"{name}_{i}"] = float(v)
        return scores


def _as_list(a) -> list | None:
    return None if a is None else [float(v) for v in a]


__all__ = ["SamuraiParams", "SamuraiPolicy", "mask_box_xyxy", "reference_attention_backends"]
