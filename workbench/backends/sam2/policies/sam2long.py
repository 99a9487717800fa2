"""SAM2Long (training-free memory tree) as a tracking policy for sam2 1.1.0's video predictor.

Paper: S. Ding et al., "SAM2Long: Enhancing SAM 2 for Long Video Segmentation with a
Training-Free Memory Tree", arXiv 2410.16268. Reference code: Mark12Ding/SAM2Long @
7193b77fa0c8827e0520ab281acd2cf394ab898e (a modified copy of an older sam2; its files
``sam2/sam2_video_predictor.py``, ``sam2/modeling/sam2_base.py``,
``sam2/modeling/memory_attention.py`` and ``tools/vos_inference.py``). This module is a new
implementation of the same maths and control flow on top of the unmodified sam2 1.1.0; no
reference code is copied. The pure rules (pathway scoring, pruning, memory choice) are in
:mod:`.sam2long_tree`.

What the policy does, per object and per tracked frame
------------------------------------------------------
* The first frame tracked after a prompt (the *root*, reference: ``frame_idx ==
  start_frame_idx + 1``) runs sam2 as usual: one decoder call, the best candidate is kept, and
  ``num_pathway`` identical pathways start from it with score 0.
* Every later frame: each pathway runs SAM 2's decoder with *its own* memory (below); every
  candidate mask of every call extends its pathway; :func:`.sam2long_tree.expand_and_prune`
  keeps ``num_pathway`` of them (accumulated log predicted IoU; on uncertain frames, those
  whose |object-score logit| never exceeds ``uncertainty``, diverse candidates). Each survivor's
  mask is encoded into memory and stored as a *slot* of the frame (slot 0 = best).
* A pathway's memory (:func:`.sam2long_tree.plan_memory`): the conditioning frames, then up
  to ``num_maskmem - 1`` tree frames, each read from the slot the pathway picked there, skipping
  frames whose picked candidate had IoU <= ``iou_thre`` or a non-positive object score; object
  pointers likewise.
* Memory-attention key re-weighting (reference: ``MemoryAttentionLayer._forward_ca``): when
  more than one memory frame is attended, the keys (``memory + pos``) of each memory frame are
  multiplied by ``linspace(0.95, 1.05, n)`` assigned by the rank of the frame's object-score
  logit (conditioning frames count as 10, i.e. highest), and the object-pointer tokens likewise
  by the rank of their frames' scores (:func:`memory_key_weights`).
* Output: the predictor yields, on each frame, slot 0, i.e. the newest mask of the best pathway
  so far. The reference writes its masks only after the whole video, from the picks of the
  final best pathway (``mem_pick_indexs[0]``); :meth:`SAM2LongPolicy.final_pred_masks` gives
  that retrospective choice (the two agree whenever the final best pathway picked slot 0
  on every frame, as on the goldens).

How it plugs in
---------------
:func:`apply_sam2long` (or ``SAM2LongPolicy(...).install(predictor)``) changes one *built*
predictor instance, not the class, and nothing in sam2's files:

* instance attributes replace two methods: ``_run_single_frame_inference`` (tracked frames
  without prompts go through the tree; prompted and corrected frames through sam2's own method)
  and ``_prepare_memory_conditioned_features`` (a pathway's memory while the policy runs one of
  its decoder calls; sam2's own otherwise);
* a forward hook on ``sam_mask_decoder`` reads the three candidates' output tokens (sam2 keeps
  only the best one's object pointer);
* a forward pre-hook on each memory-attention layer's ``cross_attn_image`` scales the keys;
* optionally the attention kernel (``math_attention``, below).

For the teaching view each tree frame's output also records, under
:data:`~.trace.TRACE_KEY`, the memories its output pathway's decoder call attended
(conditioning frames, memory frames, object-pointer frames), and :meth:`SAM2LongPolicy.frame_scores`
reads the pathway scores from the frame's record.

``propagate_in_video``, ``add_new_*``, ``init_state``, frame loading and the state layout stay
sam2's, so the workbench's :class:`~workbench.backends.sam2.video.SAM2VideoBackend` composes
with it as is: lazy frames (the policy reads frames only through ``_get_image_feature``) and
bounded memory (each tracked frame's entry keeps sam2's keys, holding slot 0, plus tensors
``sam2long_alt_*`` for slots 1.. and a small plain-data record under ``"sam2long"``; the
trimmer spills and reads them back like any other entry). :meth:`SAM2LongPolicy.uninstall`
undoes everything.

State
-----
Each tracked frame's record (ious, object scores, accumulated scores and parent pathway of
every slot, tree id) lives in ``inference_state`` with the frame, so undo/snapshots of the
inference state restore the tree too; the current pathways (scores, picks) are also cached in
the policy: :meth:`~SAM2LongPolicy.policy_state` / :meth:`~SAM2LongPolicy.set_policy_state`
(plain data). A propagation that starts right after a frame tracked by the tree continues
that tree (its pathways are rebuilt from the records when the cache does not match);
otherwise the first frame becomes a new root.

Attention kernel
----------------
The reference fork runs the attention of ``sam2/modeling/sam/transformer.py`` (mask decoder
and memory attention) inside ``torch.backends.cuda.sdp_kernel(enable_flash=False,
enable_math=True, enable_mem_efficient=True)`` when CUDA is absent, which selects the MATH
scaled-dot-product backend on CPU (image-encoder attention keeps torch's default). sam2 1.1.0
has no such context. ``math_attention=None`` (default) reproduces that: MATH for those modules
when they run on CPU, torch's default on GPUs (the fork's choice on Ampere+ GPUs: flash).
``True`` forces MATH everywhere, ``False`` leaves torch's default (differs from the reference
by rounding on CPU).

Deviations from the reference (none is reached by its VOS flow)
--------------------------------------------------------------
* The root frame uses sam2 1.1.0's own memory choice; the reference uses only the conditioning
  frames there. Both are the same when the root directly follows the prompted frame, as in
  ``vos_inference``; the difference matters only when resuming a propagation after a frame
  not tracked by the tree.
* Backward tracking mirrors the forward rules (the reference tracks forward only).
* A prompted (conditioning) frame met in the middle of a propagation ends the tree; the next
  frame starts a new one (the reference fails there: it reads a non-conditioning output of the
  prompted frame).
* Several conditioning frames: each gets the conditioning weight (10) in the key re-weighting
  (the reference lists one weight whatever their number, which misaligns its weights); the
  per-frame token count is read from the memory (the reference assumes 64x64 = 4096 tokens,
  i.e. image size 1024, and fails at other sizes).
* The candidate count is read from the decoder (the reference assumes 3).
* ``fill_hole_area > 0`` fills holes in stored/yielded masks as sam2 1.1.0 does (the fork never
  does; the workbench sets it to 0 without sam2's CUDA extension).

Parameters
----------
The reference's names: ``num_pathway``, ``iou_thre``, ``uncertainty``. Defaults are those of its
``vos_inference`` functions and README command (3, 0.1, 2); its ``tools/vos_inference.py``
argparse defaults are different (``--iou_thre 0.3``, ``--uncertainty 1``).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from sam2.modeling.sam.transformer import Attention, RoPEAttention
from sam2.modeling.sam2_utils import get_1d_sine_pe, select_closest_cond_frames
from torch.nn.attention import SDPBackend, sdpa_kernel

from ....errors import BackendError, ConfigError
from .sam2long_tree import MemoryPlan, expand_and_prune, plan_memory
from .trace import TRACE_KEY, MemoryReads

REFERENCE = "Mark12Ding/SAM2Long@7193b77fa0c8827e0520ab281acd2cf394ab898e"
"""The reference implementation this policy reproduces."""

RECORD_KEY = "sam2long"
"""Key of the plain-data record in a tracked frame's output."""

ALT_KEYS = {
    "maskmem_features": "sam2long_alt_maskmem_features",
    "pred_masks": "sam2long_alt_pred_masks",
    "obj_ptr": "sam2long_alt_obj_ptr",
    "object_score_logits": "sam2long_alt_object_score_logits",
}
"""Keys of a tracked frame's output holding slots 1.. stacked on a new first dimension
(slot 0 is under sam2's own key)."""

COND_FRAME_SCORE = 10.0
"""Object score given to conditioning frames in the key re-weighting (reference value)."""


@dataclass(frozen=True)
class SAM2LongParams:
    """Settings of :class:`SAM2LongPolicy` (names as in the reference).

    Attributes
    ----------
    num_pathway : int
        Memory pathways kept per object (reference default 3; 1 = a single pathway with
        SAM2Long's memory selection and key re-weighting).
    iou_thre : float
        A frame enters a pathway's memory only if the predicted IoU of the candidate it
        picked there is above this (reference function default and README: 0.1; its argparse
        default: 0.3).
    uncertainty : float
        A frame is *certain* when some pathway's |object-score logit| exceeds this; otherwise
        survivors are chosen for diversity (reference function default and README: 2; its
        argparse default: 1).
    key_weight_low, key_weight_high : float
        Range of the memory-key re-weighting (reference: 0.95 and 1.05, hard-coded in
        ``MemoryAttentionLayer._forward_ca``); equal values switch it off (all 1.0).
    math_attention : bool or None
        Attention kernel of the mask decoder and memory attention (see the module
        docstring): None = as the reference (MATH on CPU, torch's default on GPUs).
    """

    num_pathway: int = 3
    iou_thre: float = 0.1
    uncertainty: float = 2.0
    key_weight_low: float = 0.95
    key_weight_high: float = 1.05
    math_attention: bool | None = None

    def __post_init__(self):
        n = self.num_pathway
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"num_pathway must be an integer >= 1; got {n!r}.")
        for name in ("iou_thre", "uncertainty", "key_weight_low", "key_weight_high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                raise ConfigError(f"{name} must be a number; got {v!r}.")
            object.__setattr__(self, name, float(v))
        if self.uncertainty < 0:
            raise ConfigError(
                f"uncertainty must be >= 0 (a threshold on |object-score logit|); got {self.uncertainty}."
            )
        if self.key_weight_low > self.key_weight_high:
            raise ConfigError(
                f"key_weight_low ({self.key_weight_low}) must not exceed key_weight_high ({self.key_weight_high})."
            )
        if self.math_attention is not None and not isinstance(self.math_attention, bool):
            raise ConfigError(f"math_attention must be True, False or None; got {self.math_attention!r}.")


def slot_value(out: Mapping, key: str, slot: int):
    """Tensor ``key`` (``maskmem_features``, ``pred_masks``, ``obj_ptr``,
    ``object_score_logits``) of stored slot ``slot`` of a frame's output (slot 0: sam2's key)."""
    if slot == 0:
        return out[key]
    alt = out.get(ALT_KEYS[key]) if hasattr(out, "get") else None
    if alt is None or slot > alt.shape[0]:
        raise BackendError(f"SAM2Long: a stored frame has no slot {slot} for {key!r} (state from another policy?).")
    return alt[slot - 1]


def frame_record(out) -> dict | None:
    """The SAM2Long record of a frame's output, None for frames not tracked by the tree."""
    if out is None:
        return None
    rec = out.get(RECORD_KEY)
    return rec if isinstance(rec, dict) else None


def memory_key_weights(
    frame_scores: list[torch.Tensor],
    frame_tokens: list[int],
    ptr_scores: list[torch.Tensor],
    tokens_per_ptr: int,
    low: float,
    high: float,
) -> torch.Tensor:
    """Per-token multipliers of the memory-attention keys, ``(B, n_tokens, 1)``.

    Reference: ``MemoryAttentionLayer._forward_ca`` in SAM2Long's
    ``sam2/modeling/memory_attention.py``. The memory frames' scores (``(B,)`` each) are
    ranked per object; the i-th smallest gets the i-th value of ``torch.linspace(low, high, n)``
    (``n = 1``: ``low``); every token of that frame gets it. The object pointers are weighted
    the same way among themselves, ``tokens_per_ptr`` tokens each. Computed with the reference's
    torch calls (stack, linspace, argsort, scatter) and dtypes, so the products with the keys are
    the reference's bit for bit; in particular the conditioning frames' score is a bfloat16 10,
    so a group whose only scores are those gets bfloat16 weights (a lone conditioning pointer:
    0.94921875, not 0.95), as in the reference.
    """

    def ranked(scores):
        w = torch.stack(scores, dim=1)
        ramp = torch.linspace(low, high, w.shape[1]).to(w)
        out = torch.zeros_like(w)
        out.scatter_(1, torch.argsort(w, dim=1), ramp.unsqueeze(0).repeat([w.shape[0], 1]))
        return out

    wf = ranked(frame_scores)
    b = wf.shape[0]
    parts = [wf[:, i : i + 1].expand(b, n) for i, n in enumerate(frame_tokens)]
    if ptr_scores:
        wp = ranked(ptr_scores).to(wf.device)
        parts += [wp[:, i : i + 1].expand(b, tokens_per_ptr) for i in range(wp.shape[1])]
    return torch.cat(parts, dim=1).unsqueeze(-1)


class _Call(NamedTuple):
    """One pathway's decoder call on a frame."""

    low_res_multimasks: torch.Tensor  # (1, M, S/4, S/4)
    high_res_multimasks: torch.Tensor  # (1, M, S, S)
    ious: torch.Tensor  # (1, M)
    object_score_logits: torch.Tensor  # (1, 1)
    obj_ptrs: torch.Tensor  # (1, M or 1, C)
    reads: MemoryReads  # the memories the call attended


class SAM2LongPolicy:
    """SAM2Long's memory tree for a sam2 1.1.0 ``SAM2VideoPredictor`` (see the module docstring).

    Parameters
    ----------
    params : SAM2LongParams, optional
        Settings; or give them as keyword arguments (``num_pathway=3``, ...).

    Raises
    ------
    ConfigError
        Bad settings, or both ``params`` and keyword arguments.
    """

    name = "sam2long"

    def __init__(self, params: SAM2LongParams | None = None, **kwargs):
        if params is not None and kwargs:
            raise ConfigError("Give SAM2Long settings either as params=SAM2LongParams(...) or as keywords, not both.")
        if params is None:
            names = {f.name for f in dataclasses.fields(SAM2LongParams)}
            unknown = sorted(set(kwargs) - names)
            if unknown:
                raise ConfigError(f"Unknown SAM2Long parameter(s) {unknown}; valid: {', '.join(sorted(names))}.")
            params = SAM2LongParams(**kwargs)
        self.params = params
        self._objects: dict[int, dict] = {}
        self._predictor: Any = None  # a sam2 SAM2VideoPredictor once installed
        self._orig_run: Any = None
        self._orig_prepare: Any = None
        self._handles: list = []
        self._patched: list = []
        self._plan: tuple | None = None
        self._capture = False
        self._tokens: torch.Tensor | None = None
        self._key_weights: torch.Tensor | None = None
        self._reads: MemoryReads | None = None

    # -- run cards / plain-data state -----------------------------------------------------------
    def params_dict(self) -> dict[str, Any]:
        """The settings by name (JSON-ready)."""
        return dataclasses.asdict(self.params)

    def policy_state(self) -> dict[str, Any]:
        """Deep copy of the current pathways of every object, as plain data:
        ``{"policy": "sam2long", "objects": {obj_id: {"tree", "reverse", "root", "anchor",
        "frame", "acc_score": [float] * num_pathway, "picks": [{frame: slot}] * num_pathway}}}``
        (pathway 0 first; ``picks`` include the prompted anchor frame, as the reference's
        ``mem_pick_indexs``)."""
        return {"policy": self.name, "objects": copy.deepcopy(self._objects)}

    def set_policy_state(self, state: Mapping[str, Any]) -> None:
        """Replace the pathways by (a deep copy of) a :meth:`policy_state` (JSON round trips,
        i.e. string keys, are accepted).

        Raises
        ------
        ConfigError
            Not a SAM2Long state.
        """
        if (
            not isinstance(state, Mapping)
            or state.get("policy") != self.name
            or not isinstance(state.get("objects"), Mapping)
        ):
            raise ConfigError("set_policy_state expects a state from SAM2LongPolicy.policy_state().")
        objects = {}
        try:
            for obj_id, st in state["objects"].items():
                objects[int(obj_id)] = {
                    "tree": str(st["tree"]),
                    "reverse": bool(st["reverse"]),
                    "root": int(st["root"]),
                    "anchor": int(st["anchor"]),
                    "frame": int(st["frame"]),
                    "acc_score": [float(v) for v in st["acc_score"]],
                    "picks": [{int(f): int(s) for f, s in p.items()} for p in st["picks"]],
                }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"Not a SAM2Long policy state: {exc!r}.") from exc
        self._objects = objects

    def reset(self) -> None:
        """Forget all pathways (new video or prompts cleared; records in an ``inference_state``
        are left to it)."""
        self._objects.clear()

    def forget_object(self, obj_id: int) -> None:
        """Forget the pathways of ``obj_id``."""
        self._objects.pop(int(obj_id), None)

    def output_slots(self, obj_id: int) -> dict[int, int]:
        """The reference's output rule: frame -> stored slot picked by the current best pathway
        (pathway 0), anchor frame included; empty before tracking."""
        st = self._objects.get(int(obj_id))
        return dict(st["picks"][0]) if st else {}

    def final_pred_masks(self, inference_state: dict, obj_id: int) -> dict[int, torch.Tensor]:
        """Low-resolution mask logits ``(1, 1, S/4, S/4)`` per frame along the current best
        pathway: what the reference writes after the whole video (its ``propagate_in_video``
        return value). Resize with the predictor's ``_get_orig_video_res_output``.

        Raises
        ------
        BackendError
            Unknown object, or a frame's output is missing.
        """
        if obj_id not in inference_state["obj_id_to_idx"]:
            raise BackendError(f"SAM2Long: object {obj_id!r} is not in this inference state.")
        od = inference_state["output_dict_per_obj"][inference_state["obj_id_to_idx"][obj_id]]
        masks = {}
        for frame, slot in sorted(self.output_slots(obj_id).items()):
            out = od["cond_frame_outputs"].get(frame)
            if out is None:
                out = od["non_cond_frame_outputs"].get(frame)
            if out is None:
                raise BackendError(f"SAM2Long: frame {frame} of object {obj_id} has no stored output.")
            masks[frame] = slot_value(out, "pred_masks", slot)
        return masks

    # -- teaching view ----------------------------------------------------------------------------
    def frame_scores(self, obj_id: int, frame_idx: int, output: Mapping) -> dict[str, float]:
        """The memory tree's scores on a tracked frame, from its record in ``output``:
        ``pathway_score_<k>`` (accumulated log predicted IoU of pathway ``k`` after the frame;
        pathway 0 made the output), ``pathway_iou_<k>`` (predicted IoU of the candidate pathway
        ``k`` kept there), ``selected_pathway`` (the pathway before the frame whose decoder call
        made the output; 0 on the tree's first frame), ``chosen_mask`` (that candidate's index)
        and ``certain`` (1.0 when some pathway's |object-score logit| exceeded ``uncertainty``;
        not on the first frame). Empty for frames not tracked by the tree (prompted frames)."""
        rec = frame_record(output)
        if rec is None:
            return {}
        scores: dict[str, float] = {}
        for k, v in enumerate(rec["acc_score"]):
            scores[f"pathway_score_{k}"] = float(v)
        for k, v in enumerate(rec["ious"]):
            scores[f"pathway_iou_{k}"] = float(v)
        scores["selected_pathway"] = float(rec["parent"][0]) if rec["parent"] else 0.0
        scores["chosen_mask"] = float(rec["candidate"][0])
        if rec["certain"] is not None:
            scores["certain"] = 1.0 if rec["certain"] else 0.0
        return scores

    # -- plugging in ----------------------------------------------------------------------------
    @property
    def predictor(self):
        """The predictor it is installed on (None when not installed)."""
        return self._predictor

    def install(self, predictor):
        """Make ``predictor`` (a built sam2 1.1.0 ``SAM2VideoPredictor``) track with this policy;
        returns it.

        Raises
        ------
        ConfigError
            The predictor already has a tracking policy, is the ``torch.compile`` variant
            (``SAM2VideoPredictorVOS``), or lacks sam2 1.1.0's methods.
        """
        if self._predictor is not None:
            raise ConfigError("This SAM2Long policy is already installed on a predictor; uninstall() it first.")
        if getattr(predictor, "tracking_policy", None) is not None:
            raise ConfigError(
                f"The predictor already tracks with policy "
                f"{getattr(predictor.tracking_policy, 'name', '?')!r}; one policy per predictor."
            )
        if type(predictor).__name__ == "SAM2VideoPredictorVOS":
            raise ConfigError(
                "SAM2Long cannot be installed on the torch.compile'd SAM2VideoPredictorVOS "
                "(vos_optimized=True); build the model with vos_optimized=False."
            )
        needed = (
            "_run_single_frame_inference",
            "_track_step",
            "_prepare_memory_conditioned_features",
            "_encode_new_memory",
            "_get_image_feature",
            "_get_maskmem_pos_enc",
            "memory_attention",
            "sam_mask_decoder",
            "obj_ptr_proj",
        )
        missing = [n for n in needed if not hasattr(predictor, n)]
        if missing:
            raise ConfigError(f"Not a sam2 1.1.0 SAM2VideoPredictor (missing {missing}).")
        self._predictor = predictor
        self._orig_run = predictor._run_single_frame_inference
        self._orig_prepare = predictor._prepare_memory_conditioned_features
        predictor._run_single_frame_inference = self._run_single_frame_inference
        predictor._prepare_memory_conditioned_features = self._prepare_memory_conditioned_features
        self._patched = [
            (predictor, "_run_single_frame_inference"),
            (predictor, "_prepare_memory_conditioned_features"),
        ]
        self._handles = [predictor.sam_mask_decoder.register_forward_hook(self._decoder_hook)]
        for layer in predictor.memory_attention.layers:
            if isinstance(getattr(layer, "cross_attn_image", None), RoPEAttention):
                self._handles.append(layer.cross_attn_image.register_forward_pre_hook(self._key_hook, with_kwargs=True))
        if self.params.math_attention is not False:
            for root in (predictor.sam_mask_decoder, predictor.memory_attention):
                for module in root.modules():
                    if isinstance(module, Attention):
                        module.forward = self._kernel_wrapper(module.forward)
                        self._patched.append((module, "forward"))
        predictor.tracking_policy = self
        self._patched.append((predictor, "tracking_policy"))
        return predictor

    def uninstall(self) -> None:
        """Give the predictor back its own behaviour (hooks removed, methods restored)."""
        for h in self._handles:
            h.remove()
        for obj, attr in self._patched:
            obj.__dict__.pop(attr, None)
        self._handles, self._patched = [], []
        self._predictor = self._orig_run = self._orig_prepare = None

    def _kernel_wrapper(self, forward):
        @functools.wraps(forward)
        def run(*args, **kwargs):
            q = args[0] if args else kwargs.get("q")
            math = self.params.math_attention
            if math is None:
                math = isinstance(q, torch.Tensor) and q.device.type == "cpu"
            if math:
                with sdpa_kernel(SDPBackend.MATH):
                    return forward(*args, **kwargs)
            return forward(*args, **kwargs)

        return run

    def _decoder_hook(self, module, args, output):
        if self._capture:
            self._tokens = output[2]

    def _key_hook(self, module, args, kwargs):
        w = self._key_weights
        if w is None:
            return None
        if "k" in kwargs:
            kwargs = dict(kwargs)
            kwargs["k"] = kwargs["k"] * w
            return args, kwargs
        args = (args[0], args[1] * w, *args[2:])
        return args, kwargs

    # -- tracking -------------------------------------------------------------------------------
    def _run_single_frame_inference(
        self,
        inference_state,
        output_dict,
        frame_idx,
        batch_size,
        is_init_cond_frame,
        point_inputs,
        mask_inputs,
        reverse,
        run_mem_encoder,
        prev_sam_mask_logits=None,
    ):
        """Replaces ``SAM2VideoPredictor._run_single_frame_inference`` (same signature and
        return value: the frame's compact output and its mask logits on the compute device)."""
        plain = (
            is_init_cond_frame
            or point_inputs is not None
            or mask_inputs is not None
            or not run_mem_encoder
            or prev_sam_mask_logits is not None
        )
        if plain:
            return self._orig_run(
                inference_state=inference_state,
                output_dict=output_dict,
                frame_idx=frame_idx,
                batch_size=batch_size,
                is_init_cond_frame=is_init_cond_frame,
                point_inputs=point_inputs,
                mask_inputs=mask_inputs,
                reverse=reverse,
                run_mem_encoder=run_mem_encoder,
                prev_sam_mask_logits=prev_sam_mask_logits,
            )
        if batch_size != 1:
            raise BackendError(f"SAM2Long tracks one object per call (sam2 1.1.0 does); got batch_size={batch_size}.")
        obj_id = self._object_id(inference_state, output_dict)
        step = -1 if reverse else 1
        pathways = self._pathways_before(obj_id, output_dict, frame_idx, step)
        if pathways is None:
            return self._root_frame(inference_state, output_dict, obj_id, frame_idx, bool(reverse))
        return self._tree_frame(inference_state, output_dict, obj_id, frame_idx, bool(reverse), pathways)

    @staticmethod
    def _object_id(inference_state, output_dict) -> int:
        for obj_idx, d in inference_state["output_dict_per_obj"].items():
            if d is output_dict:
                return int(inference_state["obj_idx_to_id"][obj_idx])
        raise BackendError("SAM2Long: the output dict being tracked belongs to no object of the inference state.")

    def _pathways_before(self, obj_id: int, output_dict, frame_idx: int, step: int) -> dict | None:
        """The pathways after frame ``frame_idx - step`` if that frame was tracked by a tree in
        this direction (from the cache, else rebuilt from the frames' records), else None."""
        non_cond = output_dict["non_cond_frame_outputs"]
        prev = frame_idx - step
        rec = frame_record(non_cond.get(prev))
        if rec is None or rec["reverse"] != (step < 0):
            return None
        st = self._objects.get(obj_id)
        if st is not None and st["tree"] == rec["tree"] and st["frame"] == prev and st["reverse"] == rec["reverse"]:
            return st
        # rebuild from the records (e.g. after an undo that restored only the inference state)
        records, f = {}, prev
        while True:
            r = frame_record(non_cond.get(f))
            if r is None or r["tree"] != rec["tree"]:
                return None
            records[f] = r
            if f == r["root"]:
                break
            f -= step
        picks = []
        for k in range(len(rec["acc_score"])):
            d, f, pathway = {rec["anchor"]: 0}, prev, k
            while True:
                r = records[f]
                d[f] = r["pathway_slot"][pathway]
                if f == r["root"]:
                    break
                pathway = r["parent"][pathway]
                f -= step
            picks.append(dict(sorted(d.items())))
        st = {
            "tree": rec["tree"],
            "reverse": rec["reverse"],
            "root": rec["root"],
            "anchor": rec["anchor"],
            "frame": prev,
            "acc_score": list(rec["acc_score"]),
            "picks": picks,
        }
        self._objects[obj_id] = st
        return st

    def _features(self, inference_state, frame_idx):
        _, _, feats, pos, sizes = self._predictor._get_image_feature(inference_state, frame_idx, 1)
        return feats, pos, sizes

    def _store(self, inference_state, masks):
        """(masks on the compute device, masks on the storage device), holes filled as sam2
        1.1.0 does when ``fill_hole_area > 0``."""
        pred = self._predictor
        storage = inference_state["storage_device"]
        if pred.fill_hole_area > 0:
            from sam2.utils.misc import fill_holes_in_mask_scores

            masks = fill_holes_in_mask_scores(masks, pred.fill_hole_area)
        return masks, masks.to(storage, non_blocking=True)

    def _root_frame(self, inference_state, output_dict, obj_id, frame_idx, reverse):
        """First tracked frame of a tree: sam2's own step (reference: ``mem_pick_index=0``)."""
        pred = self._predictor
        P = self.params.num_pathway
        step = -1 if reverse else 1
        feats, pos, sizes = self._features(inference_state, frame_idx)
        _, sam_outputs, _, _ = pred._track_step(
            frame_idx, False, feats, pos, sizes, None, None, output_dict, inference_state["num_frames"], reverse, None
        )
        _, _, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits = sam_outputs
        maskmem, maskmem_pos = pred._encode_new_memory(
            current_vision_feats=feats,
            feat_sizes=sizes,
            pred_masks_high_res=high_res_masks,
            object_score_logits=object_score_logits,
            is_mask_from_pts=False,
        )
        masks_gpu, masks = self._store(inference_state, low_res_masks)
        tree = uuid.uuid4().hex[:16]
        anchor = frame_idx - step
        record = {
            "tree": tree,
            "root": frame_idx,
            "anchor": anchor,
            "reverse": reverse,
            "ious": [float(ious.max(-1)[0].item())],
            "object_scores": [float(object_score_logits.item())],
            "acc_score": [0.0] * P,
            "parent": None,
            "candidate": [int(ious.argmax(-1).item())],
            "pathway_slot": [0] * P,
            "certain": None,
        }
        out = {
            "maskmem_features": maskmem.to(torch.bfloat16).to(inference_state["storage_device"], non_blocking=True),
            "maskmem_pos_enc": pred._get_maskmem_pos_enc(inference_state, {"maskmem_pos_enc": maskmem_pos}),
            "pred_masks": masks,
            "obj_ptr": obj_ptr,
            "object_score_logits": object_score_logits,
            RECORD_KEY: record,
        }
        self._objects[obj_id] = {
            "tree": tree,
            "reverse": reverse,
            "root": frame_idx,
            "anchor": anchor,
            "frame": frame_idx,
            "acc_score": [0.0] * P,
            "picks": [dict(sorted({anchor: 0, frame_idx: 0}.items())) for _ in range(P)],
        }
        return out, masks_gpu

    def _tree_frame(self, inference_state, output_dict, obj_id, frame_idx, reverse, pathways):
        """A frame after the root: one decoder call per pathway, expand, prune, store slots."""
        pred = self._predictor
        prm = self.params
        step = -1 if reverse else 1
        num_frames = inference_state["num_frames"]
        storage = inference_state["storage_device"]
        non_cond = output_dict["non_cond_frame_outputs"]
        root = pathways["root"]

        def reliable(frame: int, slot: int) -> bool:
            rec = frame_record(non_cond.get(frame))
            if rec is None:  # only reachable with a hand-edited state
                return True
            return rec["ious"][slot] > prm.iou_thre and rec["object_scores"][slot] > 0

        max_ptrs = min(num_frames, pred.max_obj_ptrs_in_encoder)
        feats, pos, sizes = self._features(inference_state, frame_idx)
        calls: list[_Call] = []
        by_plan: dict[MemoryPlan, _Call] = {}
        for picks in pathways["picks"]:
            plan = plan_memory(frame_idx, step, root, picks, reliable, pred.num_maskmem, max_ptrs)
            if plan not in by_plan:  # pathways with the same memory give the same call: run it once
                by_plan[plan] = self._pathway_call(plan, output_dict, frame_idx, feats, pos, sizes, num_frames, reverse)
            calls.append(by_plan[plan])

        object_scores = [float(c.object_score_logits.item()) for c in calls]
        kept = expand_and_prune(
            pathways["acc_score"], [c.ious[0].tolist() for c in calls], object_scores, prm.num_pathway, prm.uncertainty
        )

        encoded: dict[tuple[int, int], tuple[torch.Tensor, list]] = {}
        slots = []
        for ext in kept:
            call, j = calls[ext.parent], ext.candidate
            key = (id(call), j)
            if key not in encoded:
                mem, mem_pos = pred._encode_new_memory(
                    current_vision_feats=feats,
                    feat_sizes=sizes,
                    pred_masks_high_res=call.high_res_multimasks[:, j : j + 1],
                    object_score_logits=call.object_score_logits,
                    is_mask_from_pts=False,
                )
                encoded[key] = (mem.to(torch.bfloat16).to(storage, non_blocking=True), mem_pos)
            ptr = call.obj_ptrs[:, j] if call.obj_ptrs.shape[1] > 1 else call.obj_ptrs[:, 0]
            # clones: a slot must not keep its call's other candidates alive
            slots.append(
                (encoded[key][0], call.low_res_multimasks[:, j : j + 1].clone(), ptr.clone(), call.object_score_logits)
            )
        first = next(iter(encoded.values()))
        maskmem_pos = pred._get_maskmem_pos_enc(inference_state, {"maskmem_pos_enc": first[1]})
        masks_gpu, masks = self._store(inference_state, slots[0][1])
        out = {
            "maskmem_features": slots[0][0],
            "maskmem_pos_enc": maskmem_pos,
            "pred_masks": masks,
            "obj_ptr": slots[0][2],
            "object_score_logits": slots[0][3],
        }
        if len(slots) > 1:
            out[ALT_KEYS["maskmem_features"]] = torch.stack([s[0] for s in slots[1:]])
            out[ALT_KEYS["pred_masks"]] = torch.stack([self._store(inference_state, s[1])[1] for s in slots[1:]])
            out[ALT_KEYS["obj_ptr"]] = torch.stack([s[2] for s in slots[1:]])
            out[ALT_KEYS["object_score_logits"]] = torch.stack([s[3] for s in slots[1:]])
        out[RECORD_KEY] = {
            "tree": pathways["tree"],
            "root": root,
            "anchor": pathways["anchor"],
            "reverse": reverse,
            "ious": [float(calls[e.parent].ious[0, e.candidate].item()) for e in kept],
            "object_scores": [object_scores[e.parent] for e in kept],
            "acc_score": [e.score for e in kept],
            "parent": [e.parent for e in kept],
            "candidate": [e.candidate for e in kept],
            "pathway_slot": list(range(len(kept))),
            "certain": max(abs(s) for s in object_scores) > prm.uncertainty,
        }
        out[TRACE_KEY] = calls[kept[0].parent].reads.as_record()  # what the output's pathway attended
        new_picks = []
        for e in kept:
            d = dict(pathways["picks"][e.parent])
            d[frame_idx] = e.slot
            new_picks.append(d)
        self._objects[obj_id] = {
            **pathways,
            "frame": frame_idx,
            "acc_score": [e.score for e in kept],
            "picks": new_picks,
        }
        return out, masks_gpu

    def _pathway_call(self, plan, output_dict, frame_idx, feats, pos, sizes, num_frames, reverse) -> _Call:
        pred = self._predictor
        self._plan = (plan, frame_idx)
        self._capture, self._tokens, self._reads = True, None, None
        try:
            _, sam_outputs, _, _ = pred._track_step(
                frame_idx, False, feats, pos, sizes, None, None, output_dict, num_frames, reverse, None
            )
        finally:
            self._plan, self._capture = None, False
        tokens, self._tokens = self._tokens, None
        reads, self._reads = self._reads, None
        if reads is None:
            raise BackendError("SAM2Long: the pathway's memory was not gathered by the policy (method replaced?).")
        low_res_multimasks, high_res_multimasks, ious, _, _, _, object_score_logits = sam_outputs
        if tokens is None:
            raise BackendError("SAM2Long: the mask decoder's output tokens were not seen (hook removed?).")
        # all candidates' object pointers (sam2 keeps only the best one's); reference:
        # SAM2Base._forward_sam_heads, "SAM2Long" block (hard object-presence gate)
        obj_ptrs = pred.obj_ptr_proj(tokens)
        if pred.pred_obj_scores:
            lam = (object_score_logits > 0).float()[:, None]
            obj_ptrs = lam * obj_ptrs
            obj_ptrs = obj_ptrs + (1 - lam) * pred.no_obj_ptr
        return _Call(low_res_multimasks, high_res_multimasks, ious, object_score_logits, obj_ptrs, reads)

    def _prepare_memory_conditioned_features(
        self,
        frame_idx,
        is_init_cond_frame,
        current_vision_feats,
        current_vision_pos_embeds,
        feat_sizes,
        output_dict,
        num_frames,
        track_in_reverse=False,
    ):
        """Replaces ``SAM2Base._prepare_memory_conditioned_features``: a pathway's memory while
        the policy runs its decoder call, sam2's own otherwise."""
        ctx, pred = self._plan, self._predictor
        if ctx is None or ctx[1] != frame_idx or is_init_cond_frame or pred.num_maskmem == 0:
            return self._orig_prepare(
                frame_idx=frame_idx,
                is_init_cond_frame=is_init_cond_frame,
                current_vision_feats=current_vision_feats,
                current_vision_pos_embeds=current_vision_pos_embeds,
                feat_sizes=feat_sizes,
                output_dict=output_dict,
                num_frames=num_frames,
                track_in_reverse=track_in_reverse,
            )
        plan: MemoryPlan = ctx[0]
        B = current_vision_feats[-1].size(1)
        C = pred.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        cond_outputs = output_dict["cond_frame_outputs"]
        if not cond_outputs:
            raise BackendError("SAM2Long: no conditioning frame to track from (prompt a frame first).")
        selected, unselected = select_closest_cond_frames(frame_idx, cond_outputs, pred.max_cond_frames_in_attn)
        non_cond = output_dict["non_cond_frame_outputs"]

        def lookup(frame):
            out = non_cond.get(frame)
            return unselected.get(frame) if out is None else out

        cond_score = torch.ones(B).to(device, torch.bfloat16) * COND_FRAME_SCORE
        memory, memory_pos, frame_scores, frame_tokens = [], [], [], []
        read_cond: list[int] = []  # frames attended (the teaching view)
        read_non_cond: list[int] = []
        read_ptr: list[int] = []
        entries: list[tuple[int, int, Any, int | None]] = [(0, t, out, None) for t, out in selected.items()]
        entries += [(t, f, lookup(f), s) for t, f, s in plan.memory]
        for t_pos, frame, out, slot in entries:
            if out is None:
                continue
            (read_cond if slot is None else read_non_cond).append(int(frame))
            if slot is None:
                feats = out["maskmem_features"]
                frame_scores.append(cond_score)
            else:
                feats = slot_value(out, "maskmem_features", slot)
                frame_scores.append(slot_value(out, "object_score_logits", slot).view(-1))
            feats = feats.to(device, non_blocking=True)
            memory.append(feats.flatten(2).permute(2, 0, 1))
            frame_tokens.append(memory[-1].shape[0])
            enc = out["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + pred.maskmem_tpos_enc[pred.num_maskmem - t_pos - 1])

        num_obj_ptr_tokens, ptr_scores, tokens_per_ptr = 0, [], 1
        if pred.use_obj_ptrs_in_encoder:
            max_ptrs = min(num_frames, pred.max_obj_ptrs_in_encoder)
            if not pred.training and pred.only_obj_ptrs_in_the_past_for_eval:
                ptr_cond = {
                    t: out for t, out in selected.items() if (t >= frame_idx if track_in_reverse else t <= frame_idx)
                }
            else:
                ptr_cond = selected
            pos_and_ptrs = [(abs(frame_idx - t), out["obj_ptr"]) for t, out in ptr_cond.items()]
            ptr_scores = [cond_score for _ in ptr_cond]
            read_ptr.extend(int(t) for t in ptr_cond)
            for t_diff, frame, slot in plan.pointers:
                out = lookup(frame)
                if out is None:
                    continue
                read_ptr.append(int(frame))
                ptr_scores.append(slot_value(out, "object_score_logits", slot).view(-1))
                pos_and_ptrs.append((t_diff, slot_value(out, "obj_ptr", slot)))
            if pos_and_ptrs:
                pos_list, ptrs_list = zip(*pos_and_ptrs)
                obj_ptrs = torch.stack(ptrs_list, dim=0)
                if pred.add_tpos_enc_to_obj_ptrs:
                    t_diff_max = max_ptrs - 1
                    tpos_dim = C if pred.proj_tpos_enc_in_obj_ptrs else pred.mem_dim
                    obj_pos = torch.tensor(pos_list).to(device=device, non_blocking=True)
                    obj_pos = get_1d_sine_pe(obj_pos / t_diff_max, dim=tpos_dim)
                    obj_pos = pred.obj_ptr_tpos_proj(obj_pos)
                    obj_pos = obj_pos.unsqueeze(1).expand(-1, B, pred.mem_dim)
                else:
                    obj_pos = obj_ptrs.new_zeros(len(pos_list), B, pred.mem_dim)
                if pred.mem_dim < C:
                    tokens_per_ptr = C // pred.mem_dim
                    obj_ptrs = obj_ptrs.reshape(-1, B, tokens_per_ptr, pred.mem_dim)
                    obj_ptrs = obj_ptrs.permute(0, 2, 1, 3).flatten(0, 1)
                    obj_pos = obj_pos.repeat_interleave(tokens_per_ptr, dim=0)
                memory.append(obj_ptrs)
                memory_pos.append(obj_pos)
                num_obj_ptr_tokens = obj_ptrs.shape[0]
            else:
                ptr_scores = []

        self._reads = MemoryReads(self.name, tuple(read_cond), tuple(read_non_cond), tuple(read_ptr))
        weights = None
        if len(frame_scores) > 1:  # reference: no re-weighting with a single memory frame
            weights = memory_key_weights(
                frame_scores,
                frame_tokens,
                ptr_scores,
                tokens_per_ptr,
                self.params.key_weight_low,
                self.params.key_weight_high,
            ).to(device)
        self._key_weights = weights
        try:
            pix_feat_with_mem = pred.memory_attention(
                curr=current_vision_feats,
                curr_pos=current_vision_pos_embeds,
                memory=torch.cat(memory, dim=0),
                memory_pos=torch.cat(memory_pos, dim=0),
                num_obj_ptr_tokens=num_obj_ptr_tokens,
            )
        finally:
            self._key_weights = None
        return pix_feat_with_mem.permute(1, 2, 0).view(B, C, H, W)


def apply_sam2long(predictor, params: SAM2LongParams | None = None, **kwargs) -> SAM2LongPolicy:
    """Install SAM2Long on a built sam2 1.1.0 ``SAM2VideoPredictor`` (e.g. from
    :func:`workbench.backends.sam2.loading.build_sam2_model` with ``mode="video"``) and return
    the policy (also reachable as ``predictor.tracking_policy``).

    Raises
    ------
    ConfigError
        Bad settings or predictor (see :meth:`SAM2LongPolicy.install`).
    """
    policy = SAM2LongPolicy(params, **kwargs)
    policy.install(predictor)
    return policy


__all__ = [
    "ALT_KEYS",
    "COND_FRAME_SCORE",
    "RECORD_KEY",
    "REFERENCE",
    "SAM2LongParams",
    "SAM2LongPolicy",
    "apply_sam2long",
    "frame_record",
    "memory_key_weights",
    "slot_value",
]
